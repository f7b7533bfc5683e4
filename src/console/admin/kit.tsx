// The console pages' shared pieces: loading a query into state, the branch and year selectors
// (branches in the operator's scope, read once through the API), page headers, status tags and a
// safe external link. Everything here is an API client like the pages: nothing reaches the domain.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { gql } from '../shared/api.js';
import { t, type MessageKey } from '../shared/i18n.js';
import { bankTimeZone, bankToday } from '../shared/format.js';
import { ErrorAlert, Spinner } from '../shared/ui.js';
import type { Session } from '../shared/session.js';

export interface LoadState<T> { data: T | undefined; error: unknown; loading: boolean; reload(): void }

/** Runs load when deps change (and on reload()); an answer to an older run is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): LoadState<T> {
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: null, loading: true });
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, error: null, loading: true }));
    load().then((data) => { if (live) setState({ data, error: null, loading: false }); },
      (error: unknown) => { if (live) setState({ data: undefined, error, loading: false }); });
    return () => { live = false; };
    // deps are the caller's: load is a new closure on every render, so it cannot be one.
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

/** Spinner while the first answer is awaited, the error if it failed, else the children. */
export function Loaded<T>({ state, children }: { state: LoadState<T>; children: (data: T) => ComponentChildren }) {
  if (state.error) return <ErrorAlert error={state.error} />;
  if (state.data === undefined) return <Spinner />;
  return <>{children(state.data)}</>;
}

export interface BranchOption { code: string; name: string; depth: number }

const scopeBranchesQuery = 'query ScopeBranches($code: String!) { branches(under: $code) { code name depth } }';

let scopeBranches: Promise<BranchOption[]> | undefined;
let scopeOf: string | undefined;

/** The branches of the operator's subtree, in tree order, depth counted from the operator's branch (read once per session). */
export function loadScopeBranches(session: Session): Promise<BranchOption[]> {
  if (!scopeBranches || scopeOf !== session.token) {
    scopeOf = session.token;
    scopeBranches = gql<{ branches: BranchOption[] }>(scopeBranchesQuery, { code: session.operator.branch.code }).then((data) => {
      const top = data.branches[0]?.depth ?? 0;
      return data.branches.map((b) => ({ code: b.code, name: b.name, depth: b.depth - top }));
    });
    scopeBranches.catch(() => { scopeBranches = undefined; });
  }
  return scopeBranches;
}

/** The branches in scope; until they are read, just the operator's own (loaded tells which). */
export function useScopeBranchList(session: Session): { branches: BranchOption[]; loaded: boolean } {
  const [state, setState] = useState({ branches: [{ code: session.operator.branch.code, name: session.operator.branch.name, depth: 0 }], loaded: false });
  useEffect(() => { loadScopeBranches(session).then((list) => { if (list.length) setState({ branches: list, loaded: true }); }, () => undefined); }, [session.token]);
  return state;
}

export function useScopeBranches(session: Session): BranchOption[] {
  return useScopeBranchList(session).branches;
}

/** A labelled select of the branches in scope (indented by level). */
export function BranchSelect({ session, value, onChange, id = 'branch' }: { session: Session; value: string; onChange(code: string): void; id?: string }) {
  const branches = useScopeBranches(session);
  return (
    <div class="filter">
      <label for={id}>{t('console.branch')}</label>
      <select id={id} class="input" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {branches.map((b) => <option key={b.code} value={b.code}>{`${'\u3000'.repeat(b.depth)}${b.name}`}</option>)}
      </select>
    </div>
  );
}

/** Years offered by the selectors: this one and the previous few (scores are kept by year). */
const yearsBack = 4;

export function YearSelect({ value, onChange, id = 'year' }: { value: number; onChange(year: number): void; id?: string }) {
  const now = bankToday().year;
  const years = Array.from({ length: yearsBack + 1 }, (_, i) => now - i);
  return (
    <div class="filter">
      <label for={id}>{t('console.year')}</label>
      <select id={id} class="input" value={String(value)} onChange={(e) => onChange(Number((e.target as HTMLSelectElement).value))}>
        {years.map((y) => <option key={y} value={String(y)}>{t('console.yearN', { year: y })}</option>)}
      </select>
    </div>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-header-extra">{children}</div>}
    </div>
  );
}

export function Filters({ children, onSubmit }: { children: ComponentChildren; onSubmit?: () => void }) {
  if (!onSubmit) return <div class="filters">{children}</div>;
  return <form class="filters" onSubmit={(e) => { e.preventDefault(); onSubmit(); }}>{children}</form>;
}

export type TagKind = 'green' | 'red' | 'blue' | 'gold' | 'gray';

export function Tag({ kind, children }: { kind: TagKind; children: ComponentChildren }) {
  return <span class={`tag tag-${kind}`}>{children}</span>;
}

/** The name of an enum value through the catalogue (e.g. console.asset.POINTS), or the value itself. */
export function label(prefix: string, value: string): string {
  const key = `${prefix}.${value}` as MessageKey;
  const text = t(key);
  return text === key ? value : text;
}

/** Only http(s) links become anchors (no javascript:, data: …); they open without the opener. */
export function SafeLink({ href }: { href: string }) {
  let url: URL | null = null;
  try { url = new URL(href); } catch { url = null; }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return <span class="link-unsafe">{href}</span>;
  return <a href={url.href} target="_blank" rel="noopener noreferrer nofollow">{href}</a>;
}

/** A progress bar with its figure as text (the figure is what a screen reader hears). */
export function Progress({ value, max, text }: { value: number; max: number; text: string }) {
  const percent = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div class="progress">
      <div class="progress-track" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(percent)} aria-label={text}>
        <div class="progress-bar" ref={(el) => { if (el) el.style.width = `${percent}%`; }} />
      </div>
      <span class="progress-text">{text}</span>
    </div>
  );
}

/** The period of a whole year as the API's ReportPeriod. */
export function yearPeriod(year: number) {
  return { year };
}

/** An instant's calendar day in the bank's time zone as YYYY-MM-DD (what a date input holds). */
export function bankDay(iso: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: bankTimeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
}
