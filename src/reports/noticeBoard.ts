// The public notice board (公示栏, issue 12 §4) of a branch, read without a token by a lobby screen,
// and the opt-in that an admin switches per branch. What it keeps: the board of branch X covers only
// the branches of X's subtree that have themselves switched the board on (X included); an unknown
// branch and one that has not opted in answer alike (null); people appear only by masked name with
// the month's activity figure (or on a selection's shortlist), never by id, external id or balance.
// Answers are cached in process.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import type { Branch } from '../directory/branches.js';
import { badInput } from '../errors.js';
import { formatAmount } from '../ledger/amounts.js';
import { merchantLeaderboardLines } from './merchantLeaderboard.js';
import { noticeBoardActivitySql, noticeBoardPoolsSql, optedInBranchesSql } from './sql/noticeBoard.js';
import { publicShortlists } from '../selections/selections.js';
import { householdLeaderboardSql } from './sql/households.js';

/** How long an answer is reused: a lobby screen polling every few seconds costs one computation a minute per branch and process. */
export const noticeBoardCacheTtlMs = 60_000;
/** Branches whose answers a process keeps at most: bounds memory whatever codes callers try (the oldest is dropped). */
export const noticeBoardCacheBranchesMax = 1_000;
/** People on each of the volunteers' and sorters' boards: a lobby screen's column. */
export const noticeBoardPeopleMax = 10;
/** Pools shown: the open and funded ones, newest first. */
export const noticeBoardPoolsMax = 20;
/** Branches on each side of the participation ranking (红黑榜: best and weakest). */
export const noticeBoardRankingSideMax = 5;
/** Merchants on the honour board (公益企业英雄榜). */
export const noticeBoardMerchantsMax = 10;
/** The asset whose month total ranks volunteers. */
export const volunteerHoursAsset = 'VOLUNTEER_HOURS';
/** Sorters rank by the POINTS they earned this month under the garbage rules' category (seeds/demo.ts standardRules: garbage.sorted-drop, garbage.bin-duty). */
export const sortingAsset = 'POINTS';
export const sortingCategory = 'garbage';

const branchCodePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface NoticeBoardPool { title: string; target: string; raised: string; status: 'OPEN' | 'FUNDED'; branchName: string; deadline: Date | null }
export interface NoticeBoardPerson { rank: number; name: string; branchName: string; amount: string }
export interface NoticeBoardBranchRank { rank: number; name: string; members: number; activeMembers: number; activePercent: string }
export interface NoticeBoardMerchant { rank: number; name: string; branchName: string; pointsRedeemed: string; residentsServed: number; redemptions: number }
/** A selection's shortlist in its notice period (评选公示): masked names only. */
export interface NoticeBoardSelection { title: string; branchName: string; publishedAt: Date; periodEndsAt: Date; candidates: number; openObjections: number; names: string[] }
export interface NoticeBoard {
  code: string;
  name: string;
  month: string;
  from: Date;
  to: Date;
  timeZone: string;
  generatedAt: Date;
  pools: NoticeBoardPool[];
  volunteers: NoticeBoardPerson[];
  sorters: NoticeBoardPerson[];
  participation: { ranked: number; best: NoticeBoardBranchRank[]; weakest: NoticeBoardBranchRank[] };
  merchants: NoticeBoardMerchant[];
  selections: NoticeBoardSelection[];
  /** The month's households (户) by the POINTS on their wallets, names masked. */
  households: NoticeBoardPerson[];
}

/**
 * A name as the board shows it: the first and last character kept, the middle replaced by one `*`
 * whatever its length (王小明 → 王*明, 欧阳娜娜 → 欧*娜), two characters → the first and `*` (王明 → 王*),
 * one → `*`. Characters are code points, so no surrogate pair is split.
 */
export function maskName(name: string): string {
  const chars = Array.from(name.trim());
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}*${chars[chars.length - 1]}`;
}

/** The calendar month of an instant in a time zone: its first day and the next month's, 'YYYY-MM-01'. */
export function monthOf(timeZone: string, at: Date): { month: string; from: string; to: string } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric' }).formatToParts(at);
  const year = Number(parts.find((p) => p.type === 'year')!.value);
  const month = Number(parts.find((p) => p.type === 'month')!.value);
  const next = month === 12 ? { year: year + 1, month: 1 } : { year, month: month + 1 };
  const day = (y: number, m: number) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-01`;
  return { month: day(year, month).slice(0, 7), from: day(year, month), to: day(next.year, next.month) };
}

/** Ranks by a sorted key: ties share a rank (1, 1, 3). */
function ranks<T>(sorted: T[], same: (a: T, b: T) => boolean): number[] {
  const out: number[] = [];
  sorted.forEach((item, i) => out.push(i > 0 && same(sorted[i - 1]!, item) ? out[i - 1]! : i + 1));
  return out;
}

/** The board of a branch as it is now (no cache): null when the branch has not switched the board on. */
export async function computeNoticeBoard(bank: Bank, branch: Branch): Promise<NoticeBoard | null> {
  const { rows: optedIn } = await bank.knex.raw(optedInBranchesSql, { head: branch.headId, path: branch.path });
  const covered = new Set<string>(optedIn.map((r: any) => r.id));
  if (!covered.has(branch.id)) return null;
  const branchIds = [...covered];
  // A head bank whose every branch opted in: its month is one scan, not a probe per member.
  const wholeBank = branch.parentId === null && (await bank.branches.subtree(branch)).every((b) => covered.has(b.id));
  const now = bank.clock();
  const month = monthOf(branch.timeZone, now);
  const { rows: [bounds] } = await bank.knex.raw(`SELECT (?::date)::timestamp AT TIME ZONE ? AS "from", (?::date)::timestamp AT TIME ZONE ? AS "to"`,
    [month.from, branch.timeZone, month.to, branch.timeZone]);
  const { from, to } = bounds as { from: Date; to: Date };
  const [activity, pools, merchantLines, shortlists, householdLines] = await Promise.all([
    bank.knex.raw(noticeBoardActivitySql(wholeBank), {
      head: branch.headId, branches: wholeBank ? null : branchIds, month: month.from, assets: bank.assets.all().map((a) => a.code),
      hoursAsset: volunteerHoursAsset, sortingAsset, sortingCategory, limit: noticeBoardPeopleMax,
    }),
    bank.knex.raw(noticeBoardPoolsSql, { head: branch.headId, branches: branchIds, limit: noticeBoardPoolsMax }),
    merchantLeaderboardLines(bank, { headId: branch.headId, from, to, branchPath: null, branchIds, size: noticeBoardMerchantsMax }),
    publicShortlists(bank, branch.headId, branchIds),
    // The household leaderboard of the month (sql/households.ts) over the opted-in branches.
    bank.knex.raw(householdLeaderboardSql, {
      head: branch.headId, branches: wholeBank ? null : branchIds, from: month.from, to: month.to, asset: sortingAsset, limit: noticeBoardPeopleMax,
    }),
  ]);
  const branchName = async (id: string) => (await bank.branches.requireById(id)).name;

  type Row = { name: string; branchId: string; total: string; place: number };
  const people = { volunteer: [] as Row[], sorter: [] as Row[] };
  const members = new Map<string, number>();
  const active = new Map<string, number>();
  for (const r of activity.rows) {
    const branchId = String(r.branch_id);
    if (r.row_kind === 'person') people[r.board as 'volunteer' | 'sorter'].push({ name: r.name, branchId, total: r.total, place: r.count });
    else if (r.row_kind === 'members') members.set(branchId, r.count);
    else active.set(branchId, r.count);
  }
  const board = async (rows: Row[], asset: string): Promise<NoticeBoardPerson[]> => {
    const { scale } = bank.assets.get(asset);
    // The statement's order (total, then member id): ties keep one order from poll to poll.
    const sorted = rows.sort((a, b) => a.place - b.place);
    const rank = ranks(sorted, (a, b) => new Decimal(a.total).equals(b.total));
    return Promise.all(sorted.map(async (p, i) => ({ rank: rank[i]!, name: maskName(p.name), branchName: await branchName(p.branchId), amount: formatAmount(p.total, scale) })));
  };

  // 红黑榜: each opted-in child of the branch with the opted-in branches of its subtree (the others count nowhere).
  const children = (await bank.branches.children(branch)).filter((c) => covered.has(c.id));
  const tally = new Map(children.map((c) => [c.id, { name: c.name, members: 0, active: 0 }]));
  for (const id of covered) {
    if (id === branch.id) continue;
    const child = (await bank.branches.requireById(id)).path.slice(branch.path.length).split('/')[0]!;
    const t = tally.get(child);
    if (!t) continue; // under a child that did not opt in: in no child's figure
    t.members += members.get(id) ?? 0;
    t.active += active.get(id) ?? 0;
  }
  // A branch without members has no share to rank.
  const rated = [...tally.values()].filter((t) => t.members > 0)
    // Shares compared exactly: a/m against b/n as a·n against b·m (integers far below 2^53).
    .sort((a, b) => b.active * a.members - a.active * b.members || b.active - a.active || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rankOf = ranks(rated, (a, b) => a.active * b.members === b.active * a.members);
  const lines = rated.map((t, i): NoticeBoardBranchRank => ({
    rank: rankOf[i]!, name: t.name, members: t.members, activeMembers: t.active, activePercent: new Decimal(t.active).times(100).dividedBy(t.members).toFixed(1),
  }));
  // Best from the top, weakest from the bottom (weakest first), never the same branch on both.
  const bestCount = Math.min(noticeBoardRankingSideMax, Math.ceil(lines.length / 2));
  const best = lines.slice(0, bestCount);
  const weakest = lines.slice(bestCount).reverse().slice(0, noticeBoardRankingSideMax);

  const scale = bank.assets.get('POINTS').scale;
  const merchantRows = merchantLines.length === 0 ? [] : (await bank.knex('merchants').where({ head_id: branch.headId })
    .whereIn('id', merchantLines.map((l) => l.merchantId)).select('id', 'name', 'branch_id'));
  const merchantById = new Map(merchantRows.map((m: any) => [String(m.id), m]));
  return {
    code: branch.code, name: branch.name, month: month.month, from, to, timeZone: branch.timeZone, generatedAt: now,
    pools: await Promise.all(pools.rows.map(async (p: any): Promise<NoticeBoardPool> => ({
      title: p.title, target: formatAmount(p.target, scale), raised: formatAmount(p.raised, scale), status: p.status,
      branchName: await branchName(String(p.branch_id)), deadline: p.deadline,
    }))),
    volunteers: await board(people.volunteer, volunteerHoursAsset),
    sorters: await board(people.sorter, sortingAsset),
    participation: { ranked: lines.length, best, weakest },
    merchants: await Promise.all(merchantLines.map(async (l): Promise<NoticeBoardMerchant> => {
      const m = merchantById.get(l.merchantId);
      return { rank: l.rank, name: m.name, branchName: await branchName(String(m.branch_id)), pointsRedeemed: l.pointsRedeemed, residentsServed: l.residentsServed, redemptions: l.redemptions };
    })),
    selections: await Promise.all(shortlists.map(async (s): Promise<NoticeBoardSelection> => ({
      title: s.title, branchName: await branchName(s.branchId), publishedAt: s.publishedAt, periodEndsAt: s.periodEndsAt,
      candidates: s.candidates, openObjections: s.openObjections, names: s.names.map(maskName),
    }))),
    // Households that gained points this month; a household's name masked like a person's (王家 → 王*).
    households: await Promise.all(householdLines.rows.filter((r: any) => new Decimal(r.total).greaterThan(0)).map(async (r: any): Promise<NoticeBoardPerson> => ({
      rank: Number(r.rank), name: maskName(r.household.name), branchName: await branchName(String(r.household.branch_id)), amount: formatAmount(r.total, scale),
    }))),
  };
}

interface CachedBoard { expiresAt: number; answer: Promise<NoticeBoard | null> }
/** Per bank (each built app has its own), per branch id: the answer, shared by callers that ask while it is computed. */
const caches = new WeakMap<Bank, Map<string, CachedBoard>>();

/** Forgets every cached board of a bank (a board switched on or off shows at once in this process). */
export function forgetNoticeBoards(bank: Bank): void {
  caches.get(bank)?.clear();
}

/**
 * The public board of a branch by code, cached for noticeBoardCacheTtlMs (bank.clock). Unknown
 * branches are not cached (random codes must not push real boards out) and answer null, as a branch
 * that has not opted in does.
 */
export async function noticeBoard(bank: Bank, code: string, ttlMs = noticeBoardCacheTtlMs): Promise<NoticeBoard | null> {
  if (typeof code !== 'string' || !branchCodePattern.test(code)) throw badInput('branch', 'is not a branch code (letters, digits, ".", "_" or "-", up to 64 characters)');
  const branch = await bank.branches.byCodeOrNull(code);
  if (!branch) return null;
  let cache = caches.get(bank);
  if (!cache) caches.set(bank, cache = new Map());
  const now = bank.clock().getTime();
  const hit = cache.get(branch.id);
  if (hit && hit.expiresAt > now) return hit.answer;
  if (hit) cache.delete(branch.id);
  if (cache.size >= noticeBoardCacheBranchesMax) cache.delete(cache.keys().next().value!);
  const answer = computeNoticeBoard(bank, branch);
  const entry = { expiresAt: now + ttlMs, answer };
  cache.set(branch.id, entry);
  // A failed computation is not kept: the next poll tries again.
  answer.catch(() => { if (cache.get(branch.id) === entry) cache.delete(branch.id); });
  return answer;
}

/** Whether each branch (by id) shows a board, read from the database: the flag changes, the branch cache does not. */
export async function loadNoticeBoardFlags(bank: Bank, ids: readonly string[]): Promise<boolean[]> {
  const rows = await bank.knex('branches').whereIn('id', ids as string[]).select('id', 'notice_board');
  const byId = new Map(rows.map((r: any) => [String(r.id), Boolean(r.notice_board)]));
  return ids.map((id) => byId.get(id) ?? false);
}

/** An admin switches the board of a branch of its scope on or off; the answer is the branch. Setting it as it is changes nothing. */
export async function setNoticeBoard(bank: Bank, principal: Principal, input: { branch: string; enabled: boolean }): Promise<Branch> {
  requireRole(principal, 'admin');
  if (typeof input.enabled !== 'boolean') throw badInput('enabled', 'must be true or false');
  const branch = await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, `branch ${branch.code}`);
  await bank.knex('branches').where({ id: branch.id }).whereNot('notice_board', input.enabled)
    .update({ notice_board: input.enabled, notice_board_changed_by: principal.sub.slice(0, 200), notice_board_changed_at: bank.knex.fn.now() });
  // Its board and its ancestors' boards change: this process forgets its answers (others within the TTL).
  forgetNoticeBoards(bank);
  return branch;
}
