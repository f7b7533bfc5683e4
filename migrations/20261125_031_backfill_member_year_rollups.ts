// Backfill of the yearly rollups (migration 030) from the monthly rollups (migration 010), which
// hold every POSTED member posting so far. Separate from the schema change, as every backfill is.
// Exact whatever ran before: each yearly row is SET to the sum of its months (not added to), under
// a SHARE lock on member_rollups that waits for writers inside the rollup triggers and holds off new
// ones until commit. Awards wait for the backfill: about a minute at 20 M postings (see README).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    LOCK TABLE member_rollups IN SHARE MODE;
    -- A large bank's backfill runs longer than the service's statement timeout.
    SET LOCAL statement_timeout = 0;
    INSERT INTO member_year_rollups AS y (head_id, member_id, asset_code, year, kind, category, amount, postings)
    SELECT r.head_id, r.member_id, r.asset_code, date_trunc('year', r.month)::date, r.kind, r.category, sum(r.amount), sum(r.postings)
      FROM member_rollups r
     GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (head_id, member_id, asset_code, year, kind, category)
    DO UPDATE SET amount = excluded.amount, postings = excluded.postings;
    ANALYZE member_year_rollups;
  `);
}

export async function down(): Promise<void> {
  // Nothing to undo: migration 030's down drops the table.
}
