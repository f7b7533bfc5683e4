// Household reports (户, migration 073) over household_rollups and the unfolded tail of the journal
// (cb_unfolded_household_postings), in one statement, so in one snapshot with the fold's cursor: a
// read includes every write acknowledged before it, exactly once, as the member reports do
// (sql/scope.ts). A household counts in the branch it is in now, with all its history.
// Bindings: head, branches (bigint[] of the subtree; null: the whole head bank), from and to (first
// days of months, the period [from, to)).

/** The households of the report's branches (id). */
export const householdsInScope = `
  SELECT h.id FROM households h WHERE h.head_id = :head AND (:branches::bigint[] IS NULL OR h.branch_id = ANY (:branches::bigint[]))`;

/**
 * Rows (household_id, asset_code, kind, amount) of the households that `households` selects (as id),
 * in the period, matching `where` (on r: asset_code, kind): folded rows probed household by household
 * (the rollup's key leads with the household), and the tail, read once and joined to the households.
 */
export const householdPeriodRows = (households: string, where = 'true') => `
  SELECT r.household_id, r.asset_code, r.kind, r.amount
    FROM (${households}) s
    JOIN household_rollups r ON r.head_id = :head AND r.household_id = s.id
   WHERE r.month >= :from::date AND r.month < :to::date AND ${where}
  UNION ALL
  SELECT r.household_id, r.asset_code, r.kind, r.amount
    FROM cb_unfolded_household_postings(:head) r
    JOIN (${households}) s ON s.id = r.household_id
   WHERE r.month >= :from::date AND r.month < :to::date AND ${where}`;

/**
 * The household leaderboard: households of the branches by their net amount of one asset in the
 * period, highest first, ties sharing a rank (1, 1, 3); households without movements of the asset in
 * the period are not on it, as on the members' leaderboard. Also binds asset and limit.
 */
export const householdLeaderboardSql = `
  WITH sums AS (
         SELECT x.household_id, sum(x.amount) AS total
           FROM (${householdPeriodRows(householdsInScope, 'r.asset_code = :asset')}) x
          GROUP BY 1),
       ranked AS (SELECT s.household_id, s.total, rank() OVER (ORDER BY s.total DESC) AS rank FROM sums s
                   ORDER BY s.total DESC, s.household_id LIMIT :limit)
  SELECT to_jsonb(h) AS household, x.total::text AS total, x.rank
    FROM ranked x JOIN households h ON h.head_id = :head AND h.id = x.household_id
   ORDER BY x.total DESC, x.household_id`;

/**
 * Households of the branches for branchStats: how many there are now (households), and per asset
 * the period's EARN credited to household wallets (earned), their net movement (net) and the
 * households with any posted movement of the asset (active); the row with whole true (asset_code
 * null) counts the households active in any asset. One pass over the rows (grouping sets).
 */
export const householdBranchStatsSql = `
  SELECT r.asset_code, GROUPING(r.asset_code) = 1 AS whole, coalesce(sum(r.amount) FILTER (WHERE r.kind = 'EARN'), 0)::text AS earned,
         coalesce(sum(r.amount), 0)::text AS net, count(DISTINCT r.household_id) AS active,
         (SELECT count(*) FROM (${householdsInScope}) s) AS households
    FROM (${householdPeriodRows(householdsInScope)}) r
   GROUP BY GROUPING SETS ((), (r.asset_code))`;

/**
 * Context for party scores (党员包户): per party member (:members, bigint[]), the households linked to
 * them now (linked), those with any posted movement of :asset in the period (active) and their net
 * amount of it (amount). Context only: nothing here is read by a score.
 */
export const partyHouseholdContextSql = `
  WITH links AS (
         SELECT l.member_id, l.household_id FROM party_member_households l
          WHERE l.head_id = :head AND l.member_id = ANY (:members::bigint[]) AND l.unlinked_at IS NULL),
       sums AS (
         SELECT x.household_id, sum(x.amount) AS total
           FROM (${householdPeriodRows('SELECT DISTINCT l.household_id AS id FROM links l', 'r.asset_code = :asset')}) x
          GROUP BY 1)
  SELECT l.member_id::text AS member_id, count(*) AS linked, count(s.household_id) AS active, coalesce(sum(s.total), 0)::text AS amount
    FROM links l LEFT JOIN sums s ON s.household_id = l.household_id
   GROUP BY 1`;
