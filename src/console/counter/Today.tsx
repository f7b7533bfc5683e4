// Today's fulfilments at this shop (today in the bank's time zone), newest first, with their total;
// a fulfilled voucher can be refunded from here. The API filters redemptions by when they were
// created, so the page asks for those created within the longest voucher validity of the shop's
// items (a voucher is fulfilled before it expires) and keeps the ones fulfilled today.
import { useEffect, useState } from 'preact/hooks';
import { gql } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { bankTimeZone, formatAmount, formatTime } from '../shared/format.js';
import { Alert, ErrorAlert, Spinner } from '../shared/ui.js';
import { catalogQuery, redemptionsQuery, type Connection, type Item, type Voucher } from './queries.js';
import { RefundSheet } from './RefundSheet.js';
import { OutcomeScreen } from './Outcome.js';
import { displayCode } from './voucherCode.js';
import { sumAmounts } from './sumAmounts.js';

/** Pages of redemptions read at most per status: a day at a busy shop fits; more is said on screen. */
const pagesMax = 5;
/** Redemptions per page: the API's largest page. */
const pageSize = 200;
/** A voucher is valid at most this many days (the API's voucherValidDaysMax). */
const validDaysMax = 365;

/** The start of today in the bank's time zone, as an instant. */
export function startOfBankDay(now = new Date()): Date {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: bankTimeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(now).map((p) => [p.type, Number(p.value)]));
  const sinceMidnightMs = ((parts.hour! * 60 + parts.minute!) * 60 + parts.second!) * 1000 + now.getMilliseconds();
  return new Date(now.getTime() - sinceMidnightMs);
}

interface Loaded { fulfilled: Voucher[]; complete: boolean }

async function loadToday(): Promise<Loaded> {
  const dayStart = startOfBankDay();
  const { catalog } = await gql<{ catalog: Connection<Item> }>(catalogQuery, {});
  const validDays = Math.min(validDaysMax, Math.max(1, ...catalog.edges.map((e) => e.node.voucherValidDays)));
  const from = new Date(dayStart.getTime() - validDays * 86_400_000).toISOString();
  let complete = !catalog.pageInfo.hasNextPage || validDays === validDaysMax;
  const read = async (status: 'FULFILLED' | 'REFUNDED') => {
    const found: Voucher[] = [];
    let after: string | null = null;
    for (let page = 0; page < pagesMax; page++) {
      const { redemptions }: { redemptions: Connection<Voucher> } = await gql(redemptionsQuery, { status, from, first: pageSize, after });
      found.push(...redemptions.edges.map((e) => e.node));
      if (!redemptions.pageInfo.hasNextPage) return found;
      after = redemptions.pageInfo.endCursor;
    }
    complete = false;
    return found;
  };
  const [fulfilled, refunded] = await Promise.all([read('FULFILLED'), read('REFUNDED')]);
  const today = [...fulfilled, ...refunded].filter((v) => v.fulfilledAt && Date.parse(v.fulfilledAt) >= dayStart.getTime());
  today.sort((a, b) => Date.parse(b.fulfilledAt!) - Date.parse(a.fulfilledAt!));
  return { fulfilled: today, complete };
}

export function Today() {
  const [state, setState] = useState<{ loading: boolean; data?: Loaded; error?: unknown }>({ loading: true });
  const [refunding, setRefunding] = useState<Voucher | null>(null);
  const [refunded, setRefunded] = useState<Voucher | null>(null);
  const load = () => {
    setState((s) => ({ ...s, loading: true, error: undefined }));
    loadToday().then((data) => setState({ loading: false, data }), (error) => setState((s) => ({ ...s, loading: false, error })));
  };
  useEffect(load, []);

  if (refunded) return <OutcomeScreen outcome={{ kind: 'refunded', voucher: refunded }} nextLabel={t('counter.today.back')} onNext={() => { setRefunded(null); load(); }} />;
  if (refunding) {
    return <RefundSheet voucher={refunding} onCancel={() => setRefunding(null)} onDone={(v) => { setRefunding(null); setRefunded(v); }} />;
  }
  const list = state.data?.fulfilled ?? [];
  const kept = list.filter((v) => v.status === 'FULFILLED');
  return (
    <section class="today" aria-labelledby="today-title">
      <div class="section-head">
        <h2 id="today-title">{t('counter.today.title')}</h2>
        <button type="button" class="btn btn-link" onClick={load} disabled={state.loading}>{t('counter.refresh')}</button>
      </div>
      {state.data && (
        <div class="stats" data-testid="today-summary">
          <div><strong>{kept.length}</strong><span>{t('counter.today.count')}</span></div>
          <div><strong>{formatAmount(sumAmounts(kept.map((v) => v.cost)))}</strong><span>{t('counter.today.points')}</span></div>
        </div>
      )}
      {state.error ? <ErrorAlert error={state.error} /> : null}
      {state.loading && !state.data && <Spinner />}
      {state.data && !list.length && <div class="empty">{t('counter.today.none')}</div>}
      {state.data && !state.data.complete && <Alert kind="info">{t('counter.today.partial')}</Alert>}
      <ul class="list" data-testid="today-list">
        {list.map((v) => (
          <li key={v.code} class={`list-item${v.status === 'REFUNDED' ? ' list-item-muted' : ''}`}>
            <div class="list-main">
              <div class="list-title">{v.item.title}{v.quantity > 1 ? ` × ${v.quantity}` : ''}</div>
              <div class="list-sub"><span class="mono">{displayCode(v.code)}</span> · {formatTime(v.fulfilledAt)}</div>
            </div>
            <div class="list-side">
              <div class="list-amount">{t('counter.points', { amount: formatAmount(v.cost) })}</div>
              {v.status === 'REFUNDED'
                ? <span class="tag tag-muted">{t('counter.status.REFUNDED')}</span>
                : <button type="button" class="btn btn-small" onClick={() => setRefunding(v)} aria-label={`${t('counter.refund.open')} ${v.item.title} ${displayCode(v.code)}`}>{t('counter.refund.open')}</button>}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
