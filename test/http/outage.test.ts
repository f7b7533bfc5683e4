// A database outage as a client meets it: while PostgreSQL cannot be reached, /graphql answers 503
// with the retryable code UNAVAILABLE and Retry-After (not 200 INTERNAL), and a write retried with
// the same idempotencyKey once the database is back posts exactly once. The outage is real: the
// service's pool talks to the test database through a TCP relay that the test cuts and restores.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import knexFactory from 'knex';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { buildApp } from '../../src/http/app.js';
import { isOutage, translateDbError } from '../../src/db/errors.js';
import { BankError } from '../../src/errors.js';
import { startHarness, type Harness } from '../support/harness.js';

/** A TCP relay to the test database that can refuse connections and cut the ones it carries. */
function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1', () => { port = (server!.address() as AddressInfo).port; resolve(); });
  });
  return {
    listen,
    get port() { return port; },
    /** Nothing listens any more (connection refused) and every open connection drops. */
    async down() {
      await new Promise<void>((resolve) => { server!.close(() => resolve()); for (const s of sockets) s.destroy(); });
    },
    up: listen,
  };
}

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction { id status } } }`;

let h: Harness;
let relay: ReturnType<typeof startRelay>;
let url: string;
let close: () => Promise<void>;
let member: string;

beforeAll(async () => {
  h = await startHarness();
  member = await h.addMember(`${h.tag}-outage`);
  const dbUrl = new URL(inject('databaseUrl'));
  relay = startRelay({ host: dbUrl.hostname, port: Number(dbUrl.port) });
  await relay.listen();
  const relayed = new URL(dbUrl.toString());
  relayed.port = String(relay.port);
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', DB_POOL_SIZE: '4' });
  const bank = await openBank(config, relayed.toString());
  const built = await buildApp(bank, () => undefined);
  const server: Server = await new Promise((resolve) => { const s = built.app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await built.stop(); await bank.close(); };
});

afterAll(async () => {
  await close();
  await h.checkInvariants();
  await h.close();
});

async function gql(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  return request(url).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${h.clientToken}`).set(headers).send({ query, variables });
}

describe('while the database cannot be reached', () => {
  it('a write answers 503 UNAVAILABLE with Retry-After, and the same key posts once when the database is back', async () => {
    const input = { idempotencyKey: h.key(), memberId: member, rule: 'garbage.sorted-drop' };
    await relay.down();
    try {
      const refused = await gql(award, { input });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.body.errors.map((e: any) => e.extensions.code)).toEqual(['UNAVAILABLE']);
      expect(refused.body.errors[0].message).toBe('the database is unavailable; retry in 2 s (with the same idempotencyKey for a write)');
      expect(refused.body.errors[0].extensions.retryAfter).toBe(2);
      const zh = await gql(award, { input }, { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' });
      expect(zh.status).toBe(503);
      expect(zh.body.errors[0].message).toBe('数据库暂时不可用；请在 2 秒后重试（写操作请使用同一个幂等键）');
      // A read that meets the outage in a dataloader (no domain write path in between) answers the same.
      const read = await gql(`query($id: ID!) { member(id: $id) { id name } }`, { id: member });
      expect(read.status).toBe(503);
      expect(read.body.errors[0].extensions.code).toBe('UNAVAILABLE');
    } finally {
      await relay.up();
    }
    expect(await h.transactionCount({ member_id: member })).toBe(0);
    const retried = await gql(award, { input });
    expect(retried.status).toBe(200);
    expect(retried.body.errors).toBeUndefined();
    expect(retried.body.data.awardPoints).toMatchObject({ replayed: false, transaction: { status: 'POSTED' } });
    const again = await gql(award, { input });
    expect(again.body.data.awardPoints).toMatchObject({ replayed: true, transaction: { id: retried.body.data.awardPoints.transaction.id } });
    expect(await h.transactionCount({ member_id: member })).toBe(1);
  });

  it('the party-score export answers 503 UNAVAILABLE with Retry-After too', async () => {
    await relay.down();
    try {
      const res = await request(url).get(`/exports/party-scores.csv?year=2026`).set('authorization', `Bearer ${h.adminToken}`);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.body.error.code).toBe('UNAVAILABLE');
    } finally {
      await relay.up();
    }
  });
});

describe('the database edge classifies outages once', () => {
  it('a backend ended by pg_terminate_backend (57P01) and a pool with no free connection are UNAVAILABLE', async () => {
    const dbUrl = inject('databaseUrl');
    const victim = new pg.Client({ connectionString: dbUrl });
    const killer = new pg.Client({ connectionString: dbUrl });
    victim.on('error', () => undefined);
    await victim.connect();
    await killer.connect();
    try {
      const { rows } = await victim.query('SELECT pg_backend_pid() AS pid');
      const sleeping = victim.query('SELECT pg_sleep(30)').then(() => undefined, (error: unknown) => error);
      await new Promise((r) => setTimeout(r, 200));
      await killer.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      const terminated = await sleeping as { code?: string };
      expect(terminated.code).toBe('57P01');
      expect(translateDbError(terminated)).toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await killer.end();
      await victim.end().catch(() => undefined);
    }
    const tiny = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 });
    try {
      await tiny.transaction(async (trx) => {
        await trx.raw('SELECT 1');
        const starved = await tiny.raw('SELECT 1').then(() => undefined, (error: unknown) => error);
        expect(isOutage(starved)).toBe(true);
        expect(translateDbError(starved)).toMatchObject({ code: 'UNAVAILABLE' });
      });
    } finally {
      await tiny.destroy();
    }
  });

  it('a server starting up or shutting down is UNAVAILABLE; constraint violations and bugs are not', () => {
    for (const code of ['57P03', '57P02', '08006', '53300', '25006', 'ECONNREFUSED', 'ECONNRESET']) {
      expect(translateDbError(Object.assign(new Error('x'), { code })), code).toMatchObject({ code: 'UNAVAILABLE' });
    }
    expect(translateDbError(new Error('Connection terminated unexpectedly'))).toMatchObject({ code: 'UNAVAILABLE' });
    const bug = new TypeError('cannot read properties of undefined');
    expect(translateDbError(bug)).toBe(bug);
    const unique = Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'some_other_constraint' });
    expect(translateDbError(unique)).toBe(unique);
    expect(translateDbError(new BankError('NOT_FOUND', 'x'))).toMatchObject({ code: 'NOT_FOUND' });
  });
});
