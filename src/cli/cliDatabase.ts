// How the command-line tools reach the database and fail: connect (embedded or DATABASE_URL), check
// that the schema is there and current before anything reads it, and turn the failures a person can
// fix (no cluster yet, no schema, pending migrations, a database that cannot be reached or does not
// exist) into one line that says what to do, with no stack trace.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Knex } from 'knex';
import type { Config } from '../config.js';
import { connectDatabaseServer, type DatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { openBank } from '../bank.js';
import { pendingMigrations } from '../db/migrate.js';

/** A failure the person at the terminal can fix: its message says how; printed alone, exit code 2. */
export class CliError extends Error {}

/** How many pending migrations a message names before "…". */
const pendingNamedMax = 3;

/**
 * The server of `database` (embedded, or DATABASE_URL). With existingOnly, an embedded cluster that
 * was never initialised is a CliError rather than a new empty cluster (verify and sweep read; they
 * have nothing to read in a cluster they would create).
 */
export async function connectForCli(config: Config, database: string, log: (line: string) => void, existingOnly: boolean): Promise<DatabaseServer> {
  if (!config.databaseUrl && existingOnly && !fs.existsSync(path.join(config.embeddedDataDir, 'PG_VERSION'))) {
    throw new CliError(`there is no database yet (no embedded PostgreSQL in ${config.embeddedDataDir}): run npm run migrate or npm start first, or set DATABASE_URL`);
  }
  try {
    return await connectDatabaseServer(config, database, false, log);
  } catch (error) {
    throw explainDatabaseError(error, config) ?? error;
  }
}

/** Refuses to go on with a database whose schema is missing or older than this code. */
export async function requireCurrentSchema(knex: Knex, what: string): Promise<void> {
  let pending: string[];
  try {
    pending = await pendingMigrations(knex);
  } catch (error) {
    throw explainDatabaseError(error) ?? error;
  }
  if (pending.length === 0) return;
  const { rows } = await knex.raw(`SELECT to_regclass('knex_migrations') IS NOT NULL AS present`);
  if (!rows[0].present) throw new CliError(`${what} has no schema yet: run npm run migrate (or npm start, which migrates) first`);
  const named = pending.slice(0, pendingNamedMax).join(', ') + (pending.length > pendingNamedMax ? ', …' : '');
  throw new CliError(`${what} is behind this code (${pending.length} migration(s) not applied: ${named}): run npm run migrate first`);
}

/** The bank of a database whose schema is current (checked first: nothing reads a missing table). */
export async function openCheckedBank(config: Config, url: string, what: string, statementTimeoutMs?: number): Promise<Awaited<ReturnType<typeof openBank>>> {
  const probe = openDatabase(url, 1);
  try {
    await requireCurrentSchema(probe.knex, what);
  } finally {
    await probe.close();
  }
  return openBank(config, url, undefined, statementTimeoutMs);
}

/** A database error a person can act on, as a CliError; undefined for anything else. */
export function explainDatabaseError(error: unknown, config?: Config): CliError | undefined {
  const e = error as { code?: string; message?: string } | undefined;
  const where = config?.databaseUrl ? 'the database of DATABASE_URL' : 'the database';
  switch (e?.code) {
    case 'ECONNREFUSED': case 'ENOTFOUND': case 'ETIMEDOUT': case 'EHOSTUNREACH':
      return new CliError(`cannot reach ${where} (${e.message}): is PostgreSQL running, and DATABASE_URL or PG_PORT right?`);
    case '3D000':
      return new CliError(`${where} does not exist (${e.message}): create it (createdb), or run npm run migrate, which creates it`);
    case '28P01': case '28000':
      return new CliError(`${where} refused the login (${e.message}): check the user and password in DATABASE_URL`);
    case '42P01':
      return new CliError(`${where} has no schema yet (${e.message}): run npm run migrate (or npm start, which migrates) first`);
    default:
      return undefined;
  }
}

/**
 * For npm run migrate with DATABASE_URL: creates the URL's database when the server has none of that
 * name, through the maintenance database `postgres` with the same credentials. Returns whether it did.
 */
export async function createDatabaseOfUrl(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return false;
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return false;
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return true;
}

/** Runs a command's body: a CliError or a database error a person can fix prints one line, exit code 2. */
export async function runCli(name: string, body: () => Promise<number | void>): Promise<never> {
  let code: number;
  try {
    code = (await body()) ?? 0;
  } catch (error) {
    const known = error instanceof CliError ? error : explainDatabaseError(error);
    if (known) {
      console.error(`${name}: ${known.message}`);
      code = 2;
    } else {
      console.error(`${name}: ${(error as Error)?.stack ?? String(error)}`);
      code = 1;
    }
  }
  process.exit(code);
}
