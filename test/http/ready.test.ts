// A load balancer sends traffic to a process only while GET /ready answers 200: its database answers,
// every versioned migration is applied and every SQL function's current text has run. Otherwise 503
// with a short reason an operator can act on. /health stays as it was (the process and a SELECT 1).
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import type { Bank } from '../../src/bank.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { loadSqlDefinitions } from '../../src/db/sqlDefinitions.js';
import { buildApp } from '../../src/http/app.js';
import { serveApp, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
/** The bank the probed app reads: its database handle is swapped between the cases. */
let probed: Bank;
let served: Awaited<ReturnType<typeof serveApp>>;
let url: string;
const databaseName = `cb_ops_ready_${Date.now()}`;
let unmigrated: Database;

beforeAll(async () => {
  h = await startHarness();
  probed = { ...h.bank };
  const built = await buildApp(probed, () => undefined);
  served = await serveApp(built);
  url = served.url;
  await h.bank.knex.raw(`CREATE DATABASE ${databaseName}`);
  const other = new URL(inject('databaseUrl'));
  other.pathname = `/${databaseName}`;
  unmigrated = openDatabase(other.toString(), 2);
});

afterAll(async () => {
  await served.close();
  await unmigrated.close();
  await h.bank.knex.raw(`DROP DATABASE ${databaseName} WITH (FORCE)`);
  await h.checkInvariants();
  await h.close();
});

async function ready() {
  const res = await request(url).get('/ready');
  return { status: res.status, body: res.body as { status: string; reason?: string } };
}

describe('GET /ready', () => {
  it('answers 200 on a migrated database with current SQL definitions', async () => {
    probed.knex = h.bank.knex;
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await request(url).get('/health')).body).toEqual({ status: 'ok' });
  });

  it('answers 503 while a migration, or the current text of a SQL function, is missing', async () => {
    probed.knex = unmigrated.knex;
    const names = Object.keys(migrations).sort();
    const empty = await ready();
    expect(empty.status).toBe(503);
    expect(empty.body).toEqual({ status: 'not ready', reason: `migrations not applied: ${names.slice(0, 3).join(', ')} and ${names.length - 3} more` });

    // every migration but the last, as a database one release behind looks
    await unmigrated.knex.raw('CREATE TABLE knex_migrations (id serial PRIMARY KEY, name text, batch int, migration_time timestamptz)');
    await unmigrated.knex('knex_migrations').insert(names.slice(0, -1).map((name) => ({ name, batch: 1, migration_time: new Date() })));
    expect((await ready()).body.reason).toBe(`migrations not applied: ${names.at(-1)}`);

    await unmigrated.knex('knex_migrations').insert({ name: names.at(-1), batch: 2, migration_time: new Date() });
    expect((await ready()).body.reason).toMatch(/^SQL definitions not current: src\/db\/sql\/fail\.sql, src\/db\/sql\/assert\.sql, .* and \d+ more$/);

    // one function whose file changed since it last ran
    const definitions = loadSqlDefinitions();
    await unmigrated.knex.raw('CREATE TABLE repeatable_definitions (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL)');
    await unmigrated.knex('repeatable_definitions').insert(definitions.map((d, i) => ({
      name: d.name, checksum: i === 5 ? 'an older text' : createHash('sha256').update(d.sql).digest('hex'), applied_at: new Date(),
    })));
    expect(await ready()).toEqual({ status: 503, body: { status: 'not ready', reason: `SQL definitions not current: src/${definitions[5]!.name}` } });

    await unmigrated.knex('repeatable_definitions').where({ name: definitions[5]!.name }).update({ checksum: createHash('sha256').update(definitions[5]!.sql).digest('hex') });
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('answers 503 when the database cannot be reached, and says so without the connection string', async () => {
    const nowhere = openDatabase('postgres://civility:secret-password@127.0.0.1:1/nowhere', 1);
    try {
      probed.knex = nowhere.knex;
      const answer = await ready();
      expect(answer.status).toBe(503);
      expect(answer.body.reason).toMatch(/^the database cannot be read: .*ECONNREFUSED/);
      expect(JSON.stringify(answer.body)).not.toContain('secret-password');
    } finally {
      probed.knex = h.bank.knex;
      await nowhere.close();
    }
  });
});
