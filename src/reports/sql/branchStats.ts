// Branch statistics, per asset, for a branch subtree and for each child's subtree: issued (EARN),
// deducted (DEDUCT), redeemed (REDEEM) and reversed (REVERSAL, net) in the period and active
// members (with any posted movement in it), from rollups; outstanding (all member balances at the
// end of the period) as the wallets' balances now less the movements dated after the period, so
// that no report sums all history. Member wallets only: what members hold, not system accounts.
// Outstanding is exact because a wallet's balance is the sum of its POSTED postings (invariant 2)
// and the rollups hold exactly those postings (findRollupMismatches).
// Bindings: head, branches (null: whole head bank), rootPathLength, and the period and later ranges'.
import { inBranches, scopedRollups, type RollupRange } from './scope.js';

export const branchStatsSql = (wholeBank: boolean, period: RollupRange, later: RollupRange) => `
  WITH movements AS (
         SELECT r.member_id, r.asset_code,
                coalesce(sum(r.amount) FILTER (WHERE r.in_period AND r.kind = 'EARN'), 0) AS issued,
                coalesce(-sum(r.amount) FILTER (WHERE r.in_period AND r.kind = 'DEDUCT'), 0) AS deducted,
                coalesce(-sum(r.amount) FILTER (WHERE r.in_period AND r.kind = 'REDEEM'), 0) AS redeemed,
                coalesce(sum(r.amount) FILTER (WHERE r.in_period AND r.kind = 'REVERSAL'), 0) AS reversed,
                coalesce(sum(r.amount) FILTER (WHERE NOT r.in_period), 0) AS later,
                bool_or(r.in_period) AS active
           FROM (SELECT p.*, true AS in_period FROM (${scopedRollups(wholeBank, period, 'true')}) p
                 UNION ALL
                 SELECT l.*, false AS in_period FROM (${scopedRollups(wholeBank, later, 'true')}) l) r
          GROUP BY 1, 2),
       wallets AS (
         SELECT a.owner_id AS member_id, a.asset_code, a.balance
           FROM ${wholeBank ? 'accounts a' : `(${inBranches}) s JOIN accounts a ON a.head_id = :head AND a.owner_type = 'MEMBER' AND a.owner_id = s.id`}
          WHERE a.head_id = :head AND a.owner_type = 'MEMBER'),
       placed AS (
         SELECT w.asset_code, w.balance - coalesce(x.later, 0) AS outstanding, x.issued, x.deducted, x.redeemed, x.reversed, x.active,
                nullif(split_part(substr(b.path, :rootPathLength + 1), '/', 1), '') AS child_id
           FROM wallets w
           LEFT JOIN movements x ON x.member_id = w.member_id AND x.asset_code = w.asset_code
           JOIN members m ON m.head_id = :head AND m.id = w.member_id
           JOIN branches b ON b.id = m.branch_id)
  SELECT p.child_id, p.asset_code,
         coalesce(sum(p.issued), 0)::text AS issued, coalesce(sum(p.deducted), 0)::text AS deducted, coalesce(sum(p.redeemed), 0)::text AS redeemed,
         coalesce(sum(p.reversed), 0)::text AS reversed, sum(p.outstanding)::text AS outstanding,
         count(*) FILTER (WHERE p.active) AS active_members, GROUPING(p.child_id) = 1 AS whole
    FROM placed p
   GROUP BY GROUPING SETS ((p.asset_code), (p.child_id, p.asset_code))`;
