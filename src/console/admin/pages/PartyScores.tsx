// Party scores (党员积分): a branch subtree's ranking for a year with the breakdown by category,
// closing or reopening the year (closeScoreYear / reopenScoreYear; reopening needs a reason and a
// head-bank admin), and the CSV and Excel exports, fetched with the token (a plain link cannot carry it).
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { downloadWithToken, gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { bankToday, formatAmount, formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Tag, label, useLoad } from '../kit.js';

interface Score { rank: number; total: string; member: { id: string; name: string; externalId: string; branch: { name: string } }; breakdown: { category: string; amount: string }[] }
interface Closure { id: string; year: number; closedBy: string; closedAt: string; reopenedBy: string | null; reopenedAt: string | null; reopenReason: string | null; branch: { code: string; name: string } }

/** Scores read per page: a party branch rarely has more members than this. */
const scoresPageSize = 100;

const scoresQuery = `query PartyScores($branch: String!, $period: ReportPeriod!, $first: Int!, $after: String) {
  partyScores(branch: $branch, period: $period, first: $first, after: $after) {
    totalCount
    edges { node { rank total member { id name externalId branch { name } } breakdown { category amount } } }
    pageInfo { hasNextPage endCursor }
  }
  scoreYearClosures(branch: $branch) { id year closedBy closedAt reopenedBy reopenedAt reopenReason branch { code name } }
}`;

export function PartyScoresPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [year, setYear] = useState(bankToday().year);
  const [after, setAfter] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [reasonError, setReasonError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const keys = useRef<Record<string, string>>({});
  const state = useLoad(() => gql<{ partyScores: { totalCount: number; edges: { node: Score }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }; scoreYearClosures: Closure[] }>(
    scoresQuery, { branch, period: { year }, first: scoresPageSize, after }), [branch, year, after]);

  const yearAction = useAction(async (close: boolean) => {
    const id = `${close ? 'close' : 'reopen'}:${branch}:${year}:${close ? '' : reason.trim()}`;
    const key = (keys.current[id] ??= newKey(close ? 'year-close' : 'year-reopen'));
    if (close) {
      await gql(`mutation Close($input: CloseScoreYearInput!) { closeScoreYear(input: $input) { closure { id } } }`, { input: { idempotencyKey: key, branch, year } });
    } else {
      await gql(`mutation Reopen($input: ReopenScoreYearInput!) { reopenScoreYear(input: $input) { closure { id } } }`, { input: { idempotencyKey: key, branch, year, reason: reason.trim() } });
      setReason('');
    }
    setDone(t(close ? 'console.scores.closedDone' : 'console.scores.reopenedDone', { year }));
    state.reload();
  });
  const download = useAction((ext: 'csv' | 'xlsx') => downloadWithToken(`/exports/party-scores.${ext}?branch=${encodeURIComponent(branch)}&year=${year}`, `party-scores-${branch}-${year}.${ext}`));

  return (
    <>
      <PageHeader title={t('console.menu.scores')}>
        <Button onClick={() => void download.run('csv')} busy={download.busy} data-testid="download-csv">{t('console.scores.download')}</Button>
        <Button onClick={() => void download.run('xlsx')} busy={download.busy} data-testid="download-xlsx">{t('console.scores.downloadXlsx')}</Button>
      </PageHeader>
      <ErrorAlert error={download.error} />
      <Filters>
        <BranchSelect session={session} value={branch} onChange={(b) => { setBranch(b); setAfter(null); setDone(null); }} />
        <div class="filter">
          <label for="score-year">{t('console.year')}</label>
          <input id="score-year" type="number" class="input input-year" min={2000} max={bankToday().year} value={year}
            onChange={(e) => { const y = Number((e.target as HTMLInputElement).value); if (Number.isInteger(y) && y >= 2000) { setYear(y); setAfter(null); setDone(null); } }} />
        </div>
      </Filters>
      {done && <Alert kind="success" testId="year-done">{done}</Alert>}
      <Loaded state={state}>{(data) => {
        const closure = data.scoreYearClosures.find((c) => c.year === year && !c.reopenedAt);
        const history = data.scoreYearClosures.filter((c) => c.year === year);
        const scores = data.partyScores.edges.map((e) => e.node);
        const categories = [...new Set(scores.flatMap((s) => s.breakdown.map((b) => b.category)))].sort();
        return (
          <>
            <section class="card">
              <div class="card-head">
                <h2>{t('console.scores.yearState', { year })}{' '}
                  {closure ? <Tag kind="gray">{t('console.scores.closed')}</Tag> : <Tag kind="green">{t('console.scores.open')}</Tag>}
                </h2>
              </div>
              {closure && <p class="muted" data-testid="closed-note">{t('console.scores.closedBy', { who: closure.closedBy, when: formatDateTime(closure.closedAt), branch: closure.branch.name })}</p>}
              <ErrorAlert error={yearAction.error} />
              {!closure ? (
                <Button kind="danger" busy={yearAction.busy} onClick={() => void yearAction.run(true)} data-testid="close-year">{t('console.scores.close', { year })}</Button>
              ) : (
                <form class="filters filters-plain" noValidate onSubmit={(e) => {
                  e.preventDefault();
                  if (!reason.trim()) { setReasonError(t('common.required', { field: t('console.scores.reopenReason') })); return; }
                  setReasonError(null);
                  void yearAction.run(false);
                }}>
                  <div class={`filter filter-wide${reasonError ? ' field-error' : ''}`}>
                    <label for="reopen-reason">{t('console.scores.reopenReason')}</label>
                    <input id="reopen-reason" class="input" value={reason} maxLength={500} aria-invalid={reasonError ? 'true' : undefined} aria-describedby={reasonError ? 'reopen-reason-error' : 'reopen-reason-hint'}
                      onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
                    {reasonError ? <div class="field-message" id="reopen-reason-error">{reasonError}</div> : <div class="field-hint" id="reopen-reason-hint">{t('console.scores.reopenHint')}</div>}
                  </div>
                  <div class="filter filter-button"><Button type="submit" busy={yearAction.busy} data-testid="reopen-year">{t('console.scores.reopen')}</Button></div>
                </form>
              )}
              {history.some((c) => c.reopenedAt) && (
                <ul class="history">{history.filter((c) => c.reopenedAt).map((c) => (
                  <li key={c.id}>{t('console.scores.reopenedBy', { who: c.reopenedBy ?? '', when: formatDateTime(c.reopenedAt), reason: c.reopenReason ?? '' })}</li>
                ))}</ul>
              )}
            </section>
            <section class="card">
              <h2>{t('console.scores.ranking', { count: data.partyScores.totalCount })}</h2>
              {scores.length === 0 ? <Empty /> : (
                <div class="table-wrap">
                  <table class="table" data-testid="scores-table">
                    <thead><tr><th class="num">{t('console.scores.rank')}</th><th>{t('console.members.name')}</th><th>{t('console.branch')}</th><th class="num">{t('console.scores.total')}</th>
                      {categories.map((c) => <th key={c} class="num">{label('console.category', c)}</th>)}</tr></thead>
                    <tbody>{scores.map((s) => (
                      <tr key={s.member.id}><td class="num">{s.rank}</td><td><a href={`#/members/${s.member.id}`}>{s.member.name}</a></td><td>{s.member.branch.name}</td>
                        <td class={`num strong ${s.total.startsWith('-') ? 'amount-neg' : ''}`}>{formatAmount(s.total)}</td>
                        {categories.map((c) => <td key={c} class="num">{formatAmount(s.breakdown.find((b) => b.category === c)?.amount ?? '0')}</td>)}</tr>
                    ))}</tbody>
                  </table>
                </div>
              )}
              {data.partyScores.pageInfo.hasNextPage && <Button onClick={() => setAfter(data.partyScores.pageInfo.endCursor)}>{t('common.more')}</Button>}
            </section>
          </>
        );
      }}</Loaded>
    </>
  );
}
