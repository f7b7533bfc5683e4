// A leaderboard: members of a branch subtree by their net amount of one asset in a period (e.g.
// volunteers by hours this year), from rollups; ties share a rank. Members without movements of
// the asset in the period are not on it. Bindings: head, branches (null: whole head bank), asset,
// limit, and the period range's (reportBindings).
import { scopedRollups, type RollupRange } from './scope.js';

export const leaderboardSql = (wholeBank: boolean, period: RollupRange) => `
  WITH sums AS (
         SELECT r.member_id, sum(r.amount) AS total
           FROM (${scopedRollups(wholeBank, period, 'r.asset_code = :asset')}) r
          GROUP BY 1),
       ranked AS (SELECT s.member_id, s.total, rank() OVER (ORDER BY s.total DESC) AS rank FROM sums s
                   ORDER BY s.total DESC, s.member_id LIMIT :limit)
  SELECT to_jsonb(m) AS member, x.total::text AS total, x.rank
    FROM ranked x JOIN members m ON m.head_id = :head AND m.id = x.member_id
   ORDER BY x.total DESC, x.member_id`;
