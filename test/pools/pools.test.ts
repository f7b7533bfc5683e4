// Crowdfunding pools (积分众筹) as admins and members use them: open a pool, donate up to the target
// (never past it, even when donations race), disburse a funded pool to a merchant, or close it and
// give every donor back exactly what it gave, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let merchant: string;

const createPool = `mutation($i: CreatePoolInput!) { createPool(input: $i) { replayed pool { id title beneficiary target raised remaining donors status branch { code } account { balance } } } }`;
const donateMutation = `mutation($i: DonateInput!) { donate(input: $i) { replayed transactionId transaction { kind postings { amount } } pool { raised remaining status donors } } }`;
const disburseMutation = `mutation($i: DisbursePoolInput!) { disbursePool(input: $i) { replayed transaction { kind memo postings { amount } } pool { status disbursedTo { id } account { balance } } } }`;
const closeMutation = `mutation($i: ClosePoolInput!) { closePool(input: $i) { replayed refunds pool { status closeReason raised remaining account { balance } } } }`;

async function openPool(target = '100.00', fields: Record<string, unknown> = {}): Promise<string> {
  const res = await h.gql(h.adminToken, createPool, { i: { idempotencyKey: h.key(), title: '王奶奶家的轮椅 A wheelchair', beneficiary: 'Granny Wang', target, ...fields } });
  expect(res.errors).toBeUndefined();
  return res.data.createPool.pool.id;
}

async function donor(points = '100.00', branch = h.branches[0]): Promise<{ id: string; token: string }> {
  const id = await h.addMember(`d-${h.key()}`, branch);
  await h.fund(id, points);
  return { id, token: h.token({ role: 'member', member: id, sub: `member-${id}` }) };
}

function give(token: string, pool: string, amount: string, key = h.key()) {
  return h.gql(token, donateMutation, { i: { idempotencyKey: key, pool, amount } });
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 30 });
  merchant = await h.addMerchant('Mobility aids shop');
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('createPool', () => {
  it('opens a pool with its own account, once per key, in a branch of the admin\'s scope', async () => {
    const input = { idempotencyKey: h.key(), branch: h.branches[0]!.code, title: 'Ramp for the library', beneficiary: 'Riverside library', target: '500.00' };
    const res = await h.gql(h.adminToken, createPool, { i: input });
    expect(res.data.createPool).toMatchObject({ replayed: false, pool: { target: '500.00', raised: '0.00', remaining: '500.00', donors: 0, status: 'OPEN', branch: { code: h.branches[0]!.code }, account: { balance: '0.00' } } });
    expect((await h.gql(h.adminToken, createPool, { i: input })).data.createPool).toMatchObject({ replayed: true, pool: { id: res.data.createPool.pool.id } });
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code });
    expect(codes(await h.gql(branchAdmin, createPool, { i: { ...input, idempotencyKey: h.key() } }))).toEqual(['FORBIDDEN']);
    const member = await donor();
    expect(codes(await h.gql(member.token, createPool, { i: { ...input, idempotencyKey: h.key() } }))).toEqual(['FORBIDDEN']);
    for (const [fields, field] of [[{ target: '0' }, 'target'], [{ target: '1.001' }, 'target'], [{ title: '' }, 'title'], [{ deadline: '2020-01-01T00:00:00Z' }, 'deadline']] as const) {
      const bad = await h.gql(h.adminToken, createPool, { i: { ...input, idempotencyKey: h.key(), ...fields } });
      expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
      expect(bad.errors![0]!.extensions!.field).toBe(field);
    }
  });
});

describe('donate', () => {
  it('moves points from the member\'s wallet to the pool, replays by key, and funds the pool at its target', async () => {
    const pool = await openPool('30.00');
    const a = await donor('50.00');
    const key = h.key();
    const first = await give(a.token, pool, '20.00', key);
    expect(first.errors).toBeUndefined();
    expect(first.data.donate).toMatchObject({ replayed: false, transaction: { kind: 'DONATE' }, pool: { raised: '20.00', remaining: '10.00', status: 'OPEN', donors: 1 } });
    expect((await give(a.token, pool, '20.00', key)).data.donate).toMatchObject({ replayed: true, transactionId: first.data.donate.transactionId });
    expect(codes(await give(a.token, pool, '5.00', key))).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await h.walletBalance(a.id)).toBe('30.00');
    const past = await give(a.token, pool, '10.01');
    expect(codes(past)).toEqual(['LIMIT_EXCEEDED']);
    expect(past.errors![0]!.message).toMatch(/needs only 10\.00 POINTS more/);
    const done = await give(a.token, pool, '10.00');
    expect(done.data.donate.pool).toMatchObject({ raised: '30.00', remaining: '0.00', status: 'FUNDED' });
    expect(codes(await give(a.token, pool, '1.00'))).toEqual(['INVALID_STATE']);
    // A donation comes back only by closing the pool: reverseTransaction would leave the pool's raised amount wrong.
    const reverse = await h.gql(h.adminToken, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), transaction: first.data.donate.transactionId, reason: 'try' } });
    expect(codes(reverse)).toEqual(['INVALID_STATE']);
    expect(reverse.errors![0]!.message).toMatch(/closePool/);
  });

  it('refuses what the wallet cannot cover, pools of other branches, bad amounts and other roles', async () => {
    const pool = await openPool('100.00', { branch: h.branches[0]!.code });
    const poor = await donor('3.00');
    expect(codes(await give(poor.token, pool, '5.00'))).toEqual(['INSUFFICIENT_FUNDS']);
    const elsewhere = await donor('50.00', h.branches[1]);
    expect(codes(await give(elsewhere.token, pool, '5.00'))).toEqual(['NOT_FOUND']);
    for (const amount of ['0', '-1.00', '1.234', '1e2']) expect(codes(await give(poor.token, pool, amount))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, donateMutation, { i: { idempotencyKey: h.key(), pool, amount: '1.00' } }))).toEqual(['FORBIDDEN']);
    expect(codes(await give(poor.token, '99999999', '1.00'))).toEqual(['NOT_FOUND']);
    const read = await h.gql(h.adminToken, `query($id: ID!) { pool(id: $id) { raised donors } }`, { id: pool });
    expect(read.data.pool).toEqual({ raised: '0.00', donors: 0 });
    expect(await h.walletBalance(poor.id)).toBe('3.00');
  });

  it('never raises past the target when 40 members donate at once', async () => {
    const pool = await openPool('100.00');
    const donors = await Promise.all(Array.from({ length: 40 }, () => donor('10.00')));
    const results = await Promise.all(donors.map((d) => give(d.token, pool, '7.00')));
    const ok = results.filter((r) => !r.errors);
    expect(ok).toHaveLength(14);
    expect(results.filter((r) => codes(r)[0] === 'LIMIT_EXCEEDED')).toHaveLength(26);
    const read = await h.gql(h.adminToken, `query($id: ID!) { pool(id: $id) { raised remaining donors status account { balance } } }`, { id: pool });
    expect(read.data.pool).toEqual({ raised: '98.00', remaining: '2.00', donors: 14, status: 'OPEN', account: { balance: '98.00' } });
  });
});

describe('disbursePool and closePool', () => {
  it('disburses a funded pool to a merchant, once, with a memo saying what it buys', async () => {
    const pool = await openPool('20.00');
    const a = await donor();
    const input = { idempotencyKey: h.key(), pool, merchant, memo: '轮椅一台 one wheelchair' };
    expect(codes(await h.gql(h.adminToken, disburseMutation, { i: input }))).toEqual(['INVALID_STATE']);
    await give(a.token, pool, '20.00');
    const res = await h.gql(h.adminToken, disburseMutation, { i: { ...input, idempotencyKey: h.key() } });
    expect(res.errors).toBeUndefined();
    expect(res.data.disbursePool).toMatchObject({ replayed: false, transaction: { kind: 'DISBURSE', memo: '轮椅一台 one wheelchair' }, pool: { status: 'DISBURSED', disbursedTo: { id: merchant }, account: { balance: '0.00' } } });
    expect(codes(await h.gql(h.adminToken, disburseMutation, { i: { ...input, idempotencyKey: h.key() } }))).toEqual(['INVALID_STATE']);
    expect(codes(await h.gql(h.adminToken, closeMutation, { i: { idempotencyKey: h.key(), pool, reason: 'too late' } }))).toEqual(['INVALID_STATE']);
    const noMemo = await h.gql(h.adminToken, disburseMutation, { i: { ...input, idempotencyKey: h.key(), memo: '' } });
    expect(codes(noMemo)).toEqual(['BAD_USER_INPUT']);
  });

  it('closes a pool and returns to every donor exactly what it gave, once, however often the close is retried', async () => {
    const pool = await openPool('100.00');
    const donors = await Promise.all([donor('50.00'), donor('50.00'), donor('50.00')]);
    await give(donors[0]!.token, pool, '10.00');
    await give(donors[0]!.token, pool, '2.50');
    await give(donors[1]!.token, pool, '30.00');
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code });
    expect(codes(await h.gql(branchAdmin, closeMutation, { i: { idempotencyKey: h.key(), pool, reason: 'no' } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.adminToken, closeMutation, { i: { idempotencyKey: h.key(), pool, reason: '' } }))).toEqual(['BAD_USER_INPUT']);
    const key = h.key();
    // The same close sent three times at once, and again with other keys: one close, each donation returned once.
    const results = await Promise.all([1, 2, 3].map(() => h.gql(h.adminToken, closeMutation, { i: { idempotencyKey: key, pool, reason: 'family moved away' } })));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(results.filter((r) => !r.data.closePool.replayed)).toHaveLength(1);
    expect(results[0]!.data.closePool).toMatchObject({ refunds: 3, pool: { status: 'CLOSED', closeReason: 'family moved away', remaining: '0.00', account: { balance: '0.00' } } });
    const later = await Promise.all([1, 2].map(() => h.gql(h.adminToken, closeMutation, { i: { idempotencyKey: h.key(), pool, reason: 'again' } })));
    expect(later.map((r) => codes(r))).toEqual([['INVALID_STATE'], ['INVALID_STATE']]);
    expect(await Promise.all(donors.map((d) => h.walletBalance(d.id)))).toEqual(['50.00', '50.00', '50.00']);
    expect(codes(await give(donors[2]!.token, pool, '1.00'))).toEqual(['INVALID_STATE']);
  });

  it('lists the pools a member may give to and the pools of an admin\'s scope', async () => {
    const here = await openPool('10.00', { branch: h.branches[2]!.code, title: 'Garden benches' });
    const member = await donor('5.00', h.branches[2]);
    const list = await h.gql(member.token, `{ pools(status: OPEN, first: 200) { edges { node { id title } } } }`);
    const ids = list.data.pools.edges.map((e: any) => e.node.id);
    expect(ids).toContain(here);
    const otherBranchMember = await donor('5.00', h.branches[1]);
    const theirs = await h.gql(otherBranchMember.token, `{ pools(first: 200) { edges { node { id } } } }`);
    expect(theirs.data.pools.edges.map((e: any) => e.node.id)).not.toContain(here);
    // a pool not open to it reads like an unknown one
    const hidden = await h.gql(otherBranchMember.token, `query($id: ID!) { pool(id: $id) { id } }`, { id: here });
    expect(hidden.errors).toBeUndefined();
    expect(hidden.data.pool).toBeNull();
    const page = await h.gql(h.adminToken, `{ pools(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`);
    expect(page.data.pools.pageInfo.hasNextPage).toBe(true);
    expect(codes(await h.gql(h.clientToken, `{ pools { edges { node { id } } } }`))).toEqual(['FORBIDDEN']);
  });
});
