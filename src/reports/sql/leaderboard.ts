// A leaderboard: members of a branch subtree by their net amount of one asset in a period (e.g.
// volunteers by hours this year), from rollups; ties share a rank. Members without movements of
// the asset in the period are not on it. Bindings: head, branches (null: whole head bank), asset, from, to, limit.
import { scopedRollups } from './scope.js';

export const leaderboardSql = (wholeBank: boolean) => `
  WITH sums AS (
         SELECT r.member_id, sum(r.amount) AS total
           FROM (${scopedRollups(wholeBank, `r.asset_code = :asset AND r.month >= :from::date AND r.month < :to::date`)}) r
          GROUP BY 1),
       ranked AS (SELECT s.member_id, s.total, rank() OVER (ORDER BY s.total DESC) AS rank FROM sums s
                   ORDER BY s.total DESC, s.member_id LIMIT :limit)
  SELECT to_jsonb(m) AS member, x.total::text AS total, x.rank
    FROM ranked x JOIN members m ON m.head_id = :head AND m.id = x.member_id
   ORDER BY x.total DESC, x.member_id`;
