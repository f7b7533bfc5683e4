// Corrections: an admin's balance adjustments, and reversals that undo a posted transaction once,
// leave history append-only, never overdraw a wallet unless an admin forces a clawback, and replay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const transactionFields = `id kind status forced reason principal principalRole
  reverses { id } reversedBy { id } member { id }
  postings { line accountId asset amount balanceAfter }`;

const adjustMutation = `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { replayed transaction { ${transactionFields} } } }`;
const reverseMutation = `mutation($input: ReverseTransactionInput!) { reverseTransaction(input: $input) { replayed transaction { ${transactionFields} } } }`;
const awardMutation = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transaction { ${transactionFields} } } }`;
const transferMutation = `mutation($input: TransferPointsInput!) { transferPoints(input: $input) { transaction { id } } }`;
const transactionQuery = `query($id: ID!) { transaction(id: $id) { ${transactionFields} } }`;

async function adjust(token: string, input: Record<string, unknown>) {
  return h.gql(token, adjustMutation, { input: { idempotencyKey: h.key(), asset: 'POINTS', ...input } });
}

async function reverse(token: string, input: Record<string, unknown>) {
  return h.gql(token, reverseMutation, { input: { idempotencyKey: h.key(), ...input } });
}

/** An award under a rule; returns the transaction. */
async function award(memberId: string, rule = 'garbage.bin-duty', token = h.clientToken, quantity?: string): Promise<any> {
  const res = await h.gql(token, awardMutation, { input: { idempotencyKey: h.key(), memberId, rule, ...(quantity ? { quantity } : {}) } });
  expect(res.errors).toBeUndefined();
  return res.data.awardPoints.transaction;
}

async function transfer(from: string, to: string, amount: string): Promise<GraphQLResponse> {
  return h.gql(h.adminToken, transferMutation, { input: { idempotencyKey: h.key(), from: { id: from }, to: { id: to }, amount } });
}

async function balance(memberId: string, asset = 'POINTS'): Promise<string> {
  const res = await h.gql(h.adminToken, `query($id: ID!, $asset: AssetCode!) { member(id: $id) { balance(asset: $asset) } }`, { id: memberId, asset });
  expect(res.errors).toBeUndefined();
  return res.data.member.balance;
}

async function reversalsOf(transactionId: string): Promise<number> {
  const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM transactions WHERE head_id = ? AND reverses_id = ?`, [h.head.id, transactionId]);
  return rows[0].n;
}

async function postingCount(): Promise<number> {
  const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM postings WHERE head_id = ?`, [h.head.id]);
  return rows[0].n;
}

describe('an admin adjusting a balance', () => {
  it('adds and takes away points against the branch adjustment account, with the reason recorded', async () => {
    const member = await h.addMember(`${h.tag}-adjusted`);
    const up = await adjust(h.adminToken, { member: { externalId: `${h.tag}-adjusted` }, amount: '12.50', reason: 'paper records from 2025' });
    expect(up.errors).toBeUndefined();
    expect(up.data.adjustBalance.transaction).toMatchObject({ kind: 'ADJUST', status: 'POSTED', reason: 'paper records from 2025', member: { id: member } });
    expect(up.data.adjustBalance.transaction.postings.map((p: any) => p.amount).sort()).toEqual(['-12.50', '12.50']);
    const down = await adjust(h.adminToken, { member: { id: member }, amount: '-2.50', reason: 'double entry on paper' });
    expect(down.errors).toBeUndefined();
    expect(await balance(member)).toBe('10.00');
  });

  it('requires a reason', async () => {
    const member = await h.addMember(`${h.tag}-no-reason`);
    for (const reason of ['', '   ']) {
      expect(codes(await adjust(h.adminToken, { member: { id: member }, amount: '1.00', reason })), JSON.stringify(reason)).toEqual(['BAD_USER_INPUT']);
    }
    // Omitting it altogether is refused by the schema, with the same code.
    const omitted = await h.gql(h.adminToken, adjustMutation, { input: { idempotencyKey: h.key(), member: { id: member }, asset: 'POINTS', amount: '1.00' } });
    expect(codes(omitted)).toEqual(['BAD_USER_INPUT']);
    expect(await balance(member)).toBe('0.00');
  });

  it('refuses a zero amount', async () => {
    const member = await h.addMember(`${h.tag}-zero-adjust`);
    expect(codes(await adjust(h.adminToken, { member: { id: member }, amount: '0', reason: 'nothing' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('cannot take a wallet below zero', async () => {
    const member = await h.addMember(`${h.tag}-adjust-below-zero`);
    await adjust(h.adminToken, { member: { id: member }, amount: '3.00', reason: 'start' });
    const res = await adjust(h.adminToken, { member: { id: member }, amount: '-4.00', reason: 'too much' });
    expect(codes(res)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(res.errors![0]!.message).toContain('3.00');
    expect(await balance(member)).toBe('3.00');
  });

  it('may take a party score below zero (it is not spendable)', async () => {
    const member = await h.addMember(`${h.tag}-adjust-party`, h.branches[0], { party: true });
    const res = await adjust(h.adminToken, { member: { id: member }, asset: 'PARTY_SCORE', amount: '-4.00', reason: 'negative list' });
    expect(res.errors).toBeUndefined();
    expect(await balance(member, 'PARTY_SCORE')).toBe('-4.00');
  });

  it('is for admins only: a client or a member is FORBIDDEN', async () => {
    const member = await h.addMember(`${h.tag}-adjust-forbidden`);
    expect(codes(await adjust(h.clientToken, { member: { id: member }, amount: '1.00', reason: 'x' }))).toEqual(['FORBIDDEN']);
    const memberToken = h.token({ role: 'member', member });
    expect(codes(await adjust(memberToken, { member: { id: member }, amount: '1.00', reason: 'x' }))).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('0.00');
  });

  it('by an admin of one branch cannot touch a member of a sibling branch', async () => {
    const member = await h.addMember(`${h.tag}-adjust-sibling`, h.branches[1]);
    const adminA = h.token({ role: 'admin', sub: `admin-a-${h.tag}`, branch: h.branches[0]!.code });
    expect(codes(await adjust(adminA, { member: { id: member }, amount: '1.00', reason: 'x' }))).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('0.00');
  });
});

describe('reversing a transaction', () => {
  it('undoes an award: opposite postings, links both ways, balances back where they were', async () => {
    const member = await h.addMember(`${h.tag}-reverse-award`);
    const original = await award(member);
    expect(await balance(member)).toBe('5.00');
    const res = await reverse(h.adminToken, { transaction: original.id, reason: 'awarded to the wrong resident' });
    expect(res.errors).toBeUndefined();
    expect(res.data.reverseTransaction.replayed).toBe(false);
    const reversal = res.data.reverseTransaction.transaction;
    expect(reversal).toMatchObject({
      kind: 'REVERSAL', status: 'POSTED', forced: false, reason: 'awarded to the wrong resident',
      reverses: { id: original.id }, reversedBy: null, member: { id: member }, principalRole: 'admin',
    });
    const negated = (postings: any[]) => postings.map((p) => [p.accountId, p.asset, p.amount.startsWith('-') ? p.amount.slice(1) : `-${p.amount}`]).sort();
    expect(reversal.postings.map((p: any) => [p.accountId, p.asset, p.amount]).sort()).toEqual(negated(original.postings));
    const wallet = reversal.postings.find((p: any) => p.balanceAfter !== null);
    expect(wallet).toMatchObject({ amount: '-5.00', balanceAfter: '0.00' });
    // The original is untouched (history is append-only) and points at its reversal.
    const reread = await h.gql(h.adminToken, transactionQuery, { id: original.id });
    expect(reread.data.transaction).toMatchObject({ status: 'POSTED', reversedBy: { id: reversal.id }, reverses: null });
    expect(reread.data.transaction.postings).toEqual(original.postings);
    expect(await balance(member)).toBe('0.00');
  });

  it('undoes a transfer, giving the points back to the sender', async () => {
    const from = await h.addMember(`${h.tag}-reverse-transfer-from`);
    const to = await h.addMember(`${h.tag}-reverse-transfer-to`);
    await adjust(h.adminToken, { member: { id: from }, amount: '4.00', reason: 'start' });
    const sent = await transfer(from, to, '4.00');
    expect(sent.errors).toBeUndefined();
    const res = await reverse(h.adminToken, { transaction: sent.data.transferPoints.transaction.id, reason: 'sent by mistake' });
    expect(res.errors).toBeUndefined();
    expect(await balance(from)).toBe('4.00');
    expect(await balance(to)).toBe('0.00');
  });

  it('happens once: a second reversal with a new key is INVALID_STATE', async () => {
    const member = await h.addMember(`${h.tag}-reverse-twice`);
    const original = await award(member);
    expect((await reverse(h.adminToken, { transaction: original.id })).errors).toBeUndefined();
    const again = await reverse(h.adminToken, { transaction: original.id });
    expect(codes(again)).toEqual(['INVALID_STATE']);
    expect(await reversalsOf(original.id)).toBe(1);
    expect(await balance(member)).toBe('0.00');
  });

  it('happens once by the database itself: a second reversal row is refused by transactions_reversed_once (a partial unique index, migration 078)', async () => {
    const member = await h.addMember(`${h.tag}-reverse-index`);
    const original = await award(member);
    const first = await reverse(h.adminToken, { transaction: original.id });
    expect(first.errors).toBeUndefined();
    // A writer that skipped the service's check: the same reversal again under a new id.
    const insertAgain = h.bank.knex.raw(`
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                occurred_at, recorded_at, reason, reverses_id)
      SELECT head_id, (SELECT max(id) + 1000 FROM transactions WHERE head_id = ?), kind, status, branch_id, member_id, rule_id,
             principal_sub, principal_role, occurred_at, recorded_at, reason, reverses_id
        FROM transactions WHERE head_id = ? AND id = ?`, [h.head.id, h.head.id, first.data.reverseTransaction.transaction.id]);
    await expect(insertAgain).rejects.toMatchObject({ code: '23505', constraint: 'transactions_reversed_once' });
    expect(await reversalsOf(original.id)).toBe(1);
    // The index holds reversals only: transactions that reverse nothing never meet in it.
    const { rows } = await h.bank.knex.raw(`SELECT indexdef FROM pg_indexes WHERE indexname = 'transactions_reversed_once'`);
    expect(rows[0].indexdef).toMatch(/UNIQUE INDEX .* \(head_id, reverses_id\) WHERE \(reverses_id IS NOT NULL\)/);
  });

  it('replayed with the same key returns the same reversal, marked replayed', async () => {
    const member = await h.addMember(`${h.tag}-reverse-replay`);
    const original = await award(member);
    const input = { idempotencyKey: h.key(), transaction: original.id, reason: 'duplicate scan' };
    const first = await h.gql(h.adminToken, reverseMutation, { input });
    expect(first.errors).toBeUndefined();
    const replay = await h.gql(h.adminToken, reverseMutation, { input });
    expect(replay.errors).toBeUndefined();
    expect(replay.data.reverseTransaction.replayed).toBe(true);
    expect(replay.data.reverseTransaction.transaction).toEqual(first.data.reverseTransaction.transaction);
    // The same key for a different request is refused.
    const conflicting = await h.gql(h.adminToken, reverseMutation, { input: { ...input, reason: 'another reason' } });
    expect(codes(conflicting)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await reversalsOf(original.id)).toBe(1);
    expect(await balance(member)).toBe('0.00');
  });

  it('happens once when two admins reverse the same transaction at the same moment', async () => {
    const member = await h.addMember(`${h.tag}-reverse-race`);
    const original = await award(member);
    const results = await Promise.all(Array.from({ length: 8 }, () => reverse(h.adminToken, { transaction: original.id })));
    const outcomes = results.map((r) => (r.errors ? codes(r).join(',') : 'OK'));
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'OK')).toEqual(Array(7).fill('INVALID_STATE'));
    expect(await reversalsOf(original.id)).toBe(1);
    expect(await balance(member)).toBe('0.00');
  });

  it('of a reversal is INVALID_STATE', async () => {
    const member = await h.addMember(`${h.tag}-reverse-reversal`);
    const original = await award(member);
    const first = await reverse(h.adminToken, { transaction: original.id });
    const reversalId = first.data.reverseTransaction.transaction.id;
    const res = await reverse(h.adminToken, { transaction: reversalId, reason: 'undo the undo' });
    expect(codes(res)).toEqual(['INVALID_STATE']);
    expect(await reversalsOf(reversalId)).toBe(0);
    expect(await balance(member)).toBe('0.00');
  });

  it('of an unknown transaction is NOT_FOUND, and a malformed id is BAD_USER_INPUT', async () => {
    expect(codes(await reverse(h.adminToken, { transaction: '999999999999' }))).toEqual(['NOT_FOUND']);
    expect(codes(await reverse(h.adminToken, { transaction: 'abc' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('is INSUFFICIENT_FUNDS and writes nothing where the awarded points were already spent', async () => {
    const spender = await h.addMember(`${h.tag}-spent`);
    const friend = await h.addMember(`${h.tag}-spent-friend`);
    const original = await award(spender);
    expect((await transfer(spender, friend, '5.00')).errors).toBeUndefined();
    const postingsBefore = await postingCount();
    const res = await reverse(h.adminToken, { transaction: original.id, reason: 'fraudulent scan' });
    expect(codes(res)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(res.errors![0]!.message).toContain('0.00');
    expect(await reversalsOf(original.id)).toBe(0);
    expect(await postingCount()).toBe(postingsBefore);
    expect(await balance(spender)).toBe('0.00');
    expect(await balance(friend)).toBe('5.00');
    const reread = await h.gql(h.adminToken, transactionQuery, { id: original.id });
    expect(reread.data.transaction.reversedBy).toBeNull();
  });

  it('forced by an admin claws spent points back: the wallet goes negative, later earnings repay it, spending waits', async () => {
    const spender = await h.addMember(`${h.tag}-clawback`);
    const friend = await h.addMember(`${h.tag}-clawback-friend`);
    const original = await award(spender);
    expect((await transfer(spender, friend, '5.00')).errors).toBeUndefined();

    // Forcing needs a reason.
    expect(codes(await reverse(h.adminToken, { transaction: original.id, force: true }))).toEqual(['BAD_USER_INPUT']);
    expect(await reversalsOf(original.id)).toBe(0);

    const res = await reverse(h.adminToken, { transaction: original.id, force: true, reason: 'fraudulent scans at station 7' });
    expect(res.errors).toBeUndefined();
    const reversal = res.data.reverseTransaction.transaction;
    expect(reversal).toMatchObject({ kind: 'REVERSAL', forced: true, reason: 'fraudulent scans at station 7', reverses: { id: original.id } });
    expect(reversal.postings.find((p: any) => p.balanceAfter !== null)).toMatchObject({ amount: '-5.00', balanceAfter: '-5.00' });
    expect(await balance(spender)).toBe('-5.00');
    const reread = await h.gql(h.adminToken, transactionQuery, { id: reversal.id });
    expect(reread.data.transaction.forced).toBe(true);

    // While negative, the member cannot spend (nor can an admin move its points).
    const memberToken = h.token({ role: 'member', member: spender });
    const gift = await h.gql(memberToken, transferMutation, { input: { idempotencyKey: h.key(), to: { id: friend }, amount: '1.00' } });
    expect(codes(gift)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(codes(await transfer(spender, friend, '0.01'))).toEqual(['INSUFFICIENT_FUNDS']);
    expect(codes(await adjust(h.adminToken, { member: { id: spender }, amount: '-1.00', reason: 'x' }))).toEqual(['INSUFFICIENT_FUNDS']);
    expect(await balance(spender)).toBe('-5.00');

    // Earnings repay the debt first: half an hour of volunteering is 5.00 POINTS.
    await award(spender, 'volunteer.hour', h.clientToken, '0.5');
    expect(await balance(spender)).toBe('0.00');
    await award(spender, 'volunteer.hour', h.clientToken, '0.5');
    expect(await balance(spender)).toBe('5.00');
    const spent = await h.gql(memberToken, transferMutation, { input: { idempotencyKey: h.key(), to: { id: friend }, amount: '5.00' } });
    expect(spent.errors).toBeUndefined();
    expect(await balance(spender)).toBe('0.00');
    expect(await balance(friend)).toBe('10.00');
  });
});

describe('who may reverse', () => {
  it('a client may reverse an award it wrote itself', async () => {
    const member = await h.addMember(`${h.tag}-client-own`);
    const original = await award(member);
    const res = await reverse(h.clientToken, { transaction: original.id, reason: 'scanned twice' });
    expect(res.errors).toBeUndefined();
    expect(res.data.reverseTransaction.transaction).toMatchObject({ principalRole: 'client', reverses: { id: original.id } });
    expect(await balance(member)).toBe('0.00');
  });

  it("a client may not reverse another client's award, nor an admin's adjustment", async () => {
    const member = await h.addMember(`${h.tag}-client-other`);
    const otherClient = h.token({ role: 'client', sub: `other-client-${h.tag}`, rules: '*' });
    const byOther = await award(member, 'garbage.bin-duty', otherClient);
    expect(codes(await reverse(h.clientToken, { transaction: byOther.id }))).toEqual(['FORBIDDEN']);
    const adjustment = await adjust(h.adminToken, { member: { id: member }, amount: '1.00', reason: 'goodwill' });
    expect(codes(await reverse(h.clientToken, { transaction: adjustment.data.adjustBalance.transaction.id }))).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('6.00');
  });

  it("a client may not reverse a member's gift because its token's sub equals the member's (who wrote it is head bank, role and sub)", async () => {
    const from = await h.addMember(`${h.tag}-same-sub-giver`);
    const to = await h.addMember(`${h.tag}-same-sub-receiver`);
    await adjust(h.adminToken, { member: { id: from }, amount: '3.00', reason: 'start' });
    const sub = `${h.tag}-same-sub`;
    const sent = await h.gql(h.token({ role: 'member', sub, member: from }), transferMutation, { input: { idempotencyKey: h.key(), to: { id: to }, amount: '3.00' } });
    expect(sent.errors).toBeUndefined();
    const lookalike = h.token({ role: 'client', sub, rules: '*' });
    expect(codes(await reverse(lookalike, { transaction: sent.data.transferPoints.transaction.id, reason: 'mine' }))).toEqual(['FORBIDDEN']);
    expect(await balance(to)).toBe('3.00');
  });

  it('a client may not force a reversal, even of its own award', async () => {
    const member = await h.addMember(`${h.tag}-client-force`);
    const friend = await h.addMember(`${h.tag}-client-force-friend`);
    const original = await award(member);
    expect((await transfer(member, friend, '5.00')).errors).toBeUndefined();
    const res = await reverse(h.clientToken, { transaction: original.id, force: true, reason: 'fraud' });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(await reversalsOf(original.id)).toBe(0);
    expect(await balance(member)).toBe('0.00');
  });

  it('a member may not reverse anything, not even a transfer it sent', async () => {
    const from = await h.addMember(`${h.tag}-member-reverse`);
    const to = await h.addMember(`${h.tag}-member-reverse-to`);
    await adjust(h.adminToken, { member: { id: from }, amount: '2.00', reason: 'start' });
    const memberToken = h.token({ role: 'member', member: from });
    const sent = await h.gql(memberToken, transferMutation, { input: { idempotencyKey: h.key(), to: { id: to }, amount: '2.00' } });
    expect(sent.errors).toBeUndefined();
    expect(codes(await reverse(memberToken, { transaction: sent.data.transferPoints.transaction.id }))).toEqual(['FORBIDDEN']);
    expect(await balance(to)).toBe('2.00');
  });

  it("the old branch's admin may not reverse a member's adjustment made before the member moved branch, nor see its new balance", async () => {
    const externalId = `${h.tag}-moved-away`;
    const member = await h.addMember(externalId, h.branches[0]);
    const adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a-moved`, branch: h.branches[0]!.code });
    const adjusted = await adjust(adminA, { member: { id: member }, amount: '7.00', reason: 'before the move' });
    expect(adjusted.errors).toBeUndefined();
    const moved = await h.gql(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { branch { code } } } }`,
      { i: { idempotencyKey: h.key(), externalId, branch: h.branches[1]!.code, name: 'Moved resident' } });
    expect(moved.errors).toBeUndefined();
    const res = await reverse(adminA, { transaction: adjusted.data.adjustBalance.transaction.id, reason: 'mine to undo?' });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(res)).not.toContain(h.branches[1]!.code);
    expect(await reversalsOf(adjusted.data.adjustBalance.transaction.id)).toBe(0);
    expect(await balance(member)).toBe('7.00');
    // an admin over both branches still may
    expect((await reverse(h.adminToken, { transaction: adjusted.data.adjustBalance.transaction.id, reason: 'undo' })).errors).toBeUndefined();
    expect(await balance(member)).toBe('0.00');
  });

  it('an admin of one branch may not reverse a transaction of a sibling branch', async () => {
    const member = await h.addMember(`${h.tag}-sibling-reverse`, h.branches[1]);
    const original = await award(member);
    const adminA = h.token({ role: 'admin', sub: `admin-a-${h.tag}`, branch: h.branches[0]!.code });
    expect(codes(await reverse(adminA, { transaction: original.id, reason: 'x' }))).toEqual(['FORBIDDEN']);
    expect(await balance(member)).toBe('5.00');
  });
});
