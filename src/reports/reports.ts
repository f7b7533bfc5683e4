// Period reports over rollups (never over raw postings): party scores (党员积分) of a branch subtree,
// leaderboards, branch statistics and a member's statement. Party scores and statistics are read by
// admins of the branch or above; a statement by its member or an admin whose scope covers it.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import type { Branch } from '../directory/branches.js';
import { requireMemberVisible, toMember, type Member } from '../directory/members.js';
import { badInput } from '../errors.js';
import { formatAmount } from '../ledger/amounts.js';
import { checkPageSize } from '../ledger/transactions.js';
import { calendarYearOf, checkPeriod, type Period, type PeriodInput } from './period.js';
import { branchStatsSql, branchStatsYearSql } from './sql/branchStats.js';
import { leaderboardSql } from './sql/leaderboard.js';
import { partyScoreCategoriesSql, partyScoresSql } from './sql/partyScores.js';
import { periodRange, rangeBindings, sinceRange } from './sql/scope.js';
import { householdStatementMovementsSql, householdStatementTotalsSql, statementMovementsSql, statementTotalsSql } from './sql/statement.js';
import { requireHouseholdVisible, type Household } from '../households/households.js';

export const partyScoreAsset = 'PARTY_SCORE';

/** A report's scope: the branch (in the principal's scope) and its subtree's ids, or null for a whole head bank. */
export interface ReportScope { branch: Branch; branchIds: string[] | null }

export async function reportScope(bank: Bank, principal: Principal, branchCode: string | null | undefined): Promise<ReportScope> {
  requireRole(principal, 'admin');
  const branch = branchCode ? await bank.branches.require(branchCode) : principal.branch;
  requireScope(principal, branch, 'branch');
  // A head bank's subtree is every member of the bank: no list to filter by (a million ids).
  const branchIds = branch.parentId === null ? null : (await bank.branches.subtree(branch)).map((b) => b.id);
  return { branch, branchIds };
}

/** A report's bindings: its head bank, branches and its period's rollup slices (sql/scope.ts). */
export function reportBindings(scope: ReportScope, period: Period) {
  return { head: scope.branch.headId, branches: scope.branchIds, ...rangeBindings(periodRange(period)) };
}

export interface CategoryAmount { category: string; amount: string }

export interface PartyScoreRow {
  member: Member;
  total: string;
  rank: number;
  breakdown: CategoryAmount[];
}

export function partyScoreRowFrom(bank: Bank, r: any): PartyScoreRow {
  const { scale } = bank.assets.get(partyScoreAsset);
  return {
    member: toMember({ ...r.member, created_at: new Date(r.member.created_at), updated_at: new Date(r.member.updated_at) }),
    total: formatAmount(r.total, scale), rank: Number(r.rank),
    breakdown: Object.entries(r.breakdown as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([category, amount]) => ({ category, amount: formatAmount(amount, scale) })),
  };
}

export interface PartyScorePage { rows: PartyScoreRow[]; offset: number; members: number; hasNextPage: boolean; period: Period }

export function encodeOffsetCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeOffsetCursor(cursor: string | null | undefined): number {
  if (cursor == null) return 0;
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badInput('after', 'is not a cursor from this API');
  return Number(match[1]) + 1;
}

/** Every party member of the subtree with total, rank and breakdown by category, highest first. */
export async function partyScores(
  bank: Bank, principal: Principal, args: { branch?: string | null; period: PeriodInput; first?: number | null; after?: string | null },
): Promise<PartyScorePage> {
  const scope = await reportScope(bank, principal, args.branch);
  const period = checkPeriod(args.period);
  const size = checkPageSize(args.first);
  const offset = decodeOffsetCursor(args.after);
  const { rows } = await bank.knex.raw(partyScoresSql(scope.branchIds === null, periodRange(period), true),
    { ...reportBindings(scope, period), limit: size + 1, offset });
  const members = rows.length ? Number(rows[0].members) : 0;
  return { rows: rows.slice(0, size).map((r: any) => partyScoreRowFrom(bank, r)), offset, members, hasNextPage: rows.length > size, period };
}

/** The categories of a party-score report (for the CSV's columns). */
export async function partyScoreCategories(bank: Bank, scope: ReportScope, period: Period): Promise<string[]> {
  const { rows } = await bank.knex.raw(partyScoreCategoriesSql(periodRange(period)), reportBindings(scope, period));
  return rows.map((r: any) => r.category);
}

export interface LeaderboardRow { member: Member; total: string; rank: number }

/** A leaderboard holds at most this many places: it is a board, not an export. */
export const leaderboardSizeMax = 200;

export async function leaderboard(
  bank: Bank, principal: Principal, args: { branch?: string | null; asset: string; period: PeriodInput; first?: number | null },
): Promise<LeaderboardRow[]> {
  const scope = await reportScope(bank, principal, args.branch);
  const asset = bank.assets.get(args.asset);
  const period = checkPeriod(args.period);
  const size = args.first ?? 20;
  if (!Number.isInteger(size) || size < 1 || size > leaderboardSizeMax) throw badInput('first', `must be between 1 and ${leaderboardSizeMax}`);
  const { rows } = await bank.knex.raw(leaderboardSql(scope.branchIds === null, periodRange(period)), { ...reportBindings(scope, period), asset: asset.code, limit: size });
  return rows.map((r: any) => ({
    member: toMember({ ...r.member, created_at: new Date(r.member.created_at), updated_at: new Date(r.member.updated_at) }),
    total: formatAmount(r.total, asset.scale), rank: Number(r.rank),
  }));
}

export interface AssetStats {
  asset: string;
  issued: string;
  deducted: string;
  redeemed: string;
  reversed: string;
  outstanding: string;
  activeMembers: number;
}

export interface BranchStatsRow { branch: Branch; assets: AssetStats[] }
/** `scope` and `period`: what the figures cover, for fields resolved beside them (the households, sql/households.ts). */
export interface BranchStats { branch: Branch; assets: AssetStats[]; children: BranchStatsRow[]; scope: ReportScope; period: Period }

export async function branchStats(bank: Bank, principal: Principal, args: { branch?: string | null; period: PeriodInput }): Promise<BranchStats> {
  const scope = await reportScope(bank, principal, args.branch);
  const period = checkPeriod(args.period);
  const wholeBank = scope.branchIds === null;
  const year = calendarYearOf(period);
  const rows = await bank.knex.transaction(async (trx) => {
    // A calendar year: the branch rollups (sql/branchStats.ts), a few thousand rows.
    if (year !== null) {
      return (await trx.raw(branchStatsYearSql(wholeBank), { head: scope.branch.headId, branches: scope.branchIds, year, rootPathLength: scope.branch.path.length })).rows;
    }
    // Any other months: the member rollups. A whole head bank's rows meet its members in a merge join, for this statement only.
    const since = sinceRange(period);
    if (wholeBank) await trx.raw(`SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_nestloop', 'off', true)`);
    return (await trx.raw(branchStatsSql(wholeBank, since), {
      ...reportBindings(scope, period), ...rangeBindings(since), to: period.to, assets: bank.assets.all().map((a) => a.code), rootPathLength: scope.branch.path.length,
    })).rows;
  }, { readOnly: true });
  const zero = (asset: string): AssetStats => {
    const z = formatAmount('0', bank.assets.get(asset).scale);
    return { asset, issued: z, deducted: z, redeemed: z, reversed: z, outstanding: z, activeMembers: 0 };
  };
  const blank = () => new Map(bank.assets.all().map((a) => [a.code, zero(a.code)]));
  const whole = blank();
  const children = new Map((await bank.branches.children(scope.branch)).map((b) => [b.id, { branch: b, assets: blank() }]));
  for (const r of rows) {
    const { scale } = bank.assets.get(r.asset_code);
    const stats: AssetStats = {
      asset: r.asset_code, issued: formatAmount(r.issued, scale), deducted: formatAmount(r.deducted, scale),
      redeemed: formatAmount(r.redeemed, scale), reversed: formatAmount(r.reversed, scale),
      outstanding: formatAmount(r.outstanding, scale), activeMembers: Number(r.active_members),
    };
    if (r.whole) whole.set(r.asset_code, stats);
    else if (r.child_id !== null) children.get(r.child_id)?.assets.set(r.asset_code, stats);
  }
  return {
    branch: scope.branch, scope, period, assets: [...whole.values()],
    children: [...children.values()].map((c) => ({ branch: c.branch, assets: [...c.assets.values()] })),
  };
}

export interface StatementLine { transactionId: string; kind: string; occurredAt: Date; asset: string; amount: string; category: string; memo: string | null }
export interface StatementTotal { asset: string; opening: string; net: string; closing: string; postings: number }
/**
 * `member`: whose statement it is (the expiring points read it; not a field of the SDL's Statement);
 * null for a household's statement (户).
 */
export interface Statement { from: string; to: string; member: Member | null; totals: StatementTotal[]; movements: StatementLine[]; movementsTruncated: boolean }

/** A statement lists at most this many movements; totals always cover the whole period. */
export const statementMovementsMax = 1000;

export async function memberStatement(bank: Bank, principal: Principal, member: Member, input: PeriodInput): Promise<Statement> {
  await requireMemberVisible(bank, principal, member);
  const period = checkPeriod(input);
  const bindings = { head: member.headId, member: member.id, from: period.from, to: period.to };
  return statementOf(bank, period, member, statementTotalsSql, statementMovementsSql, bindings);
}

/** A household's statement (户): its wallets' postings, as a member's statement reads the member's. */
export async function householdStatement(bank: Bank, principal: Principal, household: Household, input: PeriodInput): Promise<Statement> {
  await requireHouseholdVisible(bank, principal, household);
  const period = checkPeriod(input);
  const bindings = { head: household.headId, household: household.id, from: period.from, to: period.to };
  return statementOf(bank, period, null, householdStatementTotalsSql, householdStatementMovementsSql, bindings);
}

async function statementOf(bank: Bank, period: Period, member: Member | null, totalsSql: string, movementsSql: string,
  bindings: Record<string, string>): Promise<Statement> {
  const [totals, movements] = await Promise.all([
    bank.knex.raw(totalsSql, bindings),
    bank.knex.raw(movementsSql, { ...bindings, limit: statementMovementsMax + 1 }),
  ]);
  const byAsset = new Map(totals.rows.map((r: any) => [r.asset_code, r]));
  return {
    from: period.from, to: period.to, member,
    totals: bank.assets.all().map((a) => {
      const r: any = byAsset.get(a.code);
      const opening = new Decimal(r?.opening ?? 0);
      const net = new Decimal(r?.net ?? 0);
      return { asset: a.code, opening: formatAmount(opening, a.scale), net: formatAmount(net, a.scale), closing: formatAmount(opening.plus(net), a.scale), postings: Number(r?.postings ?? 0) };
    }),
    movements: movements.rows.slice(0, statementMovementsMax).map((r: any) => ({
      transactionId: r.transaction_id, kind: r.kind, occurredAt: r.occurred_at, asset: r.asset_code,
      amount: formatAmount(r.amount, bank.assets.get(r.asset_code).scale), category: r.category, memo: r.memo,
    })),
    movementsTruncated: movements.rows.length > statementMovementsMax,
  };
}
