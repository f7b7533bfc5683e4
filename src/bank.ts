// The bank's dependencies, built once at start and passed to every domain function: the database,
// the configuration, the clock, and the small registries read once (assets, the branch tree).
import type { Knex } from 'knex';
import type pg from 'pg';
import type { Config } from './config.js';
import { openDatabase } from './db/database.js';
import { AssetRegistry } from './ledger/assets.js';
import { BranchDirectory } from './directory/branches.js';

export interface Bank {
  knex: Knex;
  pool: pg.Pool;
  config: Config;
  clock: () => Date;
  assets: AssetRegistry;
  branches: BranchDirectory;
}

/** The machine's clock, shifted by CLOCK_OFFSET_MS in a drill (0 otherwise: the clock itself). */
export function configuredClock(config: Config): () => Date {
  const offset = config.clockOffsetMs;
  return offset ? () => new Date(Date.now() + offset) : () => new Date();
}

/**
 * Opens the database at url (already migrated) and reads the registries. Every statement of its
 * pools is cancelled past the request budget (config.limits.requestTimeBudgetMs: set once per
 * connection, no extra round trip per query), unless statementTimeoutMs says otherwise (offline tools).
 */
export async function openBank(
  config: Config, url: string, clock: () => Date = configuredClock(config), statementTimeoutMs = config.limits.requestTimeBudgetMs,
): Promise<Bank & { close(): Promise<void> }> {
  const db = openDatabase(url, config.dbPoolSize, statementTimeoutMs);
  const assets = await AssetRegistry.load(db.knex);
  return { knex: db.knex, pool: db.pool, config, clock, assets, branches: new BranchDirectory(db.knex), close: () => db.close() };
}
