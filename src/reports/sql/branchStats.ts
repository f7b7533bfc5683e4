// Branch statistics, per asset, for a branch subtree and for each child's subtree: issued (EARN),
// deducted (DEDUCT), redeemed (REDEEM) and reversed (REVERSAL, net) in the period, outstanding (all
// member balances at the end of the period) and active members (with any posted movement in the
// period). Member wallets only: what members hold, not system accounts. A member counts in the
// branch it is in now, with all its history.
// Outstanding is what member wallets hold now less what is dated on or after the period's end
// (invariant 2: a balance is the sum of its POSTED postings, and the rollups hold exactly those, so
// this equals the sum of everything dated before the end). So the report reads each member's rollup
// rows from the period's start on (sql/scope.ts sinceRange; for a period that ends after now, just
// the period's) and the wallets, and no longer every row of every year before the period's end,
// which grew with years of history (head bank: 2.9 s at 2 M postings, 4.3 s at 20 M).
// For a whole head bank the wallets are grouped by accounts.branch_id, without joining a million
// members: migration 032 keeps a member wallet's branch equal to its member's. For a branch, the
// planner joins its members to their wallets (probes for a small branch, one scan for a street).
// The rows are read once (MATERIALIZED, with each member's branch) for two aggregates: the sums per
// branch (a few hundred groups) and the distinct active members per branch, instead of a row per
// member carrying four sums (a hash table of ~500 bytes a member).
// Bindings: head, branches (null: whole head bank), to (the period's end), assets (every asset
// code), rootPathLength, and the since range's (rangeBindings).
import { rangeRows, scopedRollups, type RollupRange } from './scope.js';

/** Rows of the report's assets: for a whole head bank this lets the rollups' period indexes (asset, month or year) find them. */
const reportAssets = 'r.asset_code = ANY (:assets::text[])';

/** The branch's members, with their branch. */
const membersInBranches = `SELECT m.id, m.branch_id FROM members m WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[])`;

/** Rollup rows over `range` with their member's branch (branch_id) and whether they are in the period (in_period). */
const rowsWithBranch = (wholeBank: boolean, range: RollupRange) => `
  SELECT ${wholeBank ? 'm.branch_id' : 'r.branch_id'}, r.member_id, r.asset_code, r.kind, r.amount, r.starts < :to::date AS in_period
    FROM (${wholeBank ? rangeRows(range, reportAssets) : scopedRollups(false, range, reportAssets, membersInBranches, 's.branch_id, ')}) r
    ${wholeBank ? 'JOIN members m ON m.head_id = :head AND m.id = r.member_id' : ''}`;

/** Member wallet balances now, per branch and asset. */
const balancesNow = (wholeBank: boolean) => (wholeBank
  ? `SELECT a.branch_id, a.asset_code, sum(a.balance) AS amount FROM accounts a
      WHERE a.head_id = :head AND a.owner_type = 'MEMBER' AND a.balance <> 0 GROUP BY 1, 2`
  : `SELECT m.branch_id, a.asset_code, sum(a.balance) AS amount
       FROM members m JOIN accounts a ON a.head_id = m.head_id AND a.owner_type = 'MEMBER' AND a.owner_id = m.id
      WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[]) AND a.balance <> 0
      GROUP BY 1, 2`);

export const branchStatsSql = (wholeBank: boolean, since: RollupRange) => `
  WITH movements AS MATERIALIZED (${rowsWithBranch(wholeBank, since)})
  -- Per branch first (a few hundred rows), then per child: the grouping sets sort those, not a row per member.
  , per_branch AS (
         SELECT x.branch_id, x.asset_code, sum(x.issued) AS issued, sum(x.deducted) AS deducted, sum(x.redeemed) AS redeemed,
                sum(x.reversed) AS reversed, sum(x.outstanding) AS outstanding, sum(x.active_members) AS active_members
           FROM (SELECT v.branch_id, v.asset_code,
                        coalesce(sum(v.amount) FILTER (WHERE v.in_period AND v.kind = 'EARN'), 0) AS issued,
                        coalesce(-sum(v.amount) FILTER (WHERE v.in_period AND v.kind = 'DEDUCT'), 0) AS deducted,
                        coalesce(-sum(v.amount) FILTER (WHERE v.in_period AND v.kind = 'REDEEM'), 0) AS redeemed,
                        coalesce(sum(v.amount) FILTER (WHERE v.in_period AND v.kind = 'REVERSAL'), 0) AS reversed,
                        -- What today's balances hold that is dated on or after the period's end.
                        coalesce(-sum(v.amount) FILTER (WHERE NOT v.in_period), 0) AS outstanding,
                        0 AS active_members
                   FROM movements v GROUP BY 1, 2
                 UNION ALL
                 SELECT d.branch_id, d.asset_code, 0, 0, 0, 0, 0, count(*)
                   FROM (SELECT DISTINCT v.branch_id, v.member_id, v.asset_code FROM movements v WHERE v.in_period) d GROUP BY 1, 2
                 UNION ALL
                 SELECT b.branch_id, b.asset_code, 0, 0, 0, 0, b.amount, 0 FROM (${balancesNow(wholeBank)}) b) x
          GROUP BY 1, 2)
  SELECT p.child_id, p.asset_code,
         sum(p.issued)::text AS issued, sum(p.deducted)::text AS deducted, sum(p.redeemed)::text AS redeemed,
         sum(p.reversed)::text AS reversed, sum(p.outstanding)::text AS outstanding,
         sum(p.active_members) AS active_members, GROUPING(p.child_id) = 1 AS whole
    FROM (SELECT pb.*, nullif(split_part(substr(b.path, :rootPathLength + 1), '/', 1), '') AS child_id
            FROM per_branch pb JOIN branches b ON b.id = pb.branch_id) p
   GROUP BY GROUPING SETS ((p.asset_code), (p.child_id, p.asset_code))`;
