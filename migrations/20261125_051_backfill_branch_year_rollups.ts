// Backfill of the branch rollups (migration 050) from the yearly member rollups, which hold every
// POSTED member posting so far: each member's rows in its branch now, and one active member per
// member, asset and year. Separate from the schema change, as every backfill is. Exact whatever ran
// before: the deltas and rows are emptied and rebuilt while no rollup writer runs and no member
// moves (the locks of migration 050, taken again here when it runs alone). Writers wait for it, up
// to their lock timeout (10 s); the README has its time on the 20 M-posting bench set.
import type { Knex } from 'knex';
import { branchFigureColumns, branchFigures, lockRollupWriters } from './20261125_050_branch_year_rollups.js';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ${lockRollupWriters}
    -- A large bank's backfill may run longer than the service's statement timeout.
    SET LOCAL statement_timeout = 0;
    DELETE FROM branch_year_deltas;
    DELETE FROM branch_year_rollups;
    INSERT INTO branch_year_rollups (head_id, branch_id, asset_code, year, ${branchFigureColumns.join(', ')})
    SELECT y.head_id, m.branch_id, y.asset_code, y.year, ${branchFigures('y', 'count(DISTINCT y.member_id)')}
      FROM member_year_rollups y JOIN members m ON m.head_id = y.head_id AND m.id = y.member_id
     GROUP BY 1, 2, 3, 4;
    ANALYZE branch_year_rollups;
    RESET statement_timeout;
  `);
}

export async function down(): Promise<void> {
  // Nothing to undo: migration 050's down drops the tables.
}
