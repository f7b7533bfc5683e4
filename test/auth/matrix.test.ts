// The authorization matrix: every operation × every role × a target inside / outside the token's
// scope → allowed, or FORBIDDEN and nothing written, exactly as SPEC's "who may do what" says.
// Roles: an admin of the head bank (its scope is everything), an admin and a client (rules '*') of
// branch A, a member of branch A (scope: its own wallet), a merchant. In scope is a member of
// branch A (for the member token: itself); out of scope a member of sibling branch B.
// (Tokens that are expired, not yet valid, of the wrong issuer or audience, alg none or signed with
// the wrong key are UNAUTHENTICATED: test/auth/authorization.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 8 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

type RoleName = 'adminHead' | 'adminA' | 'clientA' | 'memberA' | 'merchant';
type Scope = 'in' | 'out';
type Outcome = 'ok' | 'FORBIDDEN';
const roleNames: RoleName[] = ['adminHead', 'adminA', 'clientA', 'memberA', 'merchant'];

interface Target { memberId: string; externalId: string; branchCode: string; accountId: string; transactionId: string }
interface World {
  tokens: Record<RoleName, string>;
  targets: Record<Scope, Target>;
  /** A second member in each branch, for transfers. */
  peers: Record<Scope, Target>;
}
let world: World;

async function member(label: string, branch: 0 | 1): Promise<Target> {
  const externalId = `${h.tag}-${label}`;
  const memberId = await h.addMember(externalId, h.branches[branch]!);
  // Funds for transfers out of it, written by the head admin.
  const res = await h.gql(h.adminToken, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount: '1000.00', reason: 'matrix funds' } });
  expect(res.errors).toBeUndefined();
  const account = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: memberId, asset_code: 'POINTS' }).first('id');
  return { memberId, externalId, branchCode: h.branches[branch]!.code, accountId: String(account.id), transactionId: res.data.adjustBalance.transactionId };
}

/** A fresh transaction of the target, written by `token` (reversals need one each). */
async function freshTransaction(token: string, target: Target): Promise<string> {
  const res = await h.gql(token, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' } });
  expect(res.errors).toBeUndefined();
  return res.data.awardPoints.transactionId;
}

interface Operation {
  name: string;
  /** Expected outcome per role, [in scope, out of scope]. */
  expected: Record<RoleName, [Outcome, Outcome]>;
  /** Writes what the operation needs before the footprint is taken (a transaction to reverse). */
  prepare?(token: string, role: RoleName, target: Target): Promise<string>;
  run(token: string, role: RoleName, target: Target, peer: Target, prepared: string): Promise<{ codes: string[]; data: any }>;
}

async function call(token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await h.gql(token, query, variables);
  const codes = (res.errors ?? []).map((e) => e.extensions?.code ?? 'NONE');
  return { codes, data: res.data };
}

const writers = (admin: [Outcome, Outcome], client: [Outcome, Outcome], member: [Outcome, Outcome], merchant: [Outcome, Outcome] = ['FORBIDDEN', 'FORBIDDEN']) =>
  ({ adminHead: ['ok', 'ok'], adminA: admin, clientA: client, memberA: member, merchant } as Record<RoleName, [Outcome, Outcome]>);
const no: [Outcome, Outcome] = ['FORBIDDEN', 'FORBIDDEN'];
const scoped: [Outcome, Outcome] = ['ok', 'FORBIDDEN'];
const everywhere: [Outcome, Outcome] = ['ok', 'ok'];

const operations: Operation[] = [
  {
    name: 'awardPoints', expected: writers(scoped, scoped, no),
    run: (t, _, target) => call(t, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' } }),
  },
  {
    name: 'awardPointsBatch', expected: writers(scoped, scoped, no),
    run: async (t, _, target) => {
      const r = await call(t, `mutation($i: AwardPointsBatchInput!) { awardPointsBatch(input: $i) { results { error { code } } } }`,
        { i: { awards: [{ idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' }] } });
      const itemCodes = (r.data?.awardPointsBatch?.results ?? []).flatMap((x: any) => (x.error ? [x.error.code] : []));
      return { codes: [...r.codes, ...itemCodes], data: r.data };
    },
  },
  {
    // A member gifts from its own wallet only (here: to the target, from itself; out of scope: naming another's wallet).
    name: 'transferPoints', expected: writers(scoped, no, scoped),
    run: (t, role, target, peer) => call(t, `mutation($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId } }`, {
      i: role === 'memberA'
        ? { idempotencyKey: h.key(), from: target === world.targets.in ? undefined : { id: target.memberId }, to: { id: peer.memberId }, amount: '1.00' }
        : { idempotencyKey: h.key(), from: { id: target.memberId }, to: { id: peer.memberId }, amount: '1.00' },
    }),
  },
  {
    name: 'adjustBalance', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), member: { id: target.memberId }, asset: 'POINTS', amount: '1.00', reason: 'matrix' } }),
  },
  {
    // A client reverses only what it wrote: in scope, its own award; out of scope, the head admin's award in branch B.
    name: 'reverseTransaction', expected: writers(scoped, scoped, no),
    prepare: (t, role, target) => freshTransaction(role === 'clientA' && target === world.targets.in ? t : h.adminToken, target),
    run: (t, _, __, ___, id) => call(t, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), transaction: id, reason: 'matrix' } }),
  },
  {
    name: 'createBranch', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: CreateBranchInput!) { createBranch(input: $i) { branch { id } } }`,
      { i: { idempotencyKey: h.key(), parent: target.branchCode, code: `${h.tag}-m${Math.random().toString(36).slice(2, 10)}`, name: 'Matrix grid' } }),
  },
  {
    name: 'upsertMember', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { i: { idempotencyKey: h.key(), externalId: `${h.tag}-new-${Math.random().toString(36).slice(2, 10)}`, branch: target.branchCode, name: 'Matrix resident' } }),
  },
  {
    name: 'defineRule', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`, {
      i: { idempotencyKey: h.key(), branch: target.branchCode, code: `matrix.r${Math.random().toString(36).slice(2, 10)}`, name: 'Matrix rule',
        category: 'matrix', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }] },
    }),
  },
  {
    name: 'member', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: scoped, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { member(id: $id) { id } }`, { id: target.memberId }),
  },
  {
    name: 'account', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: scoped, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { account(id: $id) { id } }`, { id: target.accountId }),
  },
  {
    name: 'transaction', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: scoped, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { transaction(id: $id) { id } }`, { id: target.transactionId }),
  },
  {
    // a member's list is its own wallets' transactions whatever the filter (the branch filter narrows admins and clients)
    name: 'transactions (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `query($b: String) { transactions(filter: { branch: $b }) { edges { node { id } } } }`, { b: target.branchCode }),
  },
  {
    // The trial balance and the verification cover the whole head bank: admins (verifyLedger: of the head bank).
    name: 'trialBalance', expected: { adminHead: everywhere, adminA: everywhere, clientA: no, memberA: no, merchant: no },
    run: (t) => call(t, `{ trialBalance { balanced } }`),
  },
  {
    name: 'verifyLedger', expected: { adminHead: everywhere, adminA: no, clientA: no, memberA: no, merchant: no },
    run: (t) => call(t, `{ verifyLedger { ok } }`),
  },
  {
    name: 'ledgerDigest', expected: { adminHead: everywhere, adminA: everywhere, clientA: everywhere, memberA: everywhere, merchant: everywhere },
    run: (t) => call(t, `{ ledgerDigest { sequence } }`),
  },
];

/** Rows that any write adds: a refused request must leave these counts as they were. */
async function footprint(): Promise<string> {
  const { rows } = await h.bank.knex.raw(`SELECT
    (SELECT count(*) FROM transactions WHERE head_id = ?) AS t, (SELECT count(*) FROM members WHERE head_id = ?) AS m,
    (SELECT count(*) FROM branches WHERE head_id = ?) AS b, (SELECT count(*) FROM rules WHERE head_id = ?) AS r,
    (SELECT count(*) FROM idempotency_keys WHERE head_id = ?) AS k`, [h.head.id, h.head.id, h.head.id, h.head.id, h.head.id]);
  return JSON.stringify(rows[0]);
}

beforeAll(async () => {
  const [inTarget, outTarget, inPeer, outPeer] = [await member('in', 0), await member('out', 1), await member('in-peer', 0), await member('out-peer', 1)];
  world = {
    tokens: {
      adminHead: h.adminToken,
      adminA: h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: h.branches[0]!.code }),
      clientA: h.token({ role: 'client', sub: `${h.tag}-client-a`, branch: h.branches[0]!.code, rules: '*' }),
      memberA: h.token({ role: 'member', sub: `${h.tag}-member-a`, member: inTarget.memberId }),
      merchant: h.token({ role: 'merchant', sub: `${h.tag}-merchant`, merchant: '1' }),
    },
    targets: { in: inTarget, out: outTarget },
    peers: { in: inPeer, out: outPeer },
  };
});

describe.each(operations)('$name', (op) => {
  it.each(roleNames.flatMap((role) => (['in', 'out'] as Scope[]).map((scope) => ({ role, scope }))))('$role, $scope of scope', async ({ role, scope }) => {
    const expected = op.expected[role][scope === 'in' ? 0 : 1];
    const target = world.targets[scope];
    // a member's peer for a gift is in its own branch either way (gifting is allowed there)
    const peer = role === 'memberA' ? world.peers.in : world.peers[scope];
    const prepared = op.prepare ? await op.prepare(world.tokens[role], role, target) : '';
    const before = expected === 'FORBIDDEN' ? await footprint() : '';
    const result = await op.run(world.tokens[role], role, target, peer, prepared);
    if (expected === 'ok') {
      expect(result.codes, `${op.name} by ${role} ${scope} of scope`).toEqual([]);
    } else {
      expect(result.codes, `${op.name} by ${role} ${scope} of scope`).toEqual(['FORBIDDEN']);
      expect(await footprint(), 'a refused request writes nothing').toBe(before);
    }
  });
});
