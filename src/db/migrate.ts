// Brings a database to the latest schema and makes sure the coming months' posting partitions exist.
// Several processes may start at once: knex's migration lock makes one of them migrate.
import type { Knex } from 'knex';
import { migrations } from '../../migrations/index.js';

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};

export async function migrateToLatest(knex: Knex, partitionMonthsAhead: number): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
  // One month back too, so that a start just after midnight on the 1st still has last month's partition.
  await knex.raw(`SELECT cb_ensure_posting_partitions((now() - interval '1 month')::date, ?)`, [partitionMonthsAhead + 1]);
  return applied;
}

/** The migrations this code knows that the database has not applied (all of them on an empty database). */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw(`SELECT to_regclass('knex_migrations') IS NOT NULL AS present`);
  const known = Object.keys(migrations).sort();
  if (!rows[0].present) return known;
  const applied = new Set((await knex('knex_migrations').select('name')).map((r: { name: string }) => r.name));
  return known.filter((name) => !applied.has(name));
}
