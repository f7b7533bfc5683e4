// The shop's own catalog: each item's price, stock and whether it is on sale; add stock, change the
// price or the title, pause or resume an item (upsertCatalogItem). Every write sends the item's
// current title, category and cost along, so it also works where the API requires them on an update.
import { useEffect, useState } from 'preact/hooks';
import { gql, newKey } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { formatAmount, formatDateTime } from '../shared/format.js';
import { Alert, ErrorAlert, Spinner, errorText, useAction } from '../shared/ui.js';
import { catalogQuery, upsertItemMutation, type Connection, type Item } from './queries.js';

type Screen = { kind: 'list' } | { kind: 'item'; id: string } | { kind: 'restock' | 'edit' | 'pause'; id: string };

/** Stock is whole units; the API refuses more than this on a shelf (src/redemption/catalog.ts stockMax). */
const stockMax = 1_000_000;

function itemState(item: Item): 'onSale' | 'paused' | 'scheduled' {
  if (item.activeNow) return 'onSale';
  if (item.activeFrom && Date.parse(item.activeFrom) > Date.now() && !(item.activeTo && Date.parse(item.activeTo) <= Date.now())) return 'scheduled';
  return 'paused';
}

function StateTag({ item }: { item: Item }) {
  const state = itemState(item);
  return <span class={`tag tag-${state}`}>{t(`counter.catalog.state.${state}`)}</span>;
}

async function loadCatalog(): Promise<Item[]> {
  const items: Item[] = [];
  let after: string | null = null;
  // A shop's shelf: a few pages at most.
  for (let page = 0; page < 10; page++) {
    const { catalog }: { catalog: Connection<Item> } = await gql(catalogQuery, { after });
    items.push(...catalog.edges.map((e) => e.node));
    if (!catalog.pageInfo.hasNextPage) break;
    after = catalog.pageInfo.endCursor;
  }
  return items;
}

/** One write to an item: its current title, category and cost, plus the change. */
function useItemWrite(item: Item, onSaved: (item: Item, message: string) => void) {
  const [key] = useState(() => newKey('counter-item'));
  return useAction(async (change: Record<string, unknown>, message: string) => {
    const { upsertCatalogItem } = await gql<{ upsertCatalogItem: { item: Item } }>(upsertItemMutation, {
      input: { idempotencyKey: key, code: item.code, title: item.title, category: item.category, cost: item.cost, ...change },
    });
    onSaved(upsertCatalogItem.item, message);
  });
}

function Restock({ item, onSaved, onCancel }: { item: Item; onSaved: (item: Item, message: string) => void; onCancel: () => void }) {
  const [units, setUnits] = useState('');
  const [error, setError] = useState<string | null>(null);
  const write = useItemWrite(item, onSaved);
  const unlimited = item.stockLeft === null;
  const submit = (e: Event) => {
    e.preventDefault();
    const n = Number(units.trim());
    if (!/^\d+$/.test(units.trim()) || n < (unlimited ? 0 : 1) || n > stockMax) return setError(t('counter.catalog.unitsInvalid', { max: stockMax }));
    setError(null);
    void write.run(unlimited ? { stock: n } : { addStock: n }, t(unlimited ? 'counter.catalog.stockSet' : 'counter.catalog.restocked', { n }));
  };
  return (
    <form class="sheet" noValidate onSubmit={submit}>
      <h2>{t(unlimited ? 'counter.catalog.setStock' : 'counter.catalog.restock')} · {item.title}</h2>
      <p class="muted">{unlimited ? t('counter.catalog.unlimitedNow') : t('counter.catalog.leftNow', { n: item.stockLeft! })}</p>
      <div class={`field${error ? ' field-error' : ''}`}>
        <label for="units">{t(unlimited ? 'counter.catalog.stockUnits' : 'counter.catalog.addUnits')}</label>
        <input id="units" class="input input-lg" inputMode="numeric" pattern="[0-9]*" value={units} autoFocus
          aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'units-error' : undefined} onInput={(e) => setUnits((e.target as HTMLInputElement).value)} />
        {error && <div class="field-message" id="units-error">{error}</div>}
      </div>
      {write.error ? <Alert kind="error">{errorText(write.error)}</Alert> : null}
      <div class="bottom-actions">
        <button type="submit" class="btn btn-primary btn-xl btn-block" disabled={write.busy}>{t('common.save')}</button>
        <button type="button" class="btn btn-xl btn-block" disabled={write.busy} onClick={onCancel}>{t('common.cancel')}</button>
      </div>
    </form>
  );
}

function Edit({ item, onSaved, onCancel }: { item: Item; onSaved: (item: Item, message: string) => void; onCancel: () => void }) {
  const [title, setTitle] = useState(item.title);
  const [cost, setCost] = useState(item.cost);
  const [errors, setErrors] = useState<{ title?: string; cost?: string }>({});
  const write = useItemWrite(item, onSaved);
  const submit = (e: Event) => {
    e.preventDefault();
    const found: typeof errors = {};
    if (!title.trim()) found.title = t('common.required', { field: t('counter.catalog.itemTitle') });
    // Checked as text, never as a float; the API checks the scale and says so.
    if (!/^\d+(\.\d+)?$/.test(cost.trim()) || /^0+(\.0+)?$/.test(cost.trim())) found.cost = t('counter.catalog.costInvalid');
    setErrors(found);
    if (found.title || found.cost) return;
    void write.run({ title: title.trim(), cost: cost.trim() }, t('counter.catalog.saved'));
  };
  return (
    <form class="sheet" noValidate onSubmit={submit}>
      <h2>{t('counter.catalog.edit')}</h2>
      <div class={`field${errors.title ? ' field-error' : ''}`}>
        <label for="item-title">{t('counter.catalog.itemTitle')}</label>
        <input id="item-title" class="input input-lg" value={title} maxLength={200} aria-invalid={errors.title ? 'true' : undefined}
          onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        {errors.title && <div class="field-message">{errors.title}</div>}
      </div>
      <div class={`field${errors.cost ? ' field-error' : ''}`}>
        <label for="item-cost">{t('counter.catalog.itemCost')}</label>
        <input id="item-cost" class="input input-lg" inputMode="decimal" value={cost} aria-invalid={errors.cost ? 'true' : undefined}
          onInput={(e) => setCost((e.target as HTMLInputElement).value)} />
        {errors.cost && <div class="field-message">{errors.cost}</div>}
      </div>
      {write.error ? <Alert kind="error">{errorText(write.error)}</Alert> : null}
      <div class="bottom-actions">
        <button type="submit" class="btn btn-primary btn-xl btn-block" disabled={write.busy}>{t('common.save')}</button>
        <button type="button" class="btn btn-xl btn-block" disabled={write.busy} onClick={onCancel}>{t('common.cancel')}</button>
      </div>
    </form>
  );
}

function Pause({ item, onSaved, onCancel }: { item: Item; onSaved: (item: Item, message: string) => void; onCancel: () => void }) {
  const write = useItemWrite(item, onSaved);
  const pausing = itemState(item) === 'onSale';
  const go = () => {
    const now = new Date().toISOString();
    // Pausing ends the item's offer now; resuming lifts the end (and a start still in the future).
    const change = pausing ? { activeTo: now } : { activeTo: null, ...(item.activeFrom && Date.parse(item.activeFrom) > Date.now() ? { activeFrom: null } : {}) };
    void write.run(change, t(pausing ? 'counter.catalog.pausedDone' : 'counter.catalog.resumedDone'));
  };
  return (
    <section class="sheet">
      <h2>{t(pausing ? 'counter.catalog.pause' : 'counter.catalog.resume')} · {item.title}</h2>
      <Alert kind={pausing ? 'warning' : 'info'}>{t(pausing ? 'counter.catalog.pauseExplain' : 'counter.catalog.resumeExplain')}</Alert>
      {write.error ? <Alert kind="error">{errorText(write.error)}</Alert> : null}
      <div class="bottom-actions">
        <button type="button" class={`btn btn-xl btn-block ${pausing ? 'btn-danger-solid' : 'btn-primary'}`} disabled={write.busy} onClick={go}>
          {t(pausing ? 'counter.catalog.pauseConfirm' : 'counter.catalog.resumeConfirm')}
        </button>
        <button type="button" class="btn btn-xl btn-block" disabled={write.busy} onClick={onCancel}>{t('common.cancel')}</button>
      </div>
    </section>
  );
}

export function Catalog() {
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [screen, setScreen] = useState<Screen>({ kind: 'list' });
  const [notice, setNotice] = useState<string | null>(null);
  const load = () => {
    setError(null);
    loadCatalog().then(setItems, setError);
  };
  useEffect(load, []);
  const item = 'id' in screen ? items?.find((i) => i.id === screen.id) : undefined;
  const saved = (next: Item, message: string) => {
    setItems((all) => all?.map((i) => (i.id === next.id ? next : i)) ?? null);
    setNotice(message);
    setScreen({ kind: 'item', id: next.id });
  };
  const back = (to: Screen) => () => { setNotice(null); setScreen(to); };

  if (item && screen.kind === 'restock') return <Restock item={item} onSaved={saved} onCancel={back({ kind: 'item', id: item.id })} />;
  if (item && screen.kind === 'edit') return <Edit item={item} onSaved={saved} onCancel={back({ kind: 'item', id: item.id })} />;
  if (item && screen.kind === 'pause') return <Pause item={item} onSaved={saved} onCancel={back({ kind: 'item', id: item.id })} />;
  if (item && screen.kind === 'item') {
    const paused = itemState(item) !== 'onSale';
    return (
      <section class="item-detail" aria-labelledby="item-title-h">
        <button type="button" class="btn btn-link back-link" onClick={back({ kind: 'list' })}>‹ {t('counter.catalog.title')}</button>
        {notice && <Alert kind="success" testId="item-notice">{notice}</Alert>}
        <h2 id="item-title-h">{item.title}</h2>
        <dl class="voucher-lines">
          <div><dt>{t('counter.catalog.itemCost')}</dt><dd>{t('counter.points', { amount: formatAmount(item.cost) })}</dd></div>
          <div><dt>{t('counter.catalog.stock')}</dt><dd data-testid="item-stock">{item.stockLeft === null ? t('counter.catalog.unlimited') : item.stockLeft}</dd></div>
          <div><dt>{t('counter.catalog.state')}</dt><dd><StateTag item={item} /></dd></div>
          {item.activeTo && <div><dt>{t('counter.catalog.activeTo')}</dt><dd>{formatDateTime(item.activeTo)}</dd></div>}
          <div><dt>{t('counter.catalog.code')}</dt><dd class="mono">{item.code}</dd></div>
        </dl>
        <div class="action-list">
          <button type="button" class="btn btn-xl btn-block" onClick={() => { setNotice(null); setScreen({ kind: 'restock', id: item.id }); }}>
            {t(item.stockLeft === null ? 'counter.catalog.setStock' : 'counter.catalog.restock')}
          </button>
          <button type="button" class="btn btn-xl btn-block" onClick={() => { setNotice(null); setScreen({ kind: 'edit', id: item.id }); }}>{t('counter.catalog.edit')}</button>
          <button type="button" class={`btn btn-xl btn-block ${paused ? '' : 'btn-danger'}`} onClick={() => { setNotice(null); setScreen({ kind: 'pause', id: item.id }); }}>
            {t(paused ? 'counter.catalog.resume' : 'counter.catalog.pause')}
          </button>
        </div>
      </section>
    );
  }
  return (
    <section class="catalog" aria-labelledby="catalog-title">
      <div class="section-head">
        <h2 id="catalog-title">{t('counter.catalog.title')}</h2>
        <button type="button" class="btn btn-link" onClick={load}>{t('counter.refresh')}</button>
      </div>
      {error ? <ErrorAlert error={error} /> : null}
      {!items && !error && <Spinner />}
      {items && !items.length && <div class="empty">{t('counter.catalog.none')}</div>}
      <ul class="list" data-testid="catalog-list">
        {items?.map((i) => (
          <li key={i.id}>
            <button type="button" class="list-item list-button" onClick={() => { setNotice(null); setScreen({ kind: 'item', id: i.id }); }}>
              <div class="list-main">
                <div class="list-title">{i.title}</div>
                <div class="list-sub">{i.stockLeft === null ? t('counter.catalog.unlimited') : t('counter.catalog.left', { n: i.stockLeft })}</div>
              </div>
              <div class="list-side">
                <div class="list-amount">{t('counter.points', { amount: formatAmount(i.cost) })}</div>
                <StateTag item={i} />
              </div>
              <span class="list-chevron" aria-hidden="true">›</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
