// The board of one branch (公示栏): pools' progress, selections' shortlists on notice (评选公示), the month's most active volunteers and sorters
// (masked names as the API gives them), the participation ranking (红黑榜) and the merchants' honour
// board (公益企业英雄榜). Read without a token. In kiosk mode (a lobby screen) it refreshes itself and,
// when a refresh fails, keeps showing the last good answer and says from when it is.
import { useEffect, useRef, useState } from 'preact/hooks';
import { publicGql } from '../shared/api.js';
import { language, t, useLanguage } from '../shared/i18n.js';
import { formatAmount } from '../shared/format.js';
import { ErrorAlert, LanguageSwitch, Spinner } from '../shared/ui.js';

interface Person { rank: number; name: string; branchName: string; amount: string }
interface BranchRank { rank: number; name: string; members: number; activeMembers: number; activePercent: string }
export interface NoticeBoard {
  code: string;
  name: string;
  month: string;
  timeZone: string;
  generatedAt: string;
  pools: { title: string; target: string; raised: string; status: 'OPEN' | 'FUNDED'; branchName: string; deadline: string | null }[];
  volunteers: Person[];
  sorters: Person[];
  participation: { ranked: number; best: BranchRank[]; weakest: BranchRank[] };
  merchants: { rank: number; name: string; branchName: string; pointsRedeemed: string; residentsServed: number; redemptions: number }[];
  selections: { title: string; branchName: string; periodEndsAt: string; candidates: number; openObjections: number; names: string[] }[];
  households: Person[];
}

const boardQuery = `query NoticeBoard($branch: String!) { noticeBoard(branch: $branch) {
  code name month timeZone generatedAt
  pools { title target raised status branchName deadline }
  volunteers { rank name branchName amount }
  sorters { rank name branchName amount }
  households { rank name branchName amount }
  participation { ranked best { rank name members activeMembers activePercent } weakest { rank name members activeMembers activePercent } }
  merchants { rank name branchName pointsRedeemed residentsServed redemptions }
  selections { title branchName periodEndsAt candidates openObjections names } } }`;

/** Raised as a share of target in tenths of a percent, from the exact strings (no float), at most 1000. */
export function permille(raised: string, target: string): number {
  const scaled = (a: string, scale: number) => {
    const [whole = '0', fraction = ''] = a.split('.');
    return BigInt(whole + fraction.padEnd(scale, '0').slice(0, scale));
  };
  const scale = Math.max((raised.split('.')[1] ?? '').length, (target.split('.')[1] ?? '').length);
  const whole = scaled(target, scale);
  if (whole <= 0n) return 0;
  const share = (scaled(raised, scale) * 1000n) / whole;
  return Number(share > 1000n ? 1000n : share);
}

function monthTitle(month: string): string {
  const [year, m] = month.split('-').map(Number);
  if (!year || !m) return month;
  return new Intl.DateTimeFormat(language() === 'zh-CN' ? 'zh-CN' : 'en-GB', { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(year, m - 1, 15)));
}

function clock(iso: string, timeZone: string, withSeconds = false): string {
  return new Intl.DateTimeFormat(language() === 'zh-CN' ? 'zh-CN' : 'en-GB', {
    timeZone, hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', ...(withSeconds ? { second: '2-digit' } : {}),
  }).format(new Date(iso));
}

function People({ title, people, unit, testId }: { title: string; people: Person[]; unit: string; testId: string }) {
  return (
    <section class="board-card" data-testid={testId}>
      <h2>{title}</h2>
      {people.length === 0 ? <p class="board-empty">{t('board.people.none')}</p> : (
        <ol class="board-ranks">
          {people.map((p) => (
            <li key={`${p.rank}-${p.name}-${p.branchName}`}>
              <span class={`board-rank board-rank-${p.rank <= 3 ? p.rank : 'n'}`}>{p.rank}</span>
              <span class="board-name">{p.name}</span>
              <span class="board-sub">{p.branchName}</span>
              <span class="board-figure">{formatAmount(p.amount)} <small>{unit}</small></span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Ranking({ title, lines, kind }: { title: string; lines: BranchRank[]; kind: 'best' | 'weakest' }) {
  return (
    <section class={`board-card board-${kind}`} data-testid={`board-${kind}`}>
      <h2>{title}</h2>
      {lines.length === 0 ? <p class="board-empty">{t('board.ranking.none')}</p> : (
        <ol class="board-ranks">
          {lines.map((b) => (
            <li key={b.name}>
              <span class="board-rank board-rank-n">{b.rank}</span>
              <span class="board-name">{b.name}</span>
              <span class="board-sub">{t('board.ranking.active', { active: b.activeMembers, members: b.members })}</span>
              <span class="board-figure">{b.activePercent}%</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export function BoardView({ board }: { board: NoticeBoard }) {
  return (
    <div class="board-grid">
      <section class="board-card board-wide" data-testid="board-pools">
        <h2>{t('board.pools.title')}</h2>
        {board.pools.length === 0 ? <p class="board-empty">{t('board.pools.none')}</p> : (
          <ul class="board-pools">
            {board.pools.map((p) => {
              const share = permille(p.raised, p.target);
              return (
                <li key={p.title}>
                  <div class="board-pool-head">
                    <span class="board-pool-title">{p.title}</span>
                    <span class={`board-tag board-tag-${p.status.toLowerCase()}`}>{t(p.status === 'FUNDED' ? 'board.pools.funded' : 'board.pools.open')}</span>
                  </div>
                  <progress class="board-progress" max={1000} value={share} aria-label={t('board.pools.progress', { title: p.title })} />
                  <div class="board-pool-figures">
                    <span>{t('board.pools.raised', { raised: formatAmount(p.raised), target: formatAmount(p.target) })}</span>
                    <strong>{(share / 10).toFixed(1)}%</strong>
                  </div>
                  <div class="board-sub">
                    {p.branchName}{p.deadline ? ` · ${t('board.pools.deadline', { time: clock(p.deadline, board.timeZone) })}` : ''}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {board.selections.length > 0 && (
        <section class="board-card board-wide" data-testid="board-selections">
          <h2>{t('board.selections.title')}</h2>
          <ul class="board-pools">
            {board.selections.map((s) => (
              <li key={`${s.title}-${s.branchName}`}>
                <div class="board-pool-head">
                  <span class="board-pool-title">{s.title}</span>
                  <span class="board-tag board-tag-open">{t('board.selections.count', { count: s.candidates })}</span>
                </div>
                <div class="board-name">
                  {s.names.join('、')}{s.candidates > s.names.length ? ` ${t('board.selections.more', { count: s.candidates - s.names.length })}` : ''}
                </div>
                <div class="board-sub">
                  {s.branchName} · {t('board.selections.until', { time: clock(s.periodEndsAt, board.timeZone) })}
                  {s.openObjections > 0 ? ` · ${t('board.selections.objections', { count: s.openObjections })}` : ''}
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
      <People title={t('board.volunteers.title')} people={board.volunteers} unit={t('board.unit.hours')} testId="board-volunteers" />
      <People title={t('board.sorters.title')} people={board.sorters} unit={t('board.unit.points')} testId="board-sorters" />
      <People title={t('board.households.title')} people={board.households} unit={t('board.unit.points')} testId="board-households" />
      <Ranking title={t('board.ranking.best')} lines={board.participation.best} kind="best" />
      <Ranking title={t('board.ranking.weakest')} lines={board.participation.weakest} kind="weakest" />
      <section class="board-card board-wide" data-testid="board-merchants">
        <h2>{t('board.merchants.title')}</h2>
        {board.merchants.length === 0 ? <p class="board-empty">{t('board.merchants.none')}</p> : (
          <table class="board-table">
            <thead><tr>
              <th scope="col">{t('board.merchants.rank')}</th><th scope="col">{t('board.merchants.name')}</th>
              <th scope="col" class="num">{t('board.merchants.points')}</th><th scope="col" class="num">{t('board.merchants.residents')}</th>
              <th scope="col" class="num">{t('board.merchants.vouchers')}</th>
            </tr></thead>
            <tbody>
              {board.merchants.map((m) => (
                <tr key={m.name}>
                  <td><span class={`board-rank board-rank-${m.rank <= 3 ? m.rank : 'n'}`}>{m.rank}</span></td>
                  <td><div class="board-name">{m.name}</div><div class="board-sub">{m.branchName}</div></td>
                  <td class="num">{formatAmount(m.pointsRedeemed)}</td>
                  <td class="num">{m.residentsServed}</td>
                  <td class="num">{m.redemptions}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

/** What the page holds: the last good answer (kept through failed refreshes) and the last failure. */
interface State { loaded: boolean; board: NoticeBoard | null; loadedAt: string | null; error: unknown }

export function Board({ code, kiosk, refreshMs }: { code: string; kiosk: boolean; refreshMs: number }) {
  useLanguage();
  const [state, setState] = useState<State>({ loaded: false, board: null, loadedAt: null, error: null });
  const running = useRef(false);
  const load = async () => {
    if (running.current) return;
    running.current = true;
    try {
      const { noticeBoard } = await publicGql<{ noticeBoard: NoticeBoard | null }>(boardQuery, { branch: code });
      setState({ loaded: true, board: noticeBoard, loadedAt: new Date().toISOString(), error: null });
    } catch (error) {
      // A failed refresh keeps the last good board on screen; the failure is said, small.
      setState((s) => ({ ...s, loaded: true, error }));
    } finally {
      running.current = false;
    }
  };
  useEffect(() => {
    void load();
    if (!kiosk) return undefined;
    const timer = setInterval(() => void load(), refreshMs);
    return () => clearInterval(timer);
  }, [code, kiosk, refreshMs]);
  useEffect(() => {
    document.body.classList.toggle('kiosk', kiosk);
  }, [kiosk]);

  const board = state.board;
  const timeZone = board?.timeZone ?? 'Asia/Shanghai';
  return (
    <main class={`board${kiosk ? ' board-kiosk' : ''}`} data-testid="board" aria-busy={state.loaded ? undefined : 'true'}>
      <header class="board-head">
        <div>
          <h1>{t('board.title')}{board ? ` · ${board.name}` : ''}</h1>
          {board && <p class="board-month">{t('board.month', { month: monthTitle(board.month) })}</p>}
        </div>
        <div class="board-head-side">
          {state.loadedAt && (
            <p class="board-updated" data-testid="board-updated" data-loaded-at={state.loadedAt}>
              {t('board.updated', { time: clock(state.loadedAt, timeZone, true) })}
            </p>
          )}
          {!kiosk && <LanguageSwitch />}
          {!kiosk && board && <button type="button" class="btn" onClick={() => void load()}>{t('board.refresh')}</button>}
        </div>
      </header>
      {state.error && board ? (
        <p class="board-stale" data-testid="board-stale" role="status">{t('board.stale', { time: clock(state.loadedAt!, timeZone, true) })}</p>
      ) : null}
      {!state.loaded && <Spinner />}
      {state.loaded && !board && !state.error && (
        <section class="board-card board-unpublished" data-testid="board-unpublished">
          <h2>{t('board.unpublished.title')}</h2>
          <p>{t('board.unpublished.body', { code })}</p>
          {!kiosk && <p><a href="/board">{t('board.unpublished.other')}</a></p>}
        </section>
      )}
      {state.loaded && !board && state.error ? <ErrorAlert error={state.error} /> : null}
      {board && <BoardView board={board} />}
      {board && <p class="board-foot">{t('board.privacy')}</p>}
    </main>
  );
}

/** /board without a code: where to go. */
export function BoardChooser() {
  useLanguage();
  const [code, setCode] = useState('');
  const [kiosk, setKiosk] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const trimmed = code.trim();
    if (!trimmed) return setError(t('common.required', { field: t('board.choose.code') }));
    location.assign(`/board/${encodeURIComponent(trimmed)}${kiosk ? '?kiosk=1' : ''}`);
  };
  return (
    <main class="board board-choose">
      <div class="signin-top"><LanguageSwitch /></div>
      <form class="signin-card" noValidate onSubmit={submit}>
        <h1>{t('app.name')} · {t('board.title')}</h1>
        <p class="board-sub">{t('board.choose.intro')}</p>
        <div class={`field${error ? ' field-error' : ''}`}>
          <label for="branch-code">{t('board.choose.code')}</label>
          <input id="branch-code" name="branch" value={code} autoCapitalize="none" autoComplete="off" aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'branch-code-error' : undefined} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
          {error && <div class="field-message" id="branch-code-error">{error}</div>}
        </div>
        <label class="board-check"><input type="checkbox" checked={kiosk} onChange={(e) => setKiosk((e.target as HTMLInputElement).checked)} /> {t('board.choose.kiosk')}</label>
        <button type="submit" class="btn btn-primary btn-block">{t('board.choose.submit')}</button>
      </form>
    </main>
  );
}
