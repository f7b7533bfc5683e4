// Transfers between members: gifts from a member's own wallet where its branch allows, admin
// transfers inside a scope, input checks, and invariant 3 (no wallet overdraws) under concurrent
// transfers out of one wallet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const transferMutation = `mutation($input: TransferPointsInput!) { transferPoints(input: $input) {
  replayed transaction { id kind status principal principalRole memo member { id }
    postings { line accountId asset amount balanceAfter account { owner { type id } } } } } }`;

const adjustMutation = `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { transaction { id } } }`;

function memberToken(memberId: string): string {
  return h.token({ role: 'member', sub: `member-${memberId}`, member: memberId });
}

async function transfer(token: string, input: Record<string, unknown>) {
  return h.gql(token, transferMutation, { input: { idempotencyKey: h.key(), ...input } });
}

/** Gives a member points through an admin's adjustment (the setup every test here needs). */
async function fund(memberId: string, amount: string, asset = 'POINTS'): Promise<void> {
  const res = await h.gql(h.adminToken, adjustMutation, {
    input: { idempotencyKey: h.key(), member: { id: memberId }, asset, amount, reason: 'test funding' },
  });
  expect(res.errors).toBeUndefined();
}

async function balance(memberId: string, asset = 'POINTS'): Promise<string> {
  const res = await h.gql(h.adminToken, `query($id: ID!, $asset: AssetCode!) { member(id: $id) { balance(asset: $asset) } }`, { id: memberId, asset });
  expect(res.errors).toBeUndefined();
  return res.data.member.balance;
}

async function transactionCount(memberId: string): Promise<number> {
  const { rows } = await h.bank.knex.raw(`
    SELECT count(DISTINCT t.id)::int AS n FROM transactions t
      JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id
      JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
     WHERE t.head_id = ? AND a.owner_type = 'MEMBER' AND a.owner_id = ?`, [h.head.id, memberId]);
  return rows[0].n;
}

describe('a member gifting points', () => {
  it('moves points from its own wallet to another member where its branch allows gifting', async () => {
    const giver = await h.addMember(`${h.tag}-giver`, h.branches[0]);
    const receiver = await h.addMember(`${h.tag}-receiver`, h.branches[1]);
    await fund(giver, '10.00');
    const res = await transfer(memberToken(giver), { to: { externalId: `${h.tag}-receiver` }, amount: '3.50', memo: 'for the bin duty' });
    expect(res.errors).toBeUndefined();
    const txn = res.data.transferPoints.transaction;
    expect(res.data.transferPoints.replayed).toBe(false);
    expect(txn).toMatchObject({ kind: 'TRANSFER', status: 'POSTED', principalRole: 'member', memo: 'for the bin duty', member: { id: giver } });
    const mine = txn.postings.find((p: any) => p.account?.owner.id === giver);
    expect(mine).toMatchObject({ asset: 'POINTS', amount: '-3.50', balanceAfter: '6.50' });
    // The receiver's wallet is outside the giver's view: its posting is there, its account is not.
    const theirs = txn.postings.find((p: any) => p.amount === '3.50');
    expect(theirs).toMatchObject({ asset: 'POINTS', account: null, balanceAfter: '3.50' });
    expect(await balance(giver)).toBe('6.50');
    expect(await balance(receiver)).toBe('3.50');
  });

  it('may name itself as the sender, by id or by externalId', async () => {
    const giver = await h.addMember(`${h.tag}-self-named`, h.branches[1]);
    const receiver = await h.addMember(`${h.tag}-self-named-to`, h.branches[0]);
    await fund(giver, '2.00');
    const byId = await transfer(memberToken(giver), { from: { id: giver }, to: { id: receiver }, amount: '1.00' });
    expect(byId.errors).toBeUndefined();
    const byExternalId = await transfer(memberToken(giver), { from: { externalId: `${h.tag}-self-named` }, to: { id: receiver }, amount: '1.00' });
    expect(byExternalId.errors).toBeUndefined();
    expect(await balance(giver)).toBe('0.00');
    expect(await balance(receiver)).toBe('2.00');
  });

  it('is refused where the branch does not allow gifting', async () => {
    const giver = await h.addMember(`${h.tag}-no-gift`, h.branches[2]);
    const receiver = await h.addMember(`${h.tag}-no-gift-to`, h.branches[0]);
    await fund(giver, '5.00');
    const res = await transfer(memberToken(giver), { to: { id: receiver }, amount: '1.00' });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(res.errors![0]!.message).toContain(h.branches[2]!.code);
    expect(await balance(giver)).toBe('5.00');
    expect(await balance(receiver)).toBe('0.00');
  });

  it("cannot take points from someone else's wallet", async () => {
    const thief = await h.addMember(`${h.tag}-thief`, h.branches[0]);
    const victim = await h.addMember(`${h.tag}-victim`, h.branches[0]);
    await fund(victim, '5.00');
    const byId = await transfer(memberToken(thief), { from: { id: victim }, to: { id: thief }, amount: '1.00' });
    expect(codes(byId)).toEqual(['FORBIDDEN']);
    const byExternalId = await transfer(memberToken(thief), { from: { externalId: `${h.tag}-victim` }, to: { id: thief }, amount: '1.00' });
    expect(codes(byExternalId)).toEqual(['FORBIDDEN']);
    expect(await balance(victim)).toBe('5.00');
    expect(await balance(thief)).toBe('0.00');
  });
});

describe('an admin transferring points', () => {
  it('moves points between two members of its scope', async () => {
    const from = await h.addMember(`${h.tag}-admin-from`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-admin-to`, h.branches[2]);
    await fund(from, '7.00');
    const res = await transfer(h.adminToken, { from: { id: from }, to: { externalId: `${h.tag}-admin-to` }, amount: '7.00' });
    expect(res.errors).toBeUndefined();
    const postings = res.data.transferPoints.transaction.postings;
    expect(postings).toHaveLength(2);
    // An admin of the head bank sees both wallets.
    expect(postings.map((p: any) => [p.account.owner.id, p.amount, p.balanceAfter]).sort())
      .toEqual([[from, '-7.00', '0.00'], [to, '7.00', '7.00']].sort());
    expect(await balance(from)).toBe('0.00');
    expect(await balance(to)).toBe('7.00');
  });

  it('must name the sender', async () => {
    const to = await h.addMember(`${h.tag}-admin-no-from`, h.branches[0]);
    const res = await transfer(h.adminToken, { to: { id: to }, amount: '1.00' });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('of a branch cannot move points out of or into a sibling branch', async () => {
    const inA = await h.addMember(`${h.tag}-scope-a`, h.branches[0]);
    const inB = await h.addMember(`${h.tag}-scope-b`, h.branches[1]);
    await fund(inA, '3.00');
    await fund(inB, '3.00');
    const adminA = h.token({ role: 'admin', sub: `admin-a-${h.tag}`, branch: h.branches[0]!.code });
    expect(codes(await transfer(adminA, { from: { id: inB }, to: { id: inA }, amount: '1.00' }))).toEqual(['FORBIDDEN']);
    expect(codes(await transfer(adminA, { from: { id: inA }, to: { id: inB }, amount: '1.00' }))).toEqual(['FORBIDDEN']);
    expect(await balance(inA)).toBe('3.00');
    expect(await balance(inB)).toBe('3.00');
  });

  it('is not something a client may do', async () => {
    const from = await h.addMember(`${h.tag}-client-from`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-client-to`, h.branches[0]);
    await fund(from, '3.00');
    expect(codes(await transfer(h.clientToken, { from: { id: from }, to: { id: to }, amount: '1.00' }))).toEqual(['FORBIDDEN']);
    expect(await balance(from)).toBe('3.00');
  });
});

describe('a transfer that cannot be made', () => {
  it('is INSUFFICIENT_FUNDS when the wallet holds too little, naming what is available, and writes nothing', async () => {
    const poor = await h.addMember(`${h.tag}-poor`, h.branches[0]);
    const rich = await h.addMember(`${h.tag}-poor-to`, h.branches[0]);
    await fund(poor, '3.00');
    const before = await transactionCount(poor);
    const key = h.key();
    const res = await h.gql(memberToken(poor), transferMutation, { input: { idempotencyKey: key, to: { id: rich }, amount: '5.00' } });
    expect(codes(res)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(res.errors![0]!.message).toContain('3.00');
    expect(res.errors![0]!.message).toContain(`${h.tag}-poor`);
    expect(await balance(poor)).toBe('3.00');
    expect(await balance(rich)).toBe('0.00');
    expect(await transactionCount(poor)).toBe(before);
    // The refusal did not use up the key: once the points are there, the same request goes through.
    await fund(poor, '2.00');
    const retry = await h.gql(memberToken(poor), transferMutation, { input: { idempotencyKey: key, to: { id: rich }, amount: '5.00' } });
    expect(retry.errors).toBeUndefined();
    expect(retry.data.transferPoints.replayed).toBe(false);
    expect(await balance(poor)).toBe('0.00');
    expect(await balance(rich)).toBe('5.00');
  });

  it('is refused for assets that are not transferable (party score, volunteer hours)', async () => {
    const from = await h.addMember(`${h.tag}-nontransferable`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-nontransferable-to`, h.branches[0]);
    await fund(from, '10.00', 'PARTY_SCORE');
    await fund(from, '10.00', 'VOLUNTEER_HOURS');
    for (const asset of ['PARTY_SCORE', 'VOLUNTEER_HOURS']) {
      const res = await transfer(h.adminToken, { from: { id: from }, to: { id: to }, asset, amount: '1.00' });
      expect(codes(res), asset).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.message).toContain(asset);
      expect(await balance(from, asset)).toBe('10.00');
      expect(await balance(to, asset)).toBe('0.00');
    }
  });

  it.each(['0', '0.00', '-1', '1.001', '1e3', '', ' 1', '+1', '1,00'])('is refused for the amount %j', async (amount) => {
    const from = await h.addMember(`${h.tag}-bad-amount-${encodeURIComponent(amount)}`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-bad-amount-to-${encodeURIComponent(amount)}`, h.branches[0]);
    await fund(from, '2000.00');
    const res = await transfer(memberToken(from), { to: { id: to }, amount });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(await balance(from)).toBe('2000.00');
    expect(await balance(to)).toBe('0.00');
  });

  it('is refused when the amount is sent as a JSON number rather than a decimal string', async () => {
    const from = await h.addMember(`${h.tag}-float-amount`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-float-amount-to`, h.branches[0]);
    await fund(from, '2.00');
    const res = await transfer(memberToken(from), { to: { id: to }, amount: 1.5 });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(await balance(from)).toBe('2.00');
  });

  it('is refused when sender and receiver are the same member', async () => {
    const self = await h.addMember(`${h.tag}-to-self`, h.branches[0]);
    await fund(self, '2.00');
    expect(codes(await transfer(memberToken(self), { to: { id: self }, amount: '1.00' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await transfer(h.adminToken, { from: { id: self }, to: { externalId: `${h.tag}-to-self` }, amount: '1.00' }))).toEqual(['BAD_USER_INPUT']);
    expect(await balance(self)).toBe('2.00');
  });

  it('is NOT_FOUND for a receiver that does not exist', async () => {
    const from = await h.addMember(`${h.tag}-to-nobody`, h.branches[0]);
    await fund(from, '2.00');
    expect(codes(await transfer(memberToken(from), { to: { externalId: `${h.tag}-nobody` }, amount: '1.00' }))).toEqual(['NOT_FOUND']);
    expect(await balance(from)).toBe('2.00');
  });
});

describe('concurrent transfers', () => {
  it('out of one wallet never overdraw it: of 50 transfers of 1.00 from 10.00, exactly 10 go through', async () => {
    const from = await h.addMember(`${h.tag}-race-from`, h.branches[0]);
    const to = await h.addMember(`${h.tag}-race-to`, h.branches[1]);
    await fund(from, '10.00');
    const token = memberToken(from);
    const results = await Promise.all(Array.from({ length: 50 }, () => transfer(token, { to: { id: to }, amount: '1.00' })));
    const outcomes = results.map((r) => (r.errors ? codes(r).join(',') : 'OK'));
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'INSUFFICIENT_FUNDS')).toHaveLength(40);
    // Each success left a distinct balance behind it: 9.00 down to 0.00, no two alike.
    const after = results.filter((r) => !r.errors).map((r) =>
      r.data.transferPoints.transaction.postings.find((p: any) => p.amount === '-1.00').balanceAfter).sort();
    expect(after).toEqual(['0.00', '1.00', '2.00', '3.00', '4.00', '5.00', '6.00', '7.00', '8.00', '9.00']);
    expect(await balance(from)).toBe('0.00');
    expect(await balance(to)).toBe('10.00');
  });

  it('in both directions between two members at once complete without deadlock errors', async () => {
    const a = await h.addMember(`${h.tag}-cross-a`, h.branches[0]);
    const b = await h.addMember(`${h.tag}-cross-b`, h.branches[1]);
    await fund(a, '100.00');
    await fund(b, '100.00');
    const jobs = Array.from({ length: 40 }, (_, i) => (i % 2 === 0
      ? transfer(h.adminToken, { from: { id: a }, to: { id: b }, amount: '1.00' })
      : transfer(h.adminToken, { from: { id: b }, to: { id: a }, amount: '2.00' })));
    const results = await Promise.all(jobs);
    for (const r of results) expect(r.errors).toBeUndefined();
    // 20 x 1.00 from a to b, 20 x 2.00 from b to a.
    expect(await balance(a)).toBe('120.00');
    expect(await balance(b)).toBe('80.00');
  });
});
