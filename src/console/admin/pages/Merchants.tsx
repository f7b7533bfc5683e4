// Merchants (爱心商户) of a branch subtree in scope and what each offers (its catalog, active or not),
// and the crowdfunding pools (积分众筹) with their progress: an admin disburses a funded pool to a
// merchant, or closes an open or funded pool (every donation goes back), one action each.
import { useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { gql, newKey } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { formatAmount, formatDate, formatDateTime } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, Progress, Tag, label, useLoad, type TagKind } from '../kit.js';

interface Merchant { id: string; name: string; createdAt: string; branch: { code: string; name: string }; account: { balance: string } | null }
interface Item {
  id: string; code: string; title: string; category: string; cost: string; stockLeft: number | null; activeNow: boolean;
  limitPerMember: number | null; limitWindow: string | null; visibleTo: { name: string }; voucherValidDays: number;
}

/** Merchants and items per page: a branch's shops and their offers fit on one. */
const listPageSize = 50;
/** Catalog items read for the merchants list's "offers" column, and titles shown per merchant. */
const offersRead = 100;
const offersShown = 3;

const merchantsQuery = `query Merchants($branch: String!, $first: Int!, $after: String) {
  merchants(branch: $branch, first: $first, after: $after) {
    edges { node { id name createdAt branch { code name } account { balance } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** All merchants of a branch subtree (the pool payout picks one), a page at a time up to a bound. */
async function loadMerchants(branch: string, after: string | null) {
  return (await gql<{ merchants: { edges: { node: Merchant }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(merchantsQuery, { branch, first: listPageSize, after })).merchants;
}

export function MerchantsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [after, setAfter] = useState<string | null>(null);
  const state = useLoad(async () => {
    // What each merchant offers, from the catalog of the merchants in scope (one request, a page of items).
    const [page, catalog] = await Promise.all([loadMerchants(branch, after),
      gql<{ catalog: { edges: { node: { title: string; activeNow: boolean; merchant: { id: string } } }[] } }>(
        `query Offers($first: Int!) { catalog(includeInactive: true, first: $first) { edges { node { title activeNow merchant { id } } } } }`, { first: offersRead })]);
    const offers = new Map<string, string[]>();
    for (const { node } of catalog.catalog.edges) if (node.activeNow) offers.set(node.merchant.id, [...(offers.get(node.merchant.id) ?? []), node.title]);
    return { ...page, offers };
  }, [branch, after]);
  return (
    <>
      <PageHeader title={t('console.menu.merchants')} />
      <Filters><BranchSelect session={session} value={branch} onChange={(b) => { setBranch(b); setAfter(null); }} /></Filters>
      <Loaded state={state}>{(page) => page.edges.length === 0 ? <Empty /> : (
        <>
          <div class="table-wrap">
            <table class="table" data-testid="merchants-table">
              <thead><tr><th>{t('console.merchants.name')}</th><th>{t('console.branch')}</th><th>{t('console.merchants.offers')}</th><th class="num">{t('console.merchants.received')}</th><th>{t('console.merchants.since')}</th></tr></thead>
              <tbody>{page.edges.map(({ node: m }) => (
                <tr key={m.id}><td><a href={`#/merchants/${m.id}`}>{m.name}</a></td><td>{m.branch.name}</td>
                  <td>{(page.offers.get(m.id) ?? []).slice(0, offersShown).join('、') || '—'}{(page.offers.get(m.id)?.length ?? 0) > offersShown && ` ${t('console.merchants.moreOffers', { n: page.offers.get(m.id)!.length - offersShown })}`}</td><td class="num">{formatAmount(m.account?.balance)}</td><td>{formatDate(m.createdAt)}</td></tr>
              ))}</tbody>
            </table>
          </div>
          {page.pageInfo.hasNextPage && <Button onClick={() => setAfter(page.pageInfo.endCursor)}>{t('common.more')}</Button>}
        </>
      )}</Loaded>
    </>
  );
}

export function MerchantPage({ params }: PageProps) {
  useLanguage();
  const state = useLoad(() => gql<{ merchant: Merchant | null; catalog: { edges: { node: Item }[] } }>(`query Merchant($id: ID!, $first: Int!) {
    merchant(id: $id) { id name createdAt branch { code name } account { balance } }
    catalog(merchant: $id, includeInactive: true, first: $first) { edges { node { id code title category cost stockLeft activeNow limitPerMember limitWindow visibleTo { name } voucherValidDays } } }
  }`, { id: params.id, first: listPageSize }), [params.id]);
  return (
    <Loaded state={state}>{(data) => !data.merchant ? <Alert kind="error">{t('error.NOT_FOUND')}</Alert> : (
      <>
        <PageHeader title={data.merchant.name} />
        <section class="card">
          <dl class="descriptions">
            <dt>{t('console.branch')}</dt><dd>{data.merchant.branch.name}</dd>
            <dt>{t('console.merchants.received')}</dt><dd>{formatAmount(data.merchant.account?.balance)}</dd>
            <dt>{t('console.merchants.since')}</dt><dd>{formatDate(data.merchant.createdAt)}</dd>
          </dl>
        </section>
        <section class="card">
          <h2>{t('console.merchants.catalog')}</h2>
          {data.catalog.edges.length === 0 ? <Empty /> : (
            <div class="table-wrap">
              <table class="table" data-testid="catalog-table">
                <thead><tr><th>{t('console.merchants.item')}</th><th>{t('console.rules.category')}</th><th class="num">{t('console.merchants.cost')}</th><th class="num">{t('console.merchants.stock')}</th><th>{t('console.merchants.limit')}</th><th>{t('console.merchants.visibleTo')}</th><th>{t('console.merchants.state')}</th></tr></thead>
                <tbody>{data.catalog.edges.map(({ node: i }) => (
                  <tr key={i.id}><td>{i.title} <span class="muted">· {i.code}</span></td><td>{i.category}</td><td class="num">{formatAmount(i.cost)}</td>
                    <td class="num">{i.stockLeft === null ? t('console.merchants.unlimited') : i.stockLeft}</td>
                    <td>{i.limitPerMember === null ? '—' : t('console.merchants.limitN', { n: i.limitPerMember, window: i.limitWindow ? label('console.window', i.limitWindow) : t('console.merchants.ever') })}</td>
                    <td>{i.visibleTo.name}</td><td>{i.activeNow ? <Tag kind="green">{t('console.merchants.active')}</Tag> : <Tag kind="gray">{t('console.merchants.inactive')}</Tag>}</td></tr>
                ))}</tbody>
              </table>
            </div>
          )}
        </section>
      </>
    )}</Loaded>
  );
}

interface Pool {
  id: string; title: string; beneficiary: string; description: string | null; target: string; raised: string; donors: number; status: string;
  deadline: string | null; createdAt: string; disbursedAt: string | null; closedAt: string | null; closeReason: string | null;
  disbursedTo: { name: string } | null; branch: { code: string; name: string };
}

const poolFields = 'id title beneficiary description target raised donors status deadline createdAt disbursedAt closedAt closeReason disbursedTo { name } branch { code name }';
const statusTag: Record<string, TagKind> = { OPEN: 'blue', FUNDED: 'gold', DISBURSED: 'green', CLOSED: 'gray' };

function PoolCard({ pool, merchants, onChanged }: { pool: Pool; merchants: Merchant[]; onChanged(p: Pool, message: string): void }) {
  const [mode, setMode] = useState<'none' | 'disburse' | 'close'>('none');
  const [merchant, setMerchant] = useState(merchants[0]?.id ?? '');
  const [memo, setMemo] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const keys = useRef<Record<string, string>>({});
  const act = useAction(async () => {
    if (mode === 'disburse') {
      const id = `disburse:${merchant}:${memo.trim()}`;
      const data = await gql<{ disbursePool: { pool: Pool } }>(`mutation Disburse($input: DisbursePoolInput!) { disbursePool(input: $input) { pool { ${poolFields} } } }`,
        { input: { idempotencyKey: (keys.current[id] ??= newKey('pool-disburse')), pool: pool.id, merchant, memo: memo.trim() } });
      onChanged(data.disbursePool.pool, t('console.pools.disbursedDone', { title: pool.title }));
    } else {
      const id = `close:${reason.trim()}`;
      const data = await gql<{ closePool: { pool: Pool; refunds: number } }>(`mutation ClosePool($input: ClosePoolInput!) { closePool(input: $input) { refunds pool { ${poolFields} } } }`,
        { input: { idempotencyKey: (keys.current[id] ??= newKey('pool-close')), pool: pool.id, reason: reason.trim() } });
      onChanged(data.closePool.pool, t('console.pools.closedDone', { title: pool.title, refunds: data.closePool.refunds }));
    }
    setMode('none');
  });
  const submit = (e: Event) => {
    e.preventDefault();
    if (mode === 'disburse' && !merchant) return setError(t('common.required', { field: t('console.pools.merchant') }));
    if (mode === 'disburse' && !memo.trim()) return setError(t('common.required', { field: t('console.pools.memo') }));
    if (mode === 'close' && !reason.trim()) return setError(t('common.required', { field: t('console.pools.reason') }));
    setError(null);
    void act.run();
  };
  const open = pool.status === 'OPEN' || pool.status === 'FUNDED';
  return (
    <li class="card pool" data-testid="pool" data-pool-id={pool.id}>
      <div class="card-head">
        <h2>{pool.title} <Tag kind={statusTag[pool.status] ?? 'gray'}>{label('console.poolStatus', pool.status)}</Tag></h2>
      </div>
      <p class="muted">{t('console.pools.for', { who: pool.beneficiary })} · {pool.branch.name}{pool.deadline && ` · ${t('console.pools.deadline', { when: formatDate(pool.deadline) })}`}</p>
      {pool.description && <p>{pool.description}</p>}
      <Progress value={Number(pool.raised)} max={Number(pool.target)} text={t('console.pools.progress', { raised: formatAmount(pool.raised), target: formatAmount(pool.target), donors: pool.donors })} />
      {pool.disbursedAt && <p>{t('console.pools.disbursedTo', { who: pool.disbursedTo?.name ?? '', when: formatDateTime(pool.disbursedAt) })}</p>}
      {pool.closedAt && <p>{t('console.pools.closedAt', { when: formatDateTime(pool.closedAt), reason: pool.closeReason ?? '' })}</p>}
      {open && mode === 'none' && (
        <div class="actions">
          {pool.status === 'FUNDED' && <Button kind="primary" onClick={() => setMode('disburse')} data-testid="disburse">{t('console.pools.disburse')}</Button>}
          <Button kind="danger" onClick={() => setMode('close')} data-testid="close-pool">{t('console.pools.close')}</Button>
        </div>
      )}
      {mode !== 'none' && (
        <form class="filters filters-plain" onSubmit={submit} noValidate>
          {mode === 'disburse' ? (
            <>
              <div class="filter"><label for={`pm-${pool.id}`}>{t('console.pools.merchant')}</label>
                <select id={`pm-${pool.id}`} class="input" value={merchant} onChange={(e) => setMerchant((e.target as HTMLSelectElement).value)}>
                  {merchants.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
                </select></div>
              <div class="filter filter-wide"><label for={`memo-${pool.id}`}>{t('console.pools.memo')}</label>
                <input id={`memo-${pool.id}`} class="input" value={memo} maxLength={500} onInput={(e) => setMemo((e.target as HTMLInputElement).value)} /></div>
            </>
          ) : (
            <div class="filter filter-wide"><label for={`reason-${pool.id}`}>{t('console.pools.reason')}</label>
              <input id={`reason-${pool.id}`} class="input" value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} /></div>
          )}
          <div class="filter filter-button">
            <Button kind={mode === 'close' ? 'danger' : 'primary'} type="submit" busy={act.busy} data-testid="confirm-pool">{t(mode === 'close' ? 'console.pools.confirmClose' : 'console.pools.confirmDisburse')}</Button>{' '}
            <Button onClick={() => { setMode('none'); setError(null); }}>{t('common.cancel')}</Button>
          </div>
          {error && <div class="field-message field-wide" role="alert">{error}</div>}
        </form>
      )}
      <ErrorAlert error={act.error} />
    </li>
  );
}

export function PoolsPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [status, setStatus] = useState('');
  const [changed, setChanged] = useState<Record<string, Pool>>({});
  const [message, setMessage] = useState<string | null>(null);
  const state = useLoad(async () => {
    const data = await gql<{ pools: { edges: { node: Pool }[] }; merchants: { edges: { node: Merchant }[] } }>(`query Pools($branch: String!, $status: PoolStatus, $first: Int!) {
      pools(branch: $branch, status: $status, first: $first) { edges { node { ${poolFields} } } }
      merchants(branch: $branch, first: $first) { edges { node { id name createdAt branch { code name } account { balance } } } }
    }`, { branch, status: status || null, first: listPageSize });
    return { pools: data.pools.edges.map((e) => e.node), merchants: data.merchants.edges.map((e) => e.node) };
  }, [branch, status]);
  return (
    <>
      <PageHeader title={t('console.menu.pools')} />
      <Filters>
        <BranchSelect session={session} value={branch} onChange={setBranch} />
        <div class="filter">
          <label for="pool-status">{t('console.pools.status')}</label>
          <select id="pool-status" class="input" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t('console.all')}</option>
            {['OPEN', 'FUNDED', 'DISBURSED', 'CLOSED'].map((s) => <option key={s} value={s}>{label('console.poolStatus', s)}</option>)}
          </select>
        </div>
      </Filters>
      {message && <Alert kind="success" testId="pool-done">{message}</Alert>}
      <Loaded state={state}>{(data) => data.pools.length === 0 ? <Empty /> : (
        <ul class="pool-list">{data.pools.map((p) => (
          <PoolCard key={p.id} pool={changed[p.id] ?? p} merchants={data.merchants} onChanged={(next, text) => { setChanged({ ...changed, [next.id]: next }); setMessage(text); }} />
        ))}</ul>
      )}</Loaded>
    </>
  );
}
