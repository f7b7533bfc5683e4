// Invariant 4 over real HTTP against real PostgreSQL: one idempotency key of one client produces at
// most one transaction, however often and however concurrently it is sent; a replay answers what
// the first write answered; the same key for a different request is refused and writes nothing;
// a refused request leaves its key free for the corrected retry.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { buildApp } from '../../src/http/app.js';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction {
  id kind status occurredAt recordedAt memo metadata principal member { id } rule { code version }
  postings { line accountId asset amount balanceAfter } } } }`;

const transfer = `mutation($input: TransferPointsInput!) { transferPoints(input: $input) { replayed transaction {
  id kind postings { accountId amount balanceAfter } } } }`;

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-m${++members}`;
  return { id: await h.addMember(externalId, branch), externalId };
}



async function keyRows(key: string, subject?: string): Promise<Record<string, any>[]> {
  return h.bank.knex('idempotency_keys').where({ head_id: h.head.id, key, ...(subject ? { subject } : {}) });
}

function ok(res: GraphQLResponse) {
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.awardPoints ?? res.data.transferPoints;
}

describe('a retried award', () => {
  it('replays the original result: same transaction, postings and balance after, marked replayed', async () => {
    const m = await newMember();
    const input = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', memo: 'first shift', metadata: { station: 'S-1' } };
    const first = ok(await h.gql(h.clientToken, award, { input }));
    expect(first.replayed).toBe(false);
    // The balance moves on after the first write...
    ok(await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' } }));
    expect(await h.walletBalance(m.id)).toBe('10.00');
    // ...yet the retry answers exactly what the first write answered, and writes nothing.
    const before = await h.transactionCount();
    const replay = ok(await h.gql(h.clientToken, award, { input }));
    expect(replay.replayed).toBe(true);
    expect(replay.transaction).toEqual(first.transaction);
    expect(replay.transaction.postings.find((p: any) => p.balanceAfter !== null).balanceAfter).toBe('5.00');
    expect(await h.transactionCount()).toBe(before);
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });

  it('replays an award sent without occurredAt, though the retry comes later', async () => {
    const m = await newMember();
    const input = { idempotencyKey: h.key(), externalId: m.externalId, rule: 'garbage.sorted-drop' };
    const first = ok(await h.gql(h.clientToken, award, { input }));
    await new Promise((r) => setTimeout(r, 20));
    const replay = ok(await h.gql(h.clientToken, award, { input }));
    expect(replay).toEqual({ ...first, replayed: true });
    expect(await h.walletBalance(m.id)).toBe('1.00');
  });

  it('treats the same request spelled differently (quantity "2" or "2.00", member by id) as the same request', async () => {
    const m = await newMember();
    const key = h.key();
    const first = ok(await h.gql(h.clientToken, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty', quantity: '2' } }));
    const replay = ok(await h.gql(h.clientToken, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty', quantity: '2.00', memo: null } }));
    expect(replay).toMatchObject({ replayed: true, transaction: { id: first.transaction.id } });
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });
});

describe('the same key for a different request', () => {
  it('is IDEMPOTENCY_CONFLICT and writes nothing, whatever part of the request differs', async () => {
    const m = await newMember();
    const other = await newMember();
    const key = h.key();
    const original = { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty', occurredAt: '2026-11-19T02:00:00Z', memo: 'shift' };
    const first = ok(await h.gql(h.clientToken, award, { input: original }));
    const variants: Record<string, unknown>[] = [
      { quantity: '2' },
      { memberId: other.id },
      { rule: 'garbage.sorted-drop' },
      { occurredAt: '2026-11-19T02:00:01Z' },
      { memo: 'another shift' },
      { memo: undefined },
      { metadata: { station: 'S-2' } },
    ];
    const before = { transactions: await h.transactionCount(), m: await h.walletBalance(m.id), other: await h.walletBalance(other.id) };
    for (const change of variants) {
      const res = await h.gql(h.clientToken, award, { input: { ...original, ...change } });
      expect(codes(res), JSON.stringify(change)).toEqual(['IDEMPOTENCY_CONFLICT']);
      expect(res.errors![0]!.message).toContain(key);
      expect(res.data?.awardPoints ?? null).toBeNull();
    }
    expect(await h.transactionCount()).toBe(before.transactions);
    expect(await h.walletBalance(m.id)).toBe(before.m);
    expect(await h.walletBalance(other.id)).toBe(before.other);
    // The key still names the first write.
    expect(await keyRows(key)).toMatchObject([{ subject: `client-${h.tag}`, operation: 'awardPoints', transaction_id: first.transaction.id }]);
    expect(ok(await h.gql(h.clientToken, award, { input: original }))).toMatchObject({ replayed: true, transaction: { id: first.transaction.id } });
  });

  it('is IDEMPOTENCY_CONFLICT when the key was used for another kind of write', async () => {
    const a = await newMember();
    const b = await newMember();
    const key = h.key();
    ok(await h.gql(h.adminToken, award, { input: { idempotencyKey: key, memberId: a.id, rule: 'garbage.bin-duty' } }));
    const before = await h.transactionCount();
    const res = await h.gql(h.adminToken, transfer, { input: { idempotencyKey: key, from: { id: a.id }, to: { id: b.id }, amount: '1.00' } });
    expect(codes(res)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const rule = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { id } } }`, {
      input: { idempotencyKey: key, code: `${h.tag}.conflicting`, name: 'n', category: 'c', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }] },
    });
    expect(codes(rule)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await h.bank.knex('rules').where({ head_id: h.head.id, code: `${h.tag}.conflicting` })).toEqual([]);
    expect(await h.transactionCount()).toBe(before);
    expect([await h.walletBalance(a.id), await h.walletBalance(b.id)]).toEqual(['5.00', '0.00']);
  });
});

describe('keys belong to the client that sent them', () => {
  it('lets two clients use the same key string for their own awards', async () => {
    const m = await newMember();
    const key = `${h.tag}-shared-key`;
    const kioskA = h.token({ role: 'client', sub: `${h.tag}-kiosk-a`, rules: '*' });
    const kioskB = h.token({ role: 'client', sub: `${h.tag}-kiosk-b`, rules: '*' });
    const a = ok(await h.gql(kioskA, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' } }));
    // Even a different request under the same string is no conflict: it is another client's key.
    const b = ok(await h.gql(kioskB, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop' } }));
    expect([a.replayed, b.replayed]).toEqual([false, false]);
    expect(a.transaction.id).not.toBe(b.transaction.id);
    expect([a.transaction.principal, b.transaction.principal]).toEqual([`${h.tag}-kiosk-a`, `${h.tag}-kiosk-b`]);
    // Each replays its own.
    const againA = ok(await h.gql(kioskA, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' } }));
    const againB = ok(await h.gql(kioskB, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop' } }));
    expect([againA.transaction.id, againB.transaction.id]).toEqual([a.transaction.id, b.transaction.id]);
    expect([againA.replayed, againB.replayed]).toEqual([true, true]);
    expect(codes(await h.gql(kioskA, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop' } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await keyRows(key)).toHaveLength(2);
    expect(await h.walletBalance(m.id)).toBe('6.00');
  });
});

describe('a refused request does not use up its key', () => {
  it('after CAP_EXCEEDED: the corrected award goes through under the same key', async () => {
    const m = await newMember();
    ok(await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop', occurredAt: '2026-11-19T01:00:00Z' } }));
    const key = h.key();
    const capped = { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop', occurredAt: '2026-11-19T09:00:00Z' };
    expect(codes(await h.gql(h.clientToken, award, { input: capped }))).toEqual(['CAP_EXCEEDED']);
    // Sending it again is refused again (not replayed as a refusal, not a conflict)...
    expect(codes(await h.gql(h.clientToken, award, { input: capped }))).toEqual(['CAP_EXCEEDED']);
    expect(await keyRows(key)).toEqual([]);
    // ...and the corrected request (the drop was the day before) writes under the same key.
    const fixed = ok(await h.gql(h.clientToken, award, { input: { ...capped, occurredAt: '2026-11-18T09:00:00Z' } }));
    expect(fixed.replayed).toBe(false);
    expect(await h.walletBalance(m.id)).toBe('2.00');
  });

  it('after INSUFFICIENT_FUNDS: the same transfer goes through once the sender has the points', async () => {
    const from = await newMember();
    const to = await newMember();
    const input = { idempotencyKey: h.key(), from: { id: from.id }, to: { id: to.id }, amount: '4.00', memo: 'gift' };
    const refused = await h.gql(h.adminToken, transfer, { input });
    expect(codes(refused)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(refused.errors![0]!.message).toContain(from.externalId);
    expect(await keyRows(input.idempotencyKey)).toEqual([]);
    ok(await h.gql(h.adminToken, award, { input: { idempotencyKey: h.key(), memberId: from.id, rule: 'garbage.bin-duty' } }));
    const done = ok(await h.gql(h.adminToken, transfer, { input }));
    expect(done.replayed).toBe(false);
    expect(done.transaction.kind).toBe('TRANSFER');
    expect([await h.walletBalance(from.id), await h.walletBalance(to.id)]).toEqual(['1.00', '4.00']);
    expect(ok(await h.gql(h.adminToken, transfer, { input }))).toMatchObject({ replayed: true, transaction: { id: done.transaction.id } });
  });

  it('after NOT_FOUND: the award goes through under the same key once the member is registered', async () => {
    const externalId = `${h.tag}-registers-later`;
    const input = { idempotencyKey: h.key(), externalId, rule: 'garbage.bin-duty' };
    expect(codes(await h.gql(h.clientToken, award, { input }))).toEqual(['NOT_FOUND']);
    expect(await keyRows(input.idempotencyKey)).toEqual([]);
    const id = await h.addMember(externalId, h.branches[1]!);
    const done = ok(await h.gql(h.clientToken, award, { input }));
    expect(done).toMatchObject({ replayed: false, transaction: { member: { id } } });
    expect(await h.walletBalance(id)).toBe('5.00');
  });

  it('after NOT_FOUND or BAD_USER_INPUT: the key is still free', async () => {
    const m = await newMember();
    const key = h.key();
    const narrow = h.token({ role: 'client', sub: `${h.tag}-narrow`, rules: ['garbage.sorted-drop'] });
    expect(codes(await h.gql(narrow, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' } }))).toEqual(['NOT_FOUND']);
    expect(codes(await h.gql(narrow, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop', quantity: '0' } }))).toEqual(['BAD_USER_INPUT']);
    expect(ok(await h.gql(narrow, award, { input: { idempotencyKey: key, memberId: m.id, rule: 'garbage.sorted-drop' } })).replayed).toBe(false);
  });
});

describe('concurrent retries', () => {
  it('200 identical awards sent together write one transaction and all answer with it', async () => {
    const m = await newMember();
    const input = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', memo: 'the kiosk retried in a loop' };
    const answers = await Promise.all(Array.from({ length: 200 }, () => h.gql(h.clientToken, award, { input })));
    for (const res of answers) expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const results = answers.map((res) => res.data.awardPoints);
    expect(new Set(results.map((r) => r.transaction.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(results.filter((r) => r.replayed)).toHaveLength(199);
    for (const r of results) expect(r.transaction).toEqual(results[0]!.transaction);
    expect(await h.transactionCount({ member_id: m.id })).toBe(1);
    expect(await keyRows(input.idempotencyKey)).toHaveLength(1);
    expect(await h.walletBalance(m.id)).toBe('5.00');
  });

  it('200 awards under one key, half of them asking for something else, write once and refuse the others', async () => {
    const m = await newMember();
    const key = h.key();
    const a = { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' };
    const b = { ...a, quantity: '2' };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => h.gql(h.clientToken, award, { input: i % 2 ? b : a })));
    const written = answers.filter((res) => !res.errors);
    const ids = new Set(written.map((res) => res.data.awardPoints.transaction.id));
    expect(ids.size).toBe(1);
    expect(written.filter((res) => !res.data.awardPoints.replayed)).toHaveLength(1);
    // Whichever request came first owns the key; every request of the other kind is a conflict.
    const refused = answers.filter((res) => res.errors);
    for (const res of refused) expect(codes(res)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(written.length).toBe(100);
    expect(refused.length).toBe(100);
    expect(await h.transactionCount({ member_id: m.id })).toBe(1);
    expect(['5.00', '10.00']).toContain(await h.walletBalance(m.id));
  });
});

describe('a key outlives the service instance that wrote it', () => {
  it('is stored with its transaction, and a new instance replays it', async () => {
    const m = await newMember();
    const input = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' };
    const first = ok(await h.gql(h.clientToken, award, { input }));
    expect(await keyRows(input.idempotencyKey, `client-${h.tag}`)).toMatchObject([
      { operation: 'awardPoints', transaction_id: first.transaction.id, result: null },
    ]);
    // A second instance of the service: its own pool, its own process state, the same database.
    const config = loadConfig({ ...process.env, DB_POOL_SIZE: '4', SEED_DEMO: 'false' });
    const bank = await openBank(config, inject('databaseUrl'));
    const built = await buildApp(bank, () => undefined);
    const server: Server = await new Promise((resolve) => { const s = built.app.listen(0, '127.0.0.1', () => resolve(s)); });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await request(url).post('/graphql').set('content-type', 'application/json')
        .set('authorization', `Bearer ${h.clientToken}`).send({ query: award, variables: { input } });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.awardPoints).toEqual({ ...first, replayed: true });
      const conflict = await request(url).post('/graphql').set('content-type', 'application/json')
        .set('authorization', `Bearer ${h.clientToken}`).send({ query: award, variables: { input: { ...input, quantity: '2' } } });
      expect(conflict.body.errors.map((e: any) => e.extensions.code)).toEqual(['IDEMPOTENCY_CONFLICT']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await built.stop();
      await bank.close();
    }
    expect(await h.transactionCount({ member_id: m.id })).toBe(1);
    expect(await h.walletBalance(m.id)).toBe('5.00');
  });
});
