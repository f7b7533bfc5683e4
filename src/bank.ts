// The bank's dependencies, built once at start and passed to every domain function: the database,
// the configuration, the clock, and the small registries read once (assets, the branch tree).
import type { Knex } from 'knex';
import type pg from 'pg';
import type { Config } from './config.js';
import type { AssetRegistry } from './ledger/assets.js';
import type { BranchDirectory } from './directory/branches.js';

export interface Bank {
  knex: Knex;
  pool: pg.Pool;
  config: Config;
  clock: () => Date;
  assets: AssetRegistry;
  branches: BranchDirectory;
}

import { openDatabase } from './db/database.js';
import { AssetRegistry as Assets } from './ledger/assets.js';
import { BranchDirectory as Branches } from './directory/branches.js';

/** Opens the database at url (already migrated) and reads the registries. */
export async function openBank(config: Config, url: string, clock: () => Date = () => new Date()): Promise<Bank & { close(): Promise<void> }> {
  const db = openDatabase(url, config.dbPoolSize);
  const assets = await Assets.load(db.knex);
  return { knex: db.knex, pool: db.pool, config, clock, assets, branches: new Branches(db.knex), close: () => db.close() };
}
