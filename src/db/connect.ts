// Chooses the database: DATABASE_URL when set, otherwise the embedded PostgreSQL of this project
// (started if needed, database created on first use). Returns the URL and how to stop what it started.
import pg from 'pg';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from './embeddedPostgres.js';

export interface DatabaseServer {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
  /** Restarts an embedded server this process started (see EmbeddedDatabase.restart). */
  restart?(crash: boolean): Promise<void>;
}

async function createDatabaseIfMissing(adminUrl: string, name: string, recreate: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    if (recreate) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/**
 * @param database name of the database inside the embedded cluster
 * @param recreate drop and create it afresh (tests)
 */
export async function connectDatabaseServer(
  config: Config, database: string, recreate: boolean, log: (line: string) => void,
): Promise<DatabaseServer> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => undefined };
  const server = await startEmbeddedPostgres(config.embeddedDataDir, config.embeddedPort, log);
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`bad database name ${database}`);
  await createDatabaseIfMissing(server.adminUrl, database, recreate);
  return { url: server.urlFor(database), embedded: true, stop: () => server.stop(), restart: (crash) => server.restart(crash) };
}
