// Party scores of a branch subtree for a period, from rollups: every party member with its total,
// rank (ties share a rank: 1, 1, 3) and breakdown by category, sorted by total, then member id.
// Bindings: head, branches (bigint[] of the subtree, or null for the whole head bank), and the
// period range's (reportBindings). A page adds LIMIT/OFFSET; the CSV export reads the same
// statement through a cursor.
import { rangeRows, scopedRollups, type RollupRange } from './scope.js';

const partyScoreRows = `r.asset_code = 'PARTY_SCORE'`;

export const partyScoresSql = (wholeBank: boolean, period: RollupRange) => `
  WITH scope AS (
         SELECT m.* FROM members m
          WHERE m.head_id = :head AND m.is_party_member AND (:branches::bigint[] IS NULL OR m.branch_id = ANY (:branches::bigint[]))),
       sums AS (
         SELECT r.member_id, r.category, sum(r.amount) AS amount
           FROM (${scopedRollups(wholeBank, period, partyScoreRows, 'SELECT s.id FROM scope s')}) r
          GROUP BY 1, 2),
       totals AS (
         SELECT s.id, coalesce(sum(x.amount), 0) AS total,
                coalesce(jsonb_object_agg(x.category, x.amount::text) FILTER (WHERE x.category IS NOT NULL), '{}') AS breakdown
           FROM scope s LEFT JOIN sums x ON x.member_id = s.id GROUP BY s.id)
  SELECT to_jsonb(s) AS member, t.total::text AS total, t.breakdown, rank() OVER (ORDER BY t.total DESC) AS rank, count(*) OVER () AS members
    FROM totals t JOIN scope s ON s.id = t.id
   ORDER BY t.total DESC, t.id`;

/** The categories of PARTY_SCORE movements of a subtree in a period (the CSV's columns). */
export const partyScoreCategoriesSql = (period: RollupRange) => `
  SELECT DISTINCT r.category FROM (${rangeRows(period, partyScoreRows)}) r
    JOIN members m ON m.head_id = :head AND m.id = r.member_id
   WHERE m.is_party_member AND (:branches::bigint[] IS NULL OR m.branch_id = ANY (:branches::bigint[]))
   ORDER BY 1`;
