// Branch statistics, per asset, for a branch subtree and for each child's subtree: issued (EARN),
// deducted (DEDUCT), redeemed (REDEEM) and reversed (REVERSAL, net) in the period, outstanding (all
// member balances at the end of the period) and active members (with any posted movement in the
// period). Member wallets only: what members hold, not system accounts.
// One read of each member's rollup rows dated before the period's end (sql/scope.ts historyRange):
// whole years from the yearly rollups, months only around a period that is not whole years, so
// outstanding sums a few rows per member and year of history, never the months' or postings' count.
// per_member is MATERIALIZED (computed once): otherwise a parallel plan for a whole head bank had
// each worker aggregate all of its rows again (5.1 s instead of 3.7 s, measured during a load).
// Bindings: head, branches (null: whole head bank), from (the period's first day), rootPathLength,
// and the history range's.
import { scopedRollups, type RollupRange } from './scope.js';

export const branchStatsSql = (wholeBank: boolean, history: RollupRange) => `
  WITH per_member AS MATERIALIZED (
         SELECT r.member_id, r.asset_code,
                coalesce(sum(r.amount) FILTER (WHERE r.starts >= :from::date AND r.kind = 'EARN'), 0) AS issued,
                coalesce(-sum(r.amount) FILTER (WHERE r.starts >= :from::date AND r.kind = 'DEDUCT'), 0) AS deducted,
                coalesce(-sum(r.amount) FILTER (WHERE r.starts >= :from::date AND r.kind = 'REDEEM'), 0) AS redeemed,
                coalesce(sum(r.amount) FILTER (WHERE r.starts >= :from::date AND r.kind = 'REVERSAL'), 0) AS reversed,
                sum(r.amount) AS outstanding,
                bool_or(r.starts >= :from::date) AS active
           FROM (${scopedRollups(wholeBank, history, 'true')}) r
          GROUP BY 1, 2)
  -- Per branch first (a few hundred rows), then per child: the grouping sets sort those, not a row per member.
  , per_branch AS (
         SELECT m.branch_id, pm.asset_code, sum(pm.issued) AS issued, sum(pm.deducted) AS deducted, sum(pm.redeemed) AS redeemed,
                sum(pm.reversed) AS reversed, sum(pm.outstanding) AS outstanding, count(*) FILTER (WHERE pm.active) AS active_members
           FROM per_member pm
           JOIN members m ON m.head_id = :head AND m.id = pm.member_id
          GROUP BY 1, 2)
  SELECT p.child_id, p.asset_code,
         sum(p.issued)::text AS issued, sum(p.deducted)::text AS deducted, sum(p.redeemed)::text AS redeemed,
         sum(p.reversed)::text AS reversed, sum(p.outstanding)::text AS outstanding,
         sum(p.active_members) AS active_members, GROUPING(p.child_id) = 1 AS whole
    FROM (SELECT pb.*, nullif(split_part(substr(b.path, :rootPathLength + 1), '/', 1), '') AS child_id
            FROM per_branch pb JOIN branches b ON b.id = pb.branch_id) p
   GROUP BY GROUPING SETS ((p.asset_code), (p.child_id, p.asset_code))`;
