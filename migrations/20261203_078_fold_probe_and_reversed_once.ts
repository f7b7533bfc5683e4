// Two indexes for issue 14's write path, measured in its throughput session:
// - member_year_rollups_period gains member_id as its last column. The fold (cb_fold_rollups) and a
//   report's unfolded tail (unfoldedBranchRows) probe member_year_rollups for a member's first row of
//   an asset and year (the member's first activity). The primary key answers that probe, but on a table
//   last analyzed small (a new database, a bench fixture, a table analyzed before the fold had filled
//   it) the planner took the period index, equally cheap by its estimates, and filtered the whole head
//   bank's year for each member: ~2,700 rows per probe with 4,096 members, 79 ms for a fold of 500
//   transactions on PostgreSQL 15, growing with the members. With member_id in the period index, both
//   indexes probe one member (the same fold: 14 ms). Reports that scan a head bank's period read it by
//   the same leading columns as before.
// - transactions_reversed_once (a transaction is reversed at most once) becomes a partial unique
//   index over reversals only, the same rule: NULL reverses_id never conflicted, yet the constraint's
//   index held an entry for every transaction, written by every award. Same name, so a violation is
//   reported and mapped (src/db/errors.ts) as before. Measured: 77 fewer WAL bytes per award in a
//   500-award batch (2,236 → 2,160), backend CPU within noise.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX member_year_rollups_period;
    CREATE INDEX member_year_rollups_period ON member_year_rollups (head_id, asset_code, year, member_id);
    ALTER TABLE transactions DROP CONSTRAINT transactions_reversed_once;
    CREATE UNIQUE INDEX transactions_reversed_once ON transactions (head_id, reverses_id) WHERE reverses_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX member_year_rollups_period;
    CREATE INDEX member_year_rollups_period ON member_year_rollups (head_id, asset_code, year);
    DROP INDEX transactions_reversed_once;
    ALTER TABLE transactions ADD CONSTRAINT transactions_reversed_once UNIQUE (head_id, reverses_id);
  `);
}
