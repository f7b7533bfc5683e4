// Branch statistics from rollups, per asset, for a branch subtree and for each child's subtree:
// issued (EARN), deducted (DEDUCT), redeemed (REDEEM) and reversed (REVERSAL, net) in the period,
// outstanding (all member balances at the end of the period) and active members (with any posted
// movement in the period). Member wallets only: what members hold, not system accounts.
// Bindings: head, branches (null: whole head bank), from, to, rootPathLength.
import { scopedRollups } from './scope.js';

export const branchStatsSql = (wholeBank: boolean) => `
  WITH per_member AS (
         SELECT r.member_id, r.asset_code,
                coalesce(sum(r.amount) FILTER (WHERE r.month >= :from::date AND r.kind = 'EARN'), 0) AS issued,
                coalesce(-sum(r.amount) FILTER (WHERE r.month >= :from::date AND r.kind = 'DEDUCT'), 0) AS deducted,
                coalesce(-sum(r.amount) FILTER (WHERE r.month >= :from::date AND r.kind = 'REDEEM'), 0) AS redeemed,
                coalesce(sum(r.amount) FILTER (WHERE r.month >= :from::date AND r.kind = 'REVERSAL'), 0) AS reversed,
                sum(r.amount) AS outstanding,
                bool_or(r.month >= :from::date) AS active
           FROM (${scopedRollups(wholeBank, 'r.month < :to::date')}) r
          GROUP BY 1, 2)
  , placed AS (
         SELECT pm.*, nullif(split_part(substr(b.path, :rootPathLength + 1), '/', 1), '') AS child_id
           FROM per_member pm
           JOIN members m ON m.head_id = :head AND m.id = pm.member_id
           JOIN branches b ON b.id = m.branch_id)
  SELECT p.child_id, p.asset_code,
         sum(p.issued)::text AS issued, sum(p.deducted)::text AS deducted, sum(p.redeemed)::text AS redeemed,
         sum(p.reversed)::text AS reversed, sum(p.outstanding)::text AS outstanding,
         count(*) FILTER (WHERE p.active) AS active_members, GROUPING(p.child_id) = 1 AS whole
    FROM placed p
   GROUP BY GROUPING SETS ((p.asset_code), (p.child_id, p.asset_code))`;
