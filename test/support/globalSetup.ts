// Starts the test database once for the whole run: the embedded PostgreSQL (its own data folder
// and port, a fresh database each run) or, with DATABASE_URL set, that database. Migrates it and
// hands the URL to every test file. Test files share the database but each makes its own head bank.
import type { TestProject } from 'vitest/node';
import { loadConfig, projectRoot } from '../../src/config.js';
import { connectDatabaseServer, type DatabaseServer } from '../../src/db/connect.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import path from 'node:path';

let server: DatabaseServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  const config = loadConfig({
    ...process.env,
    PG_DATA_DIR: process.env.TEST_PG_DATA_DIR ?? path.join(projectRoot, '.data/pg-test'),
    PG_PORT: process.env.TEST_PG_PORT ?? '54339',
  });
  server = await connectDatabaseServer(config, 'civility_test', true, (line) => console.error(line));
  const db = openDatabase(server.url, 2);
  try {
    await migrateToLatest(db.knex, config.partitionMonthsAhead);
  } finally {
    await db.close();
  }
  project.provide('databaseUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}
