// Brings a database to the latest schema: the versioned migrations (migrations/: tables, indexes,
// triggers, data moves), then the SQL functions as repeatable definitions (src/**/sql/*.sql, listed
// in sqlDefinitions.ts; a file runs again when its checksum changes), then the coming months' posting
// partitions. Several processes may start at once: one advisory lock covers all three.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { loadSqlDefinitions, type SqlDefinition } from './sqlDefinitions.js';

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};

/**
 * Held (transaction-scoped) from before knex's migrations to the commit of the definitions and
 * partitions: knex's own lock is released after latest(), and its first run on an empty database
 * (creating its tables) is not safe to run twice at once.
 */
const migrationLockSql = `SELECT pg_advisory_xact_lock(hashtextextended('civility-bank:migrate', 0))`;

export interface MigrateOptions {
  /** The repeatable definitions to apply (default: the files of sqlDefinitions.ts). */
  definitions?: SqlDefinition[];
  /** Told the names (paths under src/) of the definitions this call ran, when it ran any. */
  onDefinitionsApplied?: (names: string[]) => void;
}

/** Returns the versioned migrations applied by this call. */
export async function migrateToLatest(knex: Knex, partitionMonthsAhead: number, options: MigrateOptions = {}): Promise<string[]> {
  const definitions = options.definitions ?? loadSqlDefinitions();
  // A connection of its own, outside knex's pool (whose connections the migrations use), running
  // one transaction: the lock, then the definitions and partitions, committed together.
  const connection: pg.Client = await knex.client.acquireRawConnection();
  try {
    await connection.query('BEGIN');
    try {
      // Another process migrating may take as long as its migrations do: wait for it, however long.
      await connection.query('SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0');
      await connection.query(migrationLockSql);
      await connection.query('SET LOCAL lock_timeout TO DEFAULT; SET LOCAL statement_timeout TO DEFAULT');
      const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
      // A versioned migration may have (re)created a function (the landed ones did, before the
      // functions moved to files): after any migration, every definition runs again.
      const names = await applyDefinitions(connection, definitions, applied.length > 0);
      // One month back too, so that a start just after midnight on the 1st still has last month's partition.
      await connection.query(`SELECT cb_ensure_posting_partitions((now() - interval '1 month')::date, $1)`, [partitionMonthsAhead + 1]);
      await connection.query('COMMIT');
      if (names.length) options.onDefinitionsApplied?.(names);
      return applied;
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await knex.client.destroyRawConnection(connection);
  }
}

/**
 * Runs each definition whose text changed since it last ran (all of them with force), in order, in
 * the caller's transaction, and records its checksum. Returns the names run. A definition that fails
 * stops the start, named, and nothing of this call stays.
 */
async function applyDefinitions(connection: pg.Client, definitions: SqlDefinition[], force: boolean): Promise<string[]> {
  await connection.query(`
    CREATE TABLE IF NOT EXISTS repeatable_definitions (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL
    )`);
  const { rows } = await connection.query<{ name: string; checksum: string }>('SELECT name, checksum FROM repeatable_definitions');
  const recorded = new Map(rows.map((r) => [r.name, r.checksum]));
  const run: string[] = [];
  for (const definition of definitions) {
    const checksum = definitionChecksum(definition);
    if (!force && recorded.get(definition.name) === checksum) continue;
    try {
      // The text as it is, one simple query (several statements; no placeholders are rewritten).
      await connection.query(definition.sql);
    } catch (error) {
      throw definitionError(definition, error as pg.DatabaseError);
    }
    await connection.query(`
      INSERT INTO repeatable_definitions (name, checksum, applied_at) VALUES ($1, $2, clock_timestamp())
      ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at`, [definition.name, checksum]);
    run.push(definition.name);
  }
  // A file no longer listed: forget it, so that listing it again applies it again.
  await connection.query('DELETE FROM repeatable_definitions WHERE NOT (name = ANY ($1))', [definitions.map((d) => d.name)]);
  return run;
}

/** What repeatable_definitions records of a definition's text: a changed text runs again. */
function definitionChecksum(definition: SqlDefinition): string {
  return createHash('sha256').update(definition.sql).digest('hex');
}

/** The definitions this code knows whose current text the database has not run (all of them before the first start). */
export async function staleDefinitions(knex: Knex, definitions: SqlDefinition[]): Promise<string[]> {
  const { rows } = await knex.raw(`SELECT to_regclass('repeatable_definitions') IS NOT NULL AS present`);
  if (!rows[0].present) return definitions.map((d) => d.name);
  const recorded = new Map((await knex('repeatable_definitions').select('name', 'checksum')).map((r: { name: string; checksum: string }) => [r.name, r.checksum]));
  return definitions.filter((d) => recorded.get(d.name) !== definitionChecksum(d)).map((d) => d.name);
}

/** The error of a failed definition, naming its file and, where PostgreSQL says, the line. */
function definitionError(definition: SqlDefinition, error: pg.DatabaseError): Error {
  // PostgreSQL points into the statement (position), or into a function's body (internalPosition).
  let offset = Number(error.position) - 1;
  if (!(offset >= 0) && error.internalQuery && Number(error.internalPosition) > 0) {
    const body = definition.sql.indexOf(error.internalQuery);
    if (body >= 0) offset = body + Number(error.internalPosition) - 1;
  }
  const line = offset >= 0 ? `, line ${definition.sql.slice(0, offset).split('\n').length}` : '';
  const where = error.where ? ` (${error.where.split('\n')[0]})` : '';
  return new Error(`SQL definition src/${definition.name}${line} failed: ${error.message}${where}`, { cause: error });
}

/** A log line for the definitions a start ran: their names, or only how many on a first start. */
export function describeAppliedDefinitions(names: string[]): string {
  return `SQL definitions applied: ${names.length > 8 ? `all ${names.length} files` : names.map((n) => `src/${n}`).join(', ')}`;
}

/** The migrations this code knows that the database has not applied (all of them on an empty database). */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw(`SELECT to_regclass('knex_migrations') IS NOT NULL AS present`);
  const known = Object.keys(migrations).sort();
  if (!rows[0].present) return known;
  const applied = new Set((await knex('knex_migrations').select('name')).map((r: { name: string }) => r.name));
  return known.filter((name) => !applied.has(name));
}
