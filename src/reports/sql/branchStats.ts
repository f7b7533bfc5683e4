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
// Each member's rows are read once, sorted by member and asset, for the sums per branch and the
// active members in one aggregate: each row carries its amount as the figure it counts in (worked
// out in the scan, which parallel workers run), a row is marked its member's and asset's first by
// row_number() over the sorted rows (no hash table of a million members), and the member's branch
// comes from a merge join with members in id order. For a whole head bank the caller turns hash and
// nested-loop joins off for this statement, or the planner hashes a million members. Measured on
// the 20 M-posting bench set, head bank, same sitting: about 2.0 s as written, 2.7 s without those
// settings, 3.1 s for a hash join and a hashed DISTINCT, 4.0 s summing the history before the end.
// Bindings: head, branches (null: whole head bank), to (the period's end), assets (every asset
// code), rootPathLength, and the since range's (rangeBindings).
import { liveRows, scopedRollups, unfoldedBranchRows, type RollupRange } from './scope.js';

/** Rows of the report's assets: for a whole head bank this lets the rollups' period indexes (asset, month or year) find them. */
const reportAssets = 'r.asset_code = ANY (:assets::text[])';

/** The branch's members, with their branch. */
const membersInBranches = `SELECT m.id, m.branch_id FROM members m WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[])`;

/** `rows` (member_id, asset_code, in_period, …) sorted by member and asset, each marked whether it is the first of its member and asset (an in-period row first). */
const markFirst = (rows: string) => `
  SELECT t.*, row_number() OVER (PARTITION BY t.member_id, t.asset_code ORDER BY t.in_period DESC) = 1 AS first
    FROM (${rows} ORDER BY member_id, asset_code, in_period DESC OFFSET 0) t`;

/** A rollup row's amount as the figure it counts in (the others null), and whether it is in the period. */
const amounts = `r.starts < :to::date AS in_period,
  CASE WHEN r.starts < :to::date AND r.kind = 'EARN' THEN r.amount END AS issued,
  CASE WHEN r.starts < :to::date AND r.kind = 'DEDUCT' THEN -r.amount END AS deducted,
  CASE WHEN r.starts < :to::date AND r.kind = 'REDEEM' THEN -r.amount END AS redeemed,
  CASE WHEN r.starts < :to::date AND r.kind = 'REVERSAL' THEN r.amount END AS reversed,
  -- What today's balances hold that is dated on or after the period's end.
  CASE WHEN r.starts >= :to::date THEN -r.amount END AS outstanding`;

/** Rollup rows over `range` with their member's branch (branch_id), whether they are in the period (in_period) and the first of their member and asset (first). */
const movements = (wholeBank: boolean, range: RollupRange) => (wholeBank
  ? `SELECT m.branch_id, v.* FROM (${markFirst(`SELECT r.member_id, r.asset_code, ${amounts} FROM (${liveRows(range, reportAssets)}) r`)}) v
       JOIN members m ON m.head_id = :head AND m.id = v.member_id`
  : markFirst(`SELECT r.branch_id, r.member_id, r.asset_code, ${amounts}
                 FROM (${scopedRollups(false, range, reportAssets, membersInBranches, 's.branch_id, ')}) r`));

/** Member wallet balances now, per branch and asset. */
export const balancesNow = (wholeBank: boolean) => (wholeBank
  ? `SELECT a.branch_id, a.asset_code, sum(a.balance) AS amount FROM accounts a
      WHERE a.head_id = :head AND a.owner_type = 'MEMBER' AND a.balance <> 0 GROUP BY 1, 2`
  : `SELECT m.branch_id, a.asset_code, sum(a.balance) AS amount
       FROM members m JOIN accounts a ON a.head_id = m.head_id AND a.owner_type = 'MEMBER' AND a.owner_id = m.id
      WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[]) AND a.balance <> 0
      GROUP BY 1, 2`);

/** Per branch and asset figures (`per_branch`: branch_id, asset_code, issued, …) summed for the subtree (whole) and per child of the report's branch. */
const perChild = (perBranch: string) => `
  -- Per branch first (a few hundred rows), then per child: the grouping sets sort those, not a row per member.
  WITH per_branch AS (${perBranch})
  SELECT p.child_id, p.asset_code,
         sum(p.issued)::text AS issued, sum(p.deducted)::text AS deducted, sum(p.redeemed)::text AS redeemed,
         sum(p.reversed)::text AS reversed, sum(p.outstanding)::text AS outstanding,
         sum(p.active_members) AS active_members, GROUPING(p.child_id) = 1 AS whole
    FROM (SELECT pb.*, nullif(split_part(substr(b.path, :rootPathLength + 1), '/', 1), '') AS child_id
            FROM per_branch pb JOIN branches b ON b.id = pb.branch_id) p
   GROUP BY GROUPING SETS ((p.asset_code), (p.child_id, p.asset_code))`;

export const branchStatsSql = (wholeBank: boolean, since: RollupRange) => perChild(`
         SELECT x.branch_id, x.asset_code, sum(x.issued) AS issued, sum(x.deducted) AS deducted, sum(x.redeemed) AS redeemed,
                sum(x.reversed) AS reversed, sum(x.outstanding) AS outstanding, sum(x.active_members) AS active_members
           FROM (SELECT v.branch_id, v.asset_code, coalesce(sum(v.issued), 0) AS issued, coalesce(sum(v.deducted), 0) AS deducted,
                        coalesce(sum(v.redeemed), 0) AS redeemed, coalesce(sum(v.reversed), 0) AS reversed, coalesce(sum(v.outstanding), 0) AS outstanding,
                        count(*) FILTER (WHERE v.first AND v.in_period) AS active_members
                   FROM (${movements(wholeBank, since)}) v GROUP BY 1, 2
                 UNION ALL
                 SELECT b.branch_id, b.asset_code, 0, 0, 0, 0, b.amount, 0 FROM (${balancesNow(wholeBank)}) b) x
          GROUP BY 1, 2`);

/**
 * The head bank's branch rollup rows up to a year, the deltas the settler has not folded into them
 * yet (migration 050), and the journal's tail not folded into the member rollups yet (migration 062).
 */
const branchYearRows = (wholeBank: boolean) => [
  ...['branch_year_rollups', 'branch_year_deltas'].map((table) => `
    SELECT r.branch_id, r.asset_code, r.year, r.earned, r.deducted, r.redeemed, r.reversed, r.net, r.active_members FROM ${table} r
     WHERE r.head_id = :head AND r.year <= :year::date${wholeBank ? '' : ' AND r.branch_id = ANY (:branches::bigint[])'}`),
  `SELECT r.branch_id, r.asset_code, r.year, r.earned, r.deducted, r.redeemed, r.reversed, r.net, r.active_members
     FROM (${unfoldedBranchRows(`u.year <= :year::date${wholeBank ? '' : ' AND u.branch_id = ANY (:branches::bigint[])'}`)})
          r (branch_id, asset_code, year, earned, deducted, redeemed, reversed, net, postings, active_members)`,
].join(' UNION ALL ');

/**
 * A calendar year's figures from the branch rollups (migration 050): the year's rows for the
 * flows and the active members, every row up to the year's for outstanding (what members held at
 * its end). A whole head bank reads a row per branch, asset and year of history, and the deltas
 * and the journal's tail not yet folded (a settler's interval of writes): however many members and postings it has.
 * Bindings: head, branches (null: whole head bank), year (its first day), rootPathLength.
 */
export const branchStatsYearSql = (wholeBank: boolean) => perChild(`
    SELECT b.branch_id, b.asset_code,
           coalesce(sum(b.earned) FILTER (WHERE b.year = :year::date), 0) AS issued,
           coalesce(-sum(b.deducted) FILTER (WHERE b.year = :year::date), 0) AS deducted,
           coalesce(-sum(b.redeemed) FILTER (WHERE b.year = :year::date), 0) AS redeemed,
           coalesce(sum(b.reversed) FILTER (WHERE b.year = :year::date), 0) AS reversed,
           sum(b.net) AS outstanding,
           coalesce(sum(b.active_members) FILTER (WHERE b.year = :year::date), 0) AS active_members
      FROM (${branchYearRows(wholeBank)}) b
     GROUP BY 1, 2`);
