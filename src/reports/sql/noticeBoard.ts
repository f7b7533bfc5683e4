// The notice board's month of activity (公示栏, reports/noticeBoard.ts) in one statement over the
// monthly member rollups: the most active volunteers (net VOLUNTEER_HOURS of the month) and sorters
// (net POINTS of the month under the sorting category), and per branch its members and those who
// earned anything in the month (participation). Members of the opted-in branches only. For a set of
// branches, each member's month is probed through the rollups' primary key (member, asset, month);
// for a whole head bank, one scan of the month's rows (index member_rollups_period).
// Bindings: head, branches (bigint[]; null: the whole head bank), month (its first day), assets,
// hoursAsset, sortingAsset, sortingCategory, limit. Rows: row_kind person (board, member name,
// branch_id, total, and in count its place: by total, then member id), members or active (branch_id, count). Names leave here whole: the caller masks.
export const noticeBoardActivitySql = (wholeBank: boolean) => `
  WITH month_rows AS MATERIALIZED (
         ${wholeBank
    ? `SELECT m.branch_id, r.member_id, r.asset_code, r.kind, r.category, r.amount
         FROM member_rollups r JOIN members m ON m.head_id = r.head_id AND m.id = r.member_id
        WHERE r.head_id = :head AND r.asset_code = ANY (:assets::text[]) AND r.month = :month::date`
    : `SELECT s.branch_id, r.member_id, r.asset_code, r.kind, r.category, r.amount
         FROM members s CROSS JOIN LATERAL (
                SELECT r.member_id, r.asset_code, r.kind, r.category, r.amount FROM member_rollups r
                 WHERE r.head_id = :head AND r.member_id = s.id AND r.asset_code = ANY (:assets::text[]) AND r.month = :month::date
                OFFSET 0) r
        WHERE s.head_id = :head AND s.branch_id = ANY (:branches::bigint[])`}
         UNION ALL
         -- The journal's tail not folded yet (migration 062), read once.
         SELECT m.branch_id, r.member_id, r.asset_code, r.kind, r.category, r.amount
           FROM cb_unfolded_postings(:head) r JOIN members m ON m.head_id = :head AND m.id = r.member_id
          WHERE r.asset_code = ANY (:assets::text[]) AND r.month = :month::date${wholeBank ? '' : ' AND m.branch_id = ANY (:branches::bigint[])'}),
       volunteers AS (
         SELECT 'volunteer' AS board, x.member_id, sum(x.amount) AS total, row_number() OVER (ORDER BY sum(x.amount) DESC, x.member_id) AS pos
           FROM month_rows x
          WHERE x.asset_code = :hoursAsset GROUP BY x.member_id HAVING sum(x.amount) > 0
          ORDER BY 3 DESC, 2 LIMIT :limit),
       sorters AS (
         SELECT 'sorter' AS board, x.member_id, sum(x.amount) AS total, row_number() OVER (ORDER BY sum(x.amount) DESC, x.member_id) AS pos
           FROM month_rows x
          WHERE x.asset_code = :sortingAsset AND x.category = :sortingCategory GROUP BY x.member_id HAVING sum(x.amount) > 0
          ORDER BY 3 DESC, 2 LIMIT :limit)
  SELECT 'person' AS row_kind, p.board, m.name, m.branch_id, p.total::text AS total, p.pos::int AS count
    FROM (SELECT * FROM volunteers UNION ALL SELECT * FROM sorters) p
    JOIN members m ON m.head_id = :head AND m.id = p.member_id
  UNION ALL
  SELECT 'members', NULL, NULL, m.branch_id, NULL, count(*)::int FROM members m
   WHERE m.head_id = :head${wholeBank ? '' : ' AND m.branch_id = ANY (:branches::bigint[])'} GROUP BY m.branch_id
  UNION ALL
  SELECT 'active', NULL, NULL, x.branch_id, NULL, count(DISTINCT x.member_id)::int FROM month_rows x
   WHERE x.kind = 'EARN' GROUP BY x.branch_id`;

/** Pools still raising or funded, of the opted-in branches, newest first. Bindings: head, branches, limit. */
export const noticeBoardPoolsSql = `
  SELECT p.id, p.branch_id, p.title, p.target::text AS target, p.raised::text AS raised, p.status, p.deadline
    FROM pools p
   WHERE p.head_id = :head AND p.branch_id = ANY (:branches::bigint[]) AND p.status IN ('OPEN', 'FUNDED')
   ORDER BY p.id DESC LIMIT :limit`;

/** The opted-in branches of a subtree (index branches_notice_board). Bindings: head, path. */
export const optedInBranchesSql = `
  SELECT b.id::text AS id FROM branches b WHERE b.head_id = :head AND b.notice_board AND starts_with(b.path, :path::text)`;
