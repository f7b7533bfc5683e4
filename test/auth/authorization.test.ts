// Who may do what: a request without a valid token is UNAUTHENTICATED (HTTP 401) whatever is wrong
// with the token; a valid token acting outside its role or branch scope is FORBIDDEN and writes nothing.
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeadBank } from '../../src/directory/branches.js';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

/** The development configuration the harness runs with (src/config.ts). */
const devSecret = 'civility-bank-development-secret-change-me';
const issuer = 'civility-bank';
const audience = 'civility-bank';

const meQuery = `{ me { sub role branch { code } } }`;
const awardMutation = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transaction { id } } }`;

/** Signs a token like the bank's own; an option given as undefined is left out of the token. */
function sign(payload: Record<string, unknown>, options: jwt.SignOptions = {}, secret = devSecret): string {
  const merged: Record<string, unknown> = { algorithm: 'HS256', issuer, audience, expiresIn: 600, ...options };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return jwt.sign(payload, secret, merged as jwt.SignOptions);
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function rawRequest(authorization: string | null) {
  const res = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify({ query: meQuery }),
  });
  const body = await res.json() as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: res.status, data: body.data, errors: body.errors };
}

function expectUnauthenticated(res: { status: number; data?: unknown; errors?: { extensions?: { code?: string } }[] }) {
  expect(res.status).toBe(401);
  expect((res.errors ?? []).map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  expect(res.data ?? null).toBeNull();
}

async function balance(memberId: string): Promise<string> {
  const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { balance } }`, { id: memberId });
  return res.data.member.balance;
}

describe('a request is UNAUTHENTICATED', () => {
  const head = () => h.head.code;
  const claims = () => ({ sub: `someone-${h.tag}`, role: 'admin', branch: head() });

  it('without a token', async () => {
    expectUnauthenticated(await h.gql(null, meQuery));
    expectUnauthenticated(await rawRequest(null));
  });

  it.each([
    ['an empty header', ''],
    ['a Basic header', 'Basic YWRtaW46YWRtaW4='],
    ['Bearer without a token', 'Bearer'],
    ['Bearer with two words', 'Bearer abc def'],
    ['a token with forbidden characters', 'Bearer abc$def'],
    ['a token that is not a JWT', 'Bearer not-a-jwt'],
    ['a lower-case scheme and garbage', 'bearer x.y.z'],
  ])('with %s', async (_, header) => {
    expectUnauthenticated(await rawRequest(header));
  });

  it('with a token longer than any real one', async () => {
    expectUnauthenticated(await rawRequest(`Bearer ${'a'.repeat(9000)}`));
  });

  it('with an expired token', async () => {
    expectUnauthenticated(await h.gql(h.token({ role: 'admin' }, -60), meQuery));
    expectUnauthenticated(await h.gql(sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 }, { expiresIn: undefined }), meQuery));
  });

  it('with a token that is not valid yet', async () => {
    expectUnauthenticated(await h.gql(sign(claims(), { notBefore: 600 }), meQuery));
  });

  it('with the wrong issuer or audience', async () => {
    expectUnauthenticated(await h.gql(sign(claims(), { issuer: 'someone-else' }), meQuery));
    expectUnauthenticated(await h.gql(sign(claims(), { audience: 'another-service' }), meQuery));
    expectUnauthenticated(await h.gql(sign(claims(), { issuer: undefined }), meQuery));
    expectUnauthenticated(await h.gql(sign(claims(), { audience: undefined }), meQuery));
  });

  it('with a token signed with another secret', async () => {
    expectUnauthenticated(await h.gql(sign(claims(), {}, 'not-the-secret'), meQuery));
  });

  it('with a token signed with another algorithm', async () => {
    expectUnauthenticated(await h.gql(sign(claims(), { algorithm: 'HS512' }), meQuery));
  });

  it('with an unsigned token (alg none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...claims(), iss: issuer, aud: audience, iat: now, exp: now + 600 };
    expectUnauthenticated(await h.gql(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`, meQuery));
    // The same with the signature of a different token pasted on.
    const signature = sign(claims()).split('.')[2];
    expectUnauthenticated(await h.gql(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.${signature}`, meQuery));
  });

  it('with a token whose payload was edited after signing', async () => {
    const [header, , signature] = sign({ ...claims(), role: 'member', member: '1' }).split('.');
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url({ ...claims(), iss: issuer, aud: audience, iat: now, exp: now + 600 });
    expectUnauthenticated(await h.gql(`${header}.${payload}.${signature}`, meQuery));
  });

  it('with a token without an expiry', async () => {
    const token = sign(claims(), { expiresIn: undefined });
    expect(jwt.decode(token)).not.toHaveProperty('exp');
    const res = await h.gql(token, meQuery);
    expectUnauthenticated(res);
    expect(res.errors![0]!.message).toContain('expiry');
  });

  it('with an unknown role, or none', async () => {
    expectUnauthenticated(await h.gql(h.token({ role: 'superuser' as any }), meQuery));
    expectUnauthenticated(await h.gql(sign({ sub: `x-${h.tag}`, branch: head() }), meQuery));
  });

  it('with an unknown branch, or none', async () => {
    expectUnauthenticated(await h.gql(h.token({ role: 'admin', branch: `${h.tag}-no-such-branch` }), meQuery));
    expectUnauthenticated(await h.gql(sign({ sub: `x-${h.tag}`, role: 'admin' }), meQuery));
  });

  it('without a subject', async () => {
    expectUnauthenticated(await h.gql(sign({ role: 'admin', branch: head() }), meQuery));
    expectUnauthenticated(await h.gql(sign({ sub: '', role: 'admin', branch: head() }), meQuery));
  });

  it('with a member token that names no member, or a merchant token no merchant', async () => {
    expectUnauthenticated(await h.gql(h.token({ role: 'member' }), meQuery));
    expectUnauthenticated(await h.gql(h.token({ role: 'member', member: 'abc' }), meQuery));
    expectUnauthenticated(await h.gql(h.token({ role: 'merchant' }), meQuery));
  });

  it('for writes too, which then write nothing', async () => {
    const member = await h.addMember(`${h.tag}-unauth-write`);
    const res = await h.gql(sign({ sub: `x-${h.tag}`, role: 'client', branch: head(), rules: '*' }, {}, 'wrong'), awardMutation,
      { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    expectUnauthenticated(res);
    expect(await balance(member)).toBe('0.00');
  });

  it('but a hand-signed token with every claim right is accepted', async () => {
    const res = await h.gql(sign(claims()), meQuery);
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data.me).toEqual({ sub: `someone-${h.tag}`, role: 'admin', branch: { code: h.head.code } });
  });
});

describe('an admin of one branch', () => {
  const adminA = () => h.token({ role: 'admin', sub: `admin-a-${h.tag}`, branch: h.branches[0]!.code });

  it('cannot read a member, account or transaction of a sibling branch: they read like unknown ids (null, no identifier)', async () => {
    const externalId = `${h.tag}-sibling-read`;
    const member = await h.addMember(externalId, h.branches[1]);
    const awarded = await h.gql(h.clientToken, `mutation($input: AwardPointsInput!) { awardPoints(input: $input) {
      transaction { id postings { accountId balanceAfter } } } }`, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    expect(awarded.errors).toBeUndefined();
    const txn = awarded.data.awardPoints.transaction;
    const wallet = txn.postings.find((p: any) => p.balanceAfter !== null).accountId;
    const issuance = txn.postings.find((p: any) => p.balanceAfter === null).accountId;

    // the same answer as an id nobody has: nothing to list members of other branches by
    const unknownId = '999999999999';
    for (const [query, known, unknown] of [
      ['query($id: ID!) { member(id: $id) { id } }', { id: member }, { id: unknownId }],
      ['query($id: String) { member(externalId: $id) { id } }', { id: externalId }, { id: `${h.tag}-nobody` }],
      ['query($id: ID!) { account(id: $id) { balance } }', { id: wallet }, { id: unknownId }],
      ['query($id: ID!) { account(id: $id) { balance } }', { id: issuance }, { id: unknownId }],
      ['query($id: ID!) { transaction(id: $id) { id } }', { id: txn.id }, { id: unknownId }],
    ] as const) {
      const [outside, nowhere] = [await h.gql(adminA(), query, known), await h.gql(adminA(), query, unknown)];
      expect({ errors: outside.errors, data: outside.data }, query).toEqual({ errors: nowhere.errors, data: nowhere.data });
      expect(outside.data, query).toEqual({ [query.includes('member') ? 'member' : query.includes('account') ? 'account' : 'transaction']: null });
    }
    expect(codes(await h.gql(adminA(), `query($c: String!) { branch(code: $c) { id } }`, { c: h.branches[1]!.code }))).toEqual(['FORBIDDEN']);
    // Nor is the head bank's admin limited that way: it reads them all.
    expect((await h.gql(h.adminToken, `query($id: ID!) { transaction(id: $id) { id } }`, { id: txn.id })).data.transaction.id).toBe(txn.id);
  });

  it('can read a member of its own branch', async () => {
    const member = await h.addMember(`${h.tag}-own-read`, h.branches[0]);
    const res = await h.gql(adminA(), `query($id: ID!) { member(id: $id) { id balance } }`, { id: member });
    expect(res.errors).toBeUndefined();
    expect(res.data.member).toEqual({ id: member, balance: '0.00' });
  });

  it('cannot add or move a member into a sibling branch, nor take over a member of one', async () => {
    const externalId = `${h.tag}-upsert-sibling`;
    const upsert = (branch: string, name: string) => h.gql(adminA(), `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id } } }`,
      { input: { idempotencyKey: h.key(), externalId, branch, name } });
    expect(codes(await upsert(h.branches[1]!.code, 'Intruder'))).toEqual(['FORBIDDEN']);
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM members WHERE head_id = ? AND external_id = ?`, [h.head.id, externalId]);
    expect(rows[0].n).toBe(0);
    // A member of the sibling branch cannot be pulled into A by re-upserting its externalId.
    const theirs = `${h.tag}-upsert-theirs`;
    await h.addMember(theirs, h.branches[1]);
    const pull = await h.gql(adminA(), `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id } } }`,
      { input: { idempotencyKey: h.key(), externalId: theirs, branch: h.branches[0]!.code, name: 'Taken over' } });
    expect(codes(pull)).toEqual(['FORBIDDEN']);
    const row = await h.bank.knex('members').where({ head_id: h.head.id, external_id: theirs }).first();
    expect(String(row.branch_id)).toBe(h.branches[1]!.id);
    expect(row.name).toBe(`Member ${theirs}`);
  });

  it('cannot create a branch under a sibling branch or under the head bank', async () => {
    for (const parent of [h.branches[1]!.code, h.head.code]) {
      const code = `${h.tag}-intruding-${parent.slice(-4)}`;
      const res = await h.gql(adminA(), `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { id } } }`,
        { input: { idempotencyKey: h.key(), parent, code, name: 'Intruding branch' } });
      expect(codes(res), parent).toEqual(['FORBIDDEN']);
      expect(await h.bank.branches.byCodeOrNull(code)).toBeNull();
    }
  });
});

describe('a client scoped to one branch', () => {
  it('cannot award to a member of a sibling branch', async () => {
    const member = await h.addMember(`${h.tag}-client-sibling`, h.branches[1]);
    const clientA = h.token({ role: 'client', sub: `client-a-${h.tag}`, branch: h.branches[0]!.code, rules: '*' });
    const res = await h.gql(clientA, awardMutation, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    const byExternalId = await h.gql(clientA, awardMutation, { input: { idempotencyKey: h.key(), externalId: `${h.tag}-client-sibling`, rule: 'garbage.bin-duty' } });
    expect(codes(byExternalId)).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('0.00');
    // In its own branch the same award goes through.
    const own = await h.addMember(`${h.tag}-client-own-branch`, h.branches[0]);
    expect((await h.gql(clientA, awardMutation, { input: { idempotencyKey: h.key(), memberId: own, rule: 'garbage.bin-duty' } })).errors).toBeUndefined();
  });

  it('cannot apply a rule its token does not list', async () => {
    const member = await h.addMember(`${h.tag}-client-rules`);
    const sorter = h.token({ role: 'client', sub: `sorter-${h.tag}`, rules: ['garbage.sorted-drop'] });
    const res = await h.gql(sorter, awardMutation, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    expect(codes(res)).toEqual(['NOT_FOUND']);  // a rule the token does not list reads like an unknown rule (issue 13 item 15)
    expect((await h.gql(sorter, awardMutation, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.sorted-drop' } })).errors).toBeUndefined();
    expect(await balance(member)).toBe('1.00');
  });

  it('cannot administer: no members, branches, adjustments or trial balance', async () => {
    const member = await h.addMember(`${h.tag}-client-admin`);
    const upsert = await h.gql(h.clientToken, `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id } } }`,
      { input: { idempotencyKey: h.key(), externalId: `${h.tag}-client-made`, branch: h.branches[0]!.code, name: 'x' } });
    expect(codes(upsert)).toEqual(['FORBIDDEN']);
    const branch = await h.gql(h.clientToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { id } } }`,
      { input: { idempotencyKey: h.key(), parent: h.head.code, code: `${h.tag}-client-branch`, name: 'x' } });
    expect(codes(branch)).toEqual(['FORBIDDEN']);
    const adjust = await h.gql(h.clientToken, `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { transaction { id } } }`,
      { input: { idempotencyKey: h.key(), member: { id: member }, asset: 'POINTS', amount: '100.00', reason: 'x' } });
    expect(codes(adjust)).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('0.00');
  });
});

describe('a member token', () => {
  it('reads its own member but not another member', async () => {
    const me = await h.addMember(`${h.tag}-member-me`, h.branches[0]);
    const other = await h.addMember(`${h.tag}-member-other`, h.branches[0]);
    const token = h.token({ role: 'member', member: me });
    const own = await h.gql(token, `query($id: ID!) { member(id: $id) { id balance } }`, { id: me });
    expect(own.errors).toBeUndefined();
    expect(own.data.member.id).toBe(me);
    // another member reads like nobody: no error naming it
    for (const res of [await h.gql(token, `query($id: ID!) { member(id: $id) { id } }`, { id: other }),
      await h.gql(token, `query($e: String) { member(externalId: $e) { id } }`, { e: `${h.tag}-member-other` })]) {
      expect(res.errors).toBeUndefined();
      expect(res.data.member).toBeNull();
    }
  });

  it('cannot award, adjust or administer', async () => {
    const me = await h.addMember(`${h.tag}-member-writes`);
    const token = h.token({ role: 'member', member: me });
    expect(codes(await h.gql(token, awardMutation, { input: { idempotencyKey: h.key(), memberId: me, rule: 'garbage.bin-duty' } }))).toEqual(['FORBIDDEN']);
    const upsert = await h.gql(token, `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id } } }`,
      { input: { idempotencyKey: h.key(), externalId: `${h.tag}-member-writes`, branch: h.branches[0]!.code, name: 'Renamed by itself' } });
    expect(codes(upsert)).toEqual(['FORBIDDEN']);
    expect(await balance(me)).toBe('0.00');
  });
});

describe('a merchant token', () => {
  it('cannot award points, read members or list the journal', async () => {
    const member = await h.addMember(`${h.tag}-merchant-target`);
    const merchant = h.token({ role: 'merchant', sub: `merchant-${h.tag}`, merchant: '1' });
    expect(codes(await h.gql(merchant, awardMutation, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } }))).toEqual(['FORBIDDEN']);
    const batch = await h.gql(merchant, `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { succeeded } }`,
      { input: { awards: [{ idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' }] } });
    expect(codes(batch)).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(merchant, `query($id: ID!) { member(id: $id) { id } }`, { id: member }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(merchant, `{ transactions { edges { node { id } } } }`))).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('0.00');
  });
});

describe('another head bank', () => {
  it('sees nothing of this one: its members and transactions do not exist for it', async () => {
    const other = await createHeadBank(h.bank, { code: `${h.tag}-other-head`, name: 'Another town' });
    const otherAdmin = h.token({ role: 'admin', sub: `admin-other-${randomUUID().slice(0, 8)}`, branch: other.code });
    const externalId = `${h.tag}-foreign`;
    const member = await h.addMember(externalId);
    const awarded = await h.gql(h.clientToken, awardMutation, { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    const txnId = awarded.data.awardPoints.transaction.id;

    const byId = await h.gql(otherAdmin, `query($id: ID!) { member(id: $id) { id } }`, { id: member });
    expect(byId.errors).toBeUndefined();
    expect(byId.data.member).toBeNull();
    const byExternalId = await h.gql(otherAdmin, `query($e: String) { member(externalId: $e) { id } }`, { e: externalId });
    expect(byExternalId.data.member).toBeNull();
    const txn = await h.gql(otherAdmin, `query($id: ID!) { transaction(id: $id) { id } }`, { id: txnId });
    expect(txn.data.transaction).toBeNull();
    const list = await h.gql(otherAdmin, `{ transactions(first: 200) { edges { node { id } } } }`);
    expect(list.data.transactions.edges).toEqual([]);
    expect(codes(await h.gql(otherAdmin, `query($f: TransactionFilter) { transactions(filter: $f) { edges { node { id } } } }`,
      { f: { branch: h.branches[0]!.code } }))).toEqual(['FORBIDDEN']);
    // Nor can it award to this bank's members by id.
    const award = await h.gql(h.token({ role: 'client', sub: `client-other-${h.tag}`, branch: other.code, rules: '*' }), awardMutation,
      { input: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
    expect(codes(award)).toEqual(['NOT_FOUND']);
    expect(await balance(member)).toBe('5.00');
  });
});

describe('refusals that name nothing outside the scope (issue 13 item 5)', () => {
  const sub = () => h.token({ role: 'client', sub: `${h.tag}-client-sub-a`, branch: h.branches[0]!.code, rules: '*' });
  const adminOfA = () => h.token({ role: 'admin', sub: `${h.tag}-admin-of-a`, branch: h.branches[0]!.code });

  it('member(id) of a sibling branch answers null, as an unknown id, to a client scoped to one branch', async () => {
    const externalId = `${h.tag}-neighbour-003`;
    const id = await h.addMember(externalId, h.branches[1]);
    const res = await h.gql(sub(), `query($id: ID!) { member(id: $id) { name } }`, { id });
    expect(res.errors).toBeUndefined();
    expect(res.data.member).toBeNull();
    expect(JSON.stringify(res)).not.toContain(externalId);
  });

  it('claim(id) of a sibling branch answers null, without the member\'s externalId', async () => {
    await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`, { i: {
      idempotencyKey: h.key(), code: `${h.tag}.claimed`, name: 'Claimed', category: 'service', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }], requiresApproval: true } });
    const externalId = `${h.tag}-claimant-b`;
    const memberId = await h.addMember(externalId, h.branches[1]);
    const submitted = await h.gql(h.adminToken, `mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }`,
      { i: { idempotencyKey: h.key(), memberId, rule: `${h.tag}.claimed` } });
    expect(submitted.errors).toBeUndefined();
    const res = await h.gql(adminOfA(), `query($id: ID!) { claim(id: $id) { id } }`, { id: submitted.data.submitClaim.claim.id });
    expect(res.errors).toBeUndefined();
    expect(res.data.claim).toBeNull();
    // deciding it is refused without naming the member or its branch
    const approve = await h.gql(adminOfA(), `mutation($i: DecideClaimInput!) { approveClaim(input: $i) { claim { id } } }`,
      { i: { idempotencyKey: h.key(), claim: submitted.data.submitClaim.claim.id } });
    expect(codes(approve)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(approve)).not.toContain(externalId);
    expect(JSON.stringify(approve)).not.toContain(h.branches[1]!.code);
  });

  it('upsertMember with another branch\'s externalId is refused without the branch or the member\'s name', async () => {
    const externalId = `${h.tag}-taken-elsewhere`;
    await h.addMember(externalId, h.branches[1]);
    const res = await h.gql(adminOfA(), `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { i: { idempotencyKey: h.key(), externalId, branch: h.branches[0]!.code, name: 'Someone' } });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(res)).not.toContain(h.branches[1]!.code);
  });

  it('writes on a member of a sibling branch are refused without its externalId or branch', async () => {
    const externalId = `${h.tag}-write-target-b`;
    const memberId = await h.addMember(externalId, h.branches[1]);
    const award = await h.gql(sub(), `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transactionId } }`,
      { input: { idempotencyKey: h.key(), memberId, rule: 'garbage.bin-duty' } });
    const adjust = await h.gql(adminOfA(), `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount: '1.00', reason: 'probe' } });
    for (const res of [award, adjust]) {
      expect(codes(res).length).toBe(1);
      expect(['FORBIDDEN', 'NOT_FOUND']).toContain(codes(res)[0]);
      expect(JSON.stringify(res)).not.toContain(externalId);
      expect(JSON.stringify(res)).not.toContain(h.branches[1]!.code);
    }
  });
});
