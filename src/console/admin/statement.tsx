// A statement on a console page (a member's or a household's): the period chosen by first and last
// month (from January of this year to this month at first), the totals per asset and the movements,
// as the API's Statement gives them. An API client like the pages: nothing reaches the domain.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { t } from '../shared/i18n.js';
import { bankToday, formatAmount, formatDateTime } from '../shared/format.js';
import { Alert, Button, Empty } from '../shared/ui.js';
import { label } from './kit.js';

export interface Statement {
  from?: string; to?: string; movementsTruncated: boolean;
  totals: { asset: string; opening: string; net: string; closing: string; postings: number }[];
  movements: { transactionId: string; kind: string; occurredAt: string; asset: string; amount: string; category: string; memo: string | null }[];
}

/** The statement's fields for a query: `statement(period: $period) { … }`. */
export const statementFields = 'from to movementsTruncated totals { asset opening net closing postings } movements { transactionId kind occurredAt asset amount category memo }';

export function monthOf(date: { year: number; month: number }): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}`;
}

/** The months typed and the period applied (a ReportPeriod): apply() checks the months first. */
export function useStatementPeriod() {
  const today = bankToday();
  const [from, setFrom] = useState(`${today.year}-01`);
  const [to, setTo] = useState(monthOf(today));
  const [period, setPeriod] = useState({ fromMonth: from, toMonth: to });
  const [error, setError] = useState<string | null>(null);
  const apply = () => {
    if (!/^\d{4}-\d{2}$/.test(from) || !/^\d{4}-\d{2}$/.test(to) || from > to) {
      setError(t('console.members.periodInvalid'));
      return;
    }
    setError(null);
    setPeriod({ fromMonth: from, toMonth: to });
  };
  return { from, setFrom, to, setTo, period, error, apply };
}

/** The first and last month of a statement, and its button; children add more buttons (a download, say). */
export function StatementPeriodForm({ state, idPrefix, children }: { state: ReturnType<typeof useStatementPeriod>; idPrefix: string; children?: ComponentChildren }) {
  return (
    <>
      <form class="filters filters-plain" onSubmit={(e) => { e.preventDefault(); state.apply(); }} noValidate>
        <div class="filter"><label for={`${idPrefix}-from`}>{t('console.members.fromMonth')}</label><input id={`${idPrefix}-from`} type="month" class="input" value={state.from} onInput={(e) => state.setFrom((e.target as HTMLInputElement).value)} aria-invalid={state.error ? 'true' : undefined} /></div>
        <div class="filter"><label for={`${idPrefix}-to`}>{t('console.members.toMonth')}</label><input id={`${idPrefix}-to`} type="month" class="input" value={state.to} onInput={(e) => state.setTo((e.target as HTMLInputElement).value)} aria-invalid={state.error ? 'true' : undefined} /></div>
        <div class="filter filter-button"><Button type="submit">{t('console.members.showStatement')}</Button></div>
        {children}
      </form>
      {state.error && <div class="field-message" role="alert">{state.error}</div>}
    </>
  );
}

/** The totals per asset and the movements of a statement. */
export function StatementTables({ statement, movementsTestId }: { statement: Statement; movementsTestId: string }) {
  return (
    <>
      <table class="table">
        <thead><tr><th>{t('console.asset')}</th><th class="num">{t('console.members.opening')}</th><th class="num">{t('console.members.net')}</th><th class="num">{t('console.members.closing')}</th><th class="num">{t('console.members.postings')}</th></tr></thead>
        <tbody>{statement.totals.map((s) => (
          <tr key={s.asset}><td>{label('console.asset', s.asset)}</td><td class="num">{formatAmount(s.opening)}</td><td class="num">{formatAmount(s.net)}</td><td class="num">{formatAmount(s.closing)}</td><td class="num">{s.postings}</td></tr>
        ))}</tbody>
      </table>
      <h3 class="section-gap">{t('console.members.movements')}</h3>
      {statement.movements.length === 0 ? <Empty /> : (
        <div class="table-wrap">
          <table class="table" data-testid={movementsTestId}>
            <thead><tr><th>{t('console.members.when')}</th><th>{t('console.members.kind')}</th><th>{t('console.rules.category')}</th><th>{t('console.asset')}</th><th class="num">{t('console.members.amount')}</th><th>{t('console.members.memo')}</th></tr></thead>
            <tbody>{statement.movements.map((m, i) => (
              <tr key={`${m.transactionId}-${i}`}><td>{formatDateTime(m.occurredAt)}</td><td>{label('console.kind', m.kind)}</td><td>{label('console.category', m.category)}</td><td>{label('console.asset', m.asset)}</td>
                <td class={`num ${m.amount.startsWith('-') ? 'amount-neg' : 'amount-pos'}`}>{formatAmount(m.amount)}</td><td>{m.memo ?? ''}</td></tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {statement.movementsTruncated && <Alert kind="info">{t('console.members.truncated')}</Alert>}
    </>
  );
}
