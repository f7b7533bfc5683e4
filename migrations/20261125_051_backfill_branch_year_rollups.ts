// Backfill of the branch rollups (migration 050) from the yearly member rollups, which hold every
// POSTED member posting so far: each member's rows in its branch now, and one active member per
// member, asset and year. Separate from the schema change, as every backfill is. Exact whatever ran
// before: the table is emptied and rebuilt under SHARE locks on member_year_rollups (writers inside
// the rollup triggers finish first; new ones wait until commit) and members (no member moves).
import type { Knex } from 'knex';
import { branchFigures, branchRollupSlots, upsertBranchYears } from './20261125_050_branch_year_rollups.js';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    LOCK TABLE member_year_rollups, members IN SHARE MODE;
    -- A large bank's backfill runs longer than the service's statement timeout.
    SET LOCAL statement_timeout = 0;
    DELETE FROM branch_year_rollups;
    ${upsertBranchYears(`
    SELECT y.head_id, m.branch_id, y.asset_code, y.year, (y.member_id % ${branchRollupSlots})::smallint, ${branchFigures('y', 'count(DISTINCT y.member_id)')}
      FROM member_year_rollups y JOIN members m ON m.head_id = y.head_id AND m.id = y.member_id
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5`)};
    ANALYZE branch_year_rollups;
  `);
}

export async function down(): Promise<void> {
  // Nothing to undo: migration 050's down drops the table.
}
