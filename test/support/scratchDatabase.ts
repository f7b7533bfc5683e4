// A database of a test file's own on the test server (for what must start from an empty bank: the demo
// seed, old migrations): created on demand, dropped after the file. Names carry the process id, so
// files running at once never share one.
import knexFactory from 'knex';
import { afterAll, inject } from 'vitest';

export interface ScratchDatabase {
  /** The database's URL. */
  url: string;
  /** Creates it (empty). */
  create(): Promise<void>;
}

/** Registers the drop with afterAll; call at the top of a test file. */
export function scratchDatabase(prefix: string): ScratchDatabase {
  const name = `${prefix}_${process.pid}`;
  const serverUrl = new URL(inject('databaseUrl'));
  const urlOf = (database: string) => Object.assign(new URL(serverUrl), { pathname: `/${database}` }).toString();
  const admin = knexFactory({ client: 'pg', connection: urlOf('postgres'), pool: { min: 0, max: 1 } });
  afterAll(async () => {
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.destroy();
  });
  return { url: urlOf(name), create: async () => { await admin.raw(`CREATE DATABASE ${name}`); } };
}
