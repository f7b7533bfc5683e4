// A branch subtree's figures month by month (the console's dashboard chart): per month and asset of
// member wallets, issued (EARN), deducted, redeemed, reversed, the net movement and the members with
// any posted movement; per month the members active in any asset. Read from the monthly member
// rollups from the period's first month on, including months after it (the caller works out what
// members held at the end of each month as today's balances less the net movements dated later:
// the same reasoning as branchStats' outstanding, sql/branchStats.ts).
// Bindings: head, branches (null: the whole head bank), assets, and monthsSince's (rangeBindings).
import { balancesNow } from './branchStats.js';
import { scopedRollups, type RollupRange } from './scope.js';

/** Every month from `from` on: monthly rows only, so that each month stands alone (bindings named since…). */
export const monthsSince = (from: string): RollupRange => ({ name: 'since', slices: [{ grain: 'month', from, to: null }] });

export const branchMonthsSql = (wholeBank: boolean, range: RollupRange) => `
  WITH rows AS (${scopedRollups(wholeBank, range, 'r.asset_code = ANY (:assets::text[])')})
  SELECT r.starts::text AS month, r.asset_code,
         coalesce(sum(r.amount) FILTER (WHERE r.kind = 'EARN'), 0)::text AS issued,
         coalesce(-sum(r.amount) FILTER (WHERE r.kind = 'DEDUCT'), 0)::text AS deducted,
         coalesce(-sum(r.amount) FILTER (WHERE r.kind = 'REDEEM'), 0)::text AS redeemed,
         coalesce(sum(r.amount) FILTER (WHERE r.kind = 'REVERSAL'), 0)::text AS reversed,
         sum(r.amount)::text AS net, count(DISTINCT r.member_id)::int AS active_members, GROUPING(r.asset_code) = 1 AS any_asset
    FROM rows r
   GROUP BY GROUPING SETS ((r.starts, r.asset_code), (r.starts))`;

/** What member wallets of the scope hold now, per asset. */
export const balancesNowSql = (wholeBank: boolean) => `
  SELECT b.asset_code, sum(b.amount)::text AS amount FROM (${balancesNow(wholeBank)}) b GROUP BY 1`;
