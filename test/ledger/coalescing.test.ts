// Single awards arriving together are written together (group commit, src/ledger/awardCoalescer.ts),
// and what a kiosk depends on does not change: each request gets exactly the answer it gets alone
// (its transaction, postings and balances, a replay as a replay, its own refusal), and a group's
// deadlock or outage answers every request as it would answer one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';
import { awardCoalescingStats } from '../../src/ledger/awardCoalescer.js';
import { loadConfig } from '../../src/config.js';

let h: Harness;
let fine: string;
beforeAll(async () => {
  h = await startHarness({ poolSize: 30 });
  fine = `${h.tag}.fine`;
  const defined = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { version } } }`, {
    input: { idempotencyKey: h.key(), code: fine, name: 'Litter fine', category: 'conduct', outputs: [{ asset: 'POINTS', amountPerUnit: '3.00', direction: 'DEDUCT' }] },
  });
  expect(defined.errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transactionId replayed transaction {
  id kind status occurredAt recordedAt memo metadata principal principalRole forced
  branch { code } member { id externalId } rule { code version category }
  postings { line accountId asset amount balanceAfter account { purpose owner { type id } } } } } }`;

type Input = Record<string, unknown>;
let members = 0;
async function newMember(): Promise<{ id: string; externalId: string }> {
  const externalId = `${h.tag}-m${++members}`;
  return { id: await h.addMember(externalId), externalId };
}

function send(input: Input): Promise<GraphQLResponse> {
  return h.gql(h.clientToken, award, { input });
}

async function sendOk(input: Input): Promise<GraphQLResponse> {
  const res = await send(input);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res;
}

/** An answer with what differs between two members in the same state blanked out (ids, instants of recording). */
function shape(res: GraphQLResponse, member: { id: string; externalId: string }): unknown {
  const json = structuredClone({ status: res.status, data: res.data, errors: res.errors });
  const answer = json.data?.awardPoints;
  if (answer?.transaction) {
    const txn = answer.transaction;
    expect(txn.member).toEqual({ id: member.id, externalId: member.externalId });
    answer.transactionId = txn.id = txn.recordedAt = txn.member = '<blanked>';
    for (const p of txn.postings) {
      p.accountId = '<blanked>';
      if (p.account.owner.type === 'MEMBER') {
        expect(p.account.owner.id).toBe(member.id);
        p.account.owner.id = '<blanked>';
      }
    }
  }
  return json;
}

/** A request of the mix, and what it must answer: a value to equal (after normalize), or a check of its own. */
interface Case { label: string; input: Input; expected?: unknown; normalize?(res: GraphQLResponse): unknown; check?(res: GraphQLResponse): void }

/**
 * 64 awards whose outcome does not depend on the order they are written in, each with what the
 * same request answers alone: 24 new awards (checked against a twin member awarded alone), 8 replays,
 * 8 same-key different requests (4 of them on the replays' keys), 8 cap refusals, 8 refusals for
 * insufficient funds, and 4 pairs of one new request sent twice at once.
 */
async function mix(): Promise<Case[]> {
  const cases: Case[] = [];
  const occurredAt = new Date(Date.now() - 60_000).toISOString();
  const rules = ['garbage.bin-duty', 'volunteer.hour', 'party.class-attendance'];
  const twinKeys: string[] = [];
  for (let i = 0; i < 24; i++) {
    const [member, twin] = [await newMember(), await newMember()];
    if (i % 2 === 1) { await h.fund(member.id, '7.50'); await h.fund(twin.id, '7.50'); }
    const request = { rule: rules[i % 3], occurredAt, memo: `case ${i}`, ...(i % 4 === 0 ? { metadata: { n: i } } : {}) };
    const twinKey = h.key();
    twinKeys.push(twinKey);
    const alone = shape(await sendOk({ ...request, idempotencyKey: twinKey, memberId: twin.id }), twin);
    const input = { ...request, idempotencyKey: h.key(), ...(i % 3 === 0 ? { externalId: member.externalId } : { memberId: member.id }) };
    cases.push({ label: `new award ${i}`, input, expected: alone, normalize: (res) => shape(res, member) });
  }
  const replayKeys: string[] = [];
  for (let i = 0; i < 8; i++) {
    const member = await newMember();
    const input = { idempotencyKey: h.key(), memberId: member.id, rule: 'garbage.bin-duty', quantity: String(1 + (i % 2)) };
    replayKeys.push(input.idempotencyKey);
    const first = await sendOk(input);
    const replay = { ...first, data: { awardPoints: { ...first.data.awardPoints, replayed: true } } };
    cases.push({ label: `replay ${i}`, input, expected: replay });
  }
  /** A refusal writes nothing, so the very request sent alone first answers the same again. */
  const refusal = async (label: string, input: Input, code: string) => {
    const alone = await send(input);
    expect(codes(alone), label).toEqual([code]);
    cases.push({ label, input, expected: alone });
  };
  for (let i = 0; i < 8; i++) {
    const member = await newMember();
    await refusal(`same key, other request ${i}`, { idempotencyKey: i < 4 ? replayKeys[i] : twinKeys[i], memberId: member.id, rule: 'garbage.sorted-drop' }, 'IDEMPOTENCY_CONFLICT');
  }
  for (let i = 0; i < 8; i++) {
    const member = await newMember();
    await sendOk({ idempotencyKey: h.key(), memberId: member.id, rule: 'garbage.sorted-drop', occurredAt });
    await refusal(`cap ${i}`, { idempotencyKey: h.key(), memberId: member.id, rule: 'garbage.sorted-drop', occurredAt }, 'CAP_EXCEEDED');
  }
  for (let i = 0; i < 8; i++) {
    const member = await newMember();
    if (i % 2 === 1) await h.fund(member.id, '2.50');
    await refusal(`insufficient funds ${i}`, { idempotencyKey: h.key(), memberId: member.id, rule: fine, quantity: String(1 + (i % 2)) }, 'INSUFFICIENT_FUNDS');
  }
  for (let i = 0; i < 4; i++) {
    const member = await newMember();
    const input = { idempotencyKey: h.key(), memberId: member.id, rule: 'volunteer.hour', occurredAt };
    const answers: GraphQLResponse[] = [];
    const both = (res: GraphQLResponse) => {
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      answers.push(res);
      if (answers.length < 2) return;
      // one of the two wrote it, the other replays it: the same transaction, credited once
      expect(answers.map((a) => a.data.awardPoints.replayed).sort()).toEqual([false, true]);
      expect(answers[0]!.data.awardPoints.transaction).toEqual(answers[1]!.data.awardPoints.transaction);
      expect(answers[0]!.data.awardPoints.transaction.postings.find((p: any) => p.asset === 'POINTS' && p.balanceAfter)?.balanceAfter).toBe('10.00');
    };
    cases.push({ label: `twice at once ${i}`, input, check: both }, { label: `twice at once ${i} (copy)`, input, check: both });
  }
  expect(cases).toHaveLength(64);
  return cases;
}

/** Each answer is what its request answers alone (compared all at once, so that a failure shows every difference). */
function expectAlone(cases: Case[], answers: GraphQLResponse[]): void {
  const compared = cases.flatMap((c, i) => (c.check ? [] : [{ label: c.label, answer: c.normalize ? c.normalize(answers[i]!) : answers[i] }]));
  expect(compared).toEqual(cases.filter((c) => !c.check).map((c) => ({ label: c.label, answer: c.expected })));
  cases.forEach((c, i) => c.check?.(answers[i]!));
}

/** Waits (briefly, polling) until the condition holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition(), what).toBe(true);
}

/**
 * Sends the requests while the client's lane has a call in flight (an award to a member whose
 * wallet a test transaction holds locked), so that all of them are waiting before it returns: the
 * groups are then exactly known.
 */
async function whileLaneBusy(inputs: Input[]): Promise<GraphQLResponse[]> {
  const holder = await newMember();
  const trx = await h.bank.knex.transaction();
  try {
    await trx.raw(`SELECT id FROM accounts WHERE head_id = ? AND owner_type = 'MEMBER' AND owner_id = ? FOR UPDATE`, [h.head.id, holder.id]);
    const before = awardCoalescingStats(h.bank);
    const blocked = sendOk({ idempotencyKey: h.key(), memberId: holder.id, rule: 'garbage.bin-duty' });
    await until(() => awardCoalescingStats(h.bank).loneCalls > before.loneCalls, 'the blocked award is in flight');
    const answers = Promise.all(inputs.map(send));
    await until(() => awardCoalescingStats(h.bank).waiting === inputs.length, 'every request waits for the lane');
    await trx.rollback();
    await blocked;
    return await answers;
  } finally {
    if (!trx.isCompleted()) await trx.rollback();
  }
}

/** Replaces what the pool sends for one named statement while work runs. */
async function withStatement<T>(name: string, replace: (send: () => Promise<any>) => Promise<any>, work: () => Promise<T>): Promise<T> {
  const query = h.bank.pool.query.bind(h.bank.pool);
  h.bank.pool.query = ((config: any, ...rest: any[]) =>
    (config?.name === name ? replace(() => (query as any)(config, ...rest)) : (query as any)(config, ...rest))) as any;
  try {
    return await work();
  } finally {
    h.bank.pool.query = query;
  }
}

async function keyRows(keys: string[]): Promise<number> {
  const [row] = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id }).whereIn('key', keys).count({ n: '*' });
  return Number(row!.n);
}

describe('64 awards at once', () => {
  it('each gets the answer it gets alone, written in two groups while a call was in flight', async () => {
    const cases = await mix();
    const before = awardCoalescingStats(h.bank);
    const answers = await whileLaneBusy(cases.map((c) => c.input));
    const after = awardCoalescingStats(h.bank);
    expectAlone(cases, answers);
    // 56 first uses of a key in the first group; the 8 requests repeating a key of it in the second
    expect(after.groupCalls - before.groupCalls).toBe(2);
    expect(after.groupedAwards - before.groupedAwards).toBe(64);
    expect(after.fallbacks).toBe(before.fallbacks);
    const refused = cases.filter((c) => /^(cap|insufficient)/.test(c.label)).map((c) => c.input.idempotencyKey as string);
    expect(await keyRows(refused), 'refusals leave their keys unused').toBe(0);
  });

  it('each gets the answer it gets alone when they simply arrive together, and some were coalesced', async () => {
    const cases = await mix();
    const before = awardCoalescingStats(h.bank);
    const answers = await Promise.all(cases.map((c) => send(c.input)));
    const after = awardCoalescingStats(h.bank);
    expectAlone(cases, answers);
    expect(after.groupedAwards - before.groupedAwards).toBeGreaterThan(0);
  });
});

describe('a group that fails', () => {
  it('is retried whole after a deadlock, and each award is written once', async () => {
    const people = await Promise.all(Array.from({ length: 6 }, () => newMember()));
    const inputs = people.map((m) => ({ idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' }));
    let deadlocks = 0;
    const answers = await withStatement('cb_award_batch', async (real) => {
      if (deadlocks++ === 0) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      return real();
    }, () => whileLaneBusy(inputs));
    expect(deadlocks).toBe(2);
    for (const [i, res] of answers.entries()) {
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      expect(res.data.awardPoints.replayed).toBe(false);
      expect(await h.walletBalance(people[i]!.id)).toBe('5.00');
    }
  });

  it('answers every award UNAVAILABLE when the database is gone, as a lone award is answered, and writes nothing', async () => {
    const outage = async () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }); };
    const lone = await newMember();
    const alone = await withStatement('cb_award_one', outage, () => send({ idempotencyKey: h.key(), memberId: lone.id, rule: 'garbage.bin-duty' }));
    expect(codes(alone)).toEqual(['UNAVAILABLE']);
    const people = await Promise.all(Array.from({ length: 5 }, () => newMember()));
    const inputs = people.map((m) => ({ idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' }));
    const before = awardCoalescingStats(h.bank);
    const answers = await withStatement('cb_award_batch', outage, () => whileLaneBusy(inputs));
    expect(awardCoalescingStats(h.bank).groupCalls - before.groupCalls).toBe(1);
    for (const res of answers) expect(res).toEqual(alone);
    expect(await keyRows(inputs.map((i) => i.idempotencyKey))).toBe(0);
  });
});

describe('AWARD_COALESCING=off', () => {
  it('is read from the environment, on by default', () => {
    expect(loadConfig({}).awardCoalescing).toBe(true);
    expect(loadConfig({ AWARD_COALESCING: 'off' }).awardCoalescing).toBe(false);
    expect(() => loadConfig({ AWARD_COALESCING: 'sometimes' })).toThrow(/AWARD_COALESCING/);
  });

  it('sends every award alone through cb_award_one, however many arrive together', async () => {
    const people = await Promise.all(Array.from({ length: 16 }, () => newMember()));
    const before = awardCoalescingStats(h.bank);
    h.bank.config.awardCoalescing = false;
    try {
      const answers = await Promise.all(people.map((m) => send({ idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' })));
      for (const res of answers) expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    } finally {
      h.bank.config.awardCoalescing = true;
    }
    const after = awardCoalescingStats(h.bank);
    expect(after.loneCalls - before.loneCalls).toBe(16);
    expect(after.groupCalls).toBe(before.groupCalls);
  });
});
