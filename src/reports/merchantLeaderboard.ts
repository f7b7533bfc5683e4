// 公益企业英雄榜, the merchants' honour board: merchants of a branch subtree ranked by the points of
// the vouchers they fulfilled in a period (refunded ones do not count) and the residents they served.
// Read from redemptions (indexed by fulfilment time), not from rollups: a board is a few merchants.
// A public board: any member or merchant of the head bank may read it; admins and clients in scope.
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import type { Branch } from '../directory/branches.js';
import { requireScope } from '../auth/principal.js';
import { BankError, badInput } from '../errors.js';
import { formatAmount } from '../ledger/amounts.js';
import { checkPeriod, type PeriodInput } from './period.js';

/** The board shows at most this many merchants. */
export const leaderboardSizeMax = 100;

export interface MerchantLeaderboardLine { rank: number; merchantId: string; pointsRedeemed: string; residentsServed: number; redemptions: number }

/** The board over a report period (a year or whole months of the bank's calendar, like the other reports). */
export async function merchantLeaderboard(bank: Bank, principal: Principal, branchCode: string | null, periodInput: PeriodInput, first: number | null | undefined) {
  const size = first ?? 20;
  if (!Number.isInteger(size) || size < 1 || size > leaderboardSizeMax) throw badInput('first', `must be between 1 and ${leaderboardSizeMax}`);
  const period = checkPeriod(periodInput);
  const branch: Branch = branchCode == null ? principal.branch : await bank.branches.require(branchCode, 'branch');
  if (principal.role === 'admin' || principal.role === 'client') requireScope(principal, branch, 'branch');
  else if (branch.headId !== principal.headId) throw new BankError('FORBIDDEN', `branch ${branch.code} belongs to another bank`);
  const { rows: [bounds] } = await bank.knex.raw(`SELECT (?::date)::timestamp AT TIME ZONE ? AS "from", (?::date)::timestamp AT TIME ZONE ? AS "to"`,
    [period.from, branch.timeZone, period.to, branch.timeZone]);
  const { from, to } = bounds as { from: Date; to: Date };
  const lines = await merchantLeaderboardLines(bank, { headId: principal.headId, from, to, branchPath: branch.path, branchIds: null, size });
  return { branch, from, to, lines };
}

/**
 * The board's lines: merchants of a subtree (branchPath) or of some branches (branchIds; the public
 * notice board passes its opted-in branches) by POINTS of vouchers fulfilled in [from, to). The
 * caller has checked access. Reads the fulfilments of the period (index redemptions_fulfilled).
 */
export async function merchantLeaderboardLines(
  bank: Bank, q: { headId: string; from: Date; to: Date; branchPath: string | null; branchIds: string[] | null; size: number },
): Promise<MerchantLeaderboardLine[]> {
  const { rows } = await bank.knex.raw(`
    SELECT rank() OVER (ORDER BY s.points DESC) AS rank, s.*
      FROM (SELECT r.merchant_id, sum(r.cost) AS points, count(DISTINCT r.member_id)::int AS residents, count(*)::int AS redemptions
              FROM redemptions r
              JOIN merchants mc ON mc.head_id = r.head_id AND mc.id = r.merchant_id
              JOIN branches b ON b.id = mc.branch_id
             WHERE r.head_id = :head AND r.fulfilled_at >= :from AND r.fulfilled_at < :to AND r.status = 'FULFILLED'
               AND (:path::text IS NULL OR starts_with(b.path, :path::text)) AND (:branches::bigint[] IS NULL OR mc.branch_id = ANY (:branches::bigint[]))
             GROUP BY r.merchant_id) s
     ORDER BY s.points DESC, s.merchant_id LIMIT :limit`,
  { head: q.headId, from: q.from, to: q.to, path: q.branchPath, branches: q.branchIds, limit: q.size });
  const scale = bank.assets.get('POINTS').scale;
  return rows.map((r: any): MerchantLeaderboardLine => ({
    rank: Number(r.rank), merchantId: String(r.merchant_id), pointsRedeemed: formatAmount(r.points, scale),
    residentsServed: r.residents, redemptions: r.redemptions,
  }));
}
