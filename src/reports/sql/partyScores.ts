// Party scores of a branch subtree for a period, from rollups: every party member with its total,
// rank (ties share a rank: 1, 1, 3) and breakdown by category, sorted by total, then member id.
// Bindings: head, branches (bigint[] of the subtree, or null for the whole head bank), and the
// period range's (reportBindings); a page (`page`) also limit and offset, applied to the ranking
// before member rows and breakdowns are read. The CSV export reads the whole statement through a cursor.
import { liveRows, scopedRollups, type RollupRange } from './scope.js';

const partyScoreRows = `r.asset_code = 'PARTY_SCORE'`;

export const partyScoresSql = (wholeBank: boolean, period: RollupRange, page: boolean) => `
  WITH scope AS (
         SELECT m.id FROM members m
          WHERE m.head_id = :head AND m.is_party_member AND (:branches::bigint[] IS NULL OR m.branch_id = ANY (:branches::bigint[]))),
       sums AS (
         SELECT r.member_id, r.category, sum(r.amount) AS amount
           FROM (${scopedRollups(wholeBank, period, partyScoreRows, 'SELECT s.id FROM scope s')}) r
          GROUP BY 1, 2),
       ranked AS (
         SELECT t.id, t.total, rank() OVER (ORDER BY t.total DESC) AS rank, count(*) OVER () AS members
           FROM (SELECT s.id, coalesce(sum(x.amount), 0) AS total FROM scope s LEFT JOIN sums x ON x.member_id = s.id GROUP BY s.id) t
          ORDER BY t.total DESC, t.id
          ${page ? 'LIMIT :limit OFFSET :offset' : ''}),
       -- Breakdowns and member rows for the ranked rows only: a page of a head bank is 50 of 100,000.
       breakdowns AS (
         SELECT x.member_id, jsonb_object_agg(x.category, x.amount::text) AS breakdown
           FROM sums x JOIN ranked r ON r.id = x.member_id GROUP BY 1)
  SELECT to_jsonb(m) AS member, r.total::text AS total, coalesce(b.breakdown, '{}') AS breakdown, r.rank, r.members
    FROM ranked r
    JOIN members m ON m.head_id = :head AND m.id = r.id
    LEFT JOIN breakdowns b ON b.member_id = r.id
   ORDER BY r.total DESC, r.id`;

/** The categories of PARTY_SCORE movements of a subtree in a period (the CSV's columns). */
export const partyScoreCategoriesSql = (period: RollupRange) => `
  SELECT DISTINCT r.category FROM (${liveRows(period, partyScoreRows)}) r
    JOIN members m ON m.head_id = :head AND m.id = r.member_id
   WHERE m.is_party_member AND (:branches::bigint[] IS NULL OR m.branch_id = ANY (:branches::bigint[]))
   ORDER BY 1`;
