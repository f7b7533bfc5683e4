// Earning points: awardPoints over real HTTP against real PostgreSQL. What a kiosk or mini-program
// depends on: a valid award credits (or, on the negative list, deducts) exactly what the rule says,
// and every refused award says why (code and field) and writes nothing at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction {
  id kind status occurredAt recordedAt memo metadata principal principalRole forced
  branch { code } member { id externalId } rule { code version category }
  postings { line accountId asset amount balanceAfter account { purpose owner { type id } } } } } }`;

let members = 0;
/** A fresh member of branch A (or the given branch), with its externalId. */
async function newMember(branch = h.branches[0]!, flags: { party?: boolean; volunteer?: boolean } = {}) {
  const externalId = `${h.tag}-m${++members}`;
  const id = await h.addMember(externalId, branch, flags);
  return { id, externalId };
}

async function balances(memberId: string): Promise<Record<string, string>> {
  const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { accounts { asset balance } } }`, { id: memberId });
  expect(res.errors).toBeUndefined();
  return Object.fromEntries(res.data.member.accounts.map((a: { asset: string; balance: string }) => [a.asset, a.balance]));
}


async function keyRows(key: string): Promise<number> {
  const [row] = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id, key }).count({ n: '*' });
  return Number(row!.n);
}

/** Sends an award that must be refused with `code`, and checks that it wrote nothing. */
async function expectRefused(token: string | null, input: Record<string, unknown>, code: string, memberId: string, field?: string): Promise<GraphQLResponse> {
  const before = { balances: await balances(memberId), transactions: await h.transactionCount() };
  const res = await h.gql(token, award, { input });
  expect(codes(res), JSON.stringify(res.errors)).toEqual([code]);
  expect(res.data?.awardPoints ?? null).toBeNull();
  if (field) {
    const error = res.errors![0]!;
    expect(error.extensions?.field === field || error.message.includes(field), `error names ${field}: ${error.message}`).toBe(true);
  }
  expect(await balances(memberId)).toEqual(before.balances);
  expect(await h.transactionCount()).toBe(before.transactions);
  if (typeof input.idempotencyKey === 'string') expect(await keyRows(input.idempotencyKey)).toBe(0);
  return res;
}

function walletPosting(res: GraphQLResponse, asset = 'POINTS') {
  return res.data.awardPoints.transaction.postings.find((p: any) => p.asset === asset && p.account?.owner.type === 'MEMBER');
}

function systemPosting(res: GraphQLResponse, asset = 'POINTS') {
  return res.data.awardPoints.transaction.postings.find((p: any) => p.asset === asset && p.account?.owner.type === 'SYSTEM');
}

describe('a valid award', () => {
  it('credits a member named by memberId with the rule amount, from the branch issuance account', async () => {
    const m = await newMember();
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' } });
    expect(res.errors).toBeUndefined();
    const { transaction, replayed } = res.data.awardPoints;
    expect(replayed).toBe(false);
    expect(transaction).toMatchObject({
      kind: 'EARN', status: 'POSTED', forced: false, principal: `client-${h.tag}`, principalRole: 'client',
      branch: { code: h.branches[0]!.code }, member: { id: m.id, externalId: m.externalId },
      rule: { code: 'garbage.bin-duty', version: 1, category: 'garbage' }, memo: null, metadata: null,
    });
    expect(transaction.postings).toHaveLength(2);
    expect(transaction.postings.map((p: any) => p.line)).toEqual([1, 2]);
    expect(walletPosting(res)).toMatchObject({ amount: '5.00', balanceAfter: '5.00', account: { purpose: 'WALLET', owner: { type: 'MEMBER', id: m.id } } });
    // The issuance account is a hot account: its balance is settled in the background, not per award.
    expect(systemPosting(res)).toMatchObject({ amount: '-5.00', balanceAfter: null, account: { purpose: 'ISSUANCE', owner: { type: 'SYSTEM', id: h.branches[0]!.id } } });
    expect(await balances(m.id)).toMatchObject({ POINTS: '5.00', PARTY_SCORE: '0.00', VOLUNTEER_HOURS: '0.00' });
    // Without occurredAt the award happened now.
    expect(Math.abs(new Date(transaction.occurredAt).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('credits a member named by externalId', async () => {
    const m = await newMember(h.branches[1]!);
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), externalId: m.externalId, rule: 'garbage.sorted-drop' } });
    expect(res.errors).toBeUndefined();
    expect(res.data.awardPoints.transaction).toMatchObject({ member: { id: m.id }, branch: { code: h.branches[1]!.code } });
    expect(walletPosting(res)).toMatchObject({ amount: '1.00', balanceAfter: '1.00' });
    expect(await balances(m.id)).toMatchObject({ POINTS: '1.00' });
  });

  it('multiplies the rule amount by the quantity and adds to the balance already there', async () => {
    const m = await newMember();
    const first = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' } });
    expect(first.errors).toBeUndefined();
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', quantity: '2' } });
    expect(res.errors).toBeUndefined();
    expect(walletPosting(res)).toMatchObject({ amount: '10.00', balanceAfter: '11.00' });
    expect(await balances(m.id)).toMatchObject({ POINTS: '11.00' });
  });

  it('is one database round trip, answering with its postings and balances, and so is its replay', async () => {
    const m = await newMember();
    const kiosk = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction { id postings { line amount balanceAfter } } } }`;
    const input = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' };
    const answers: any[] = [];
    for (const expected of [false, true]) {
      const statements = await h.statementsOf(async () => {
        const res = await h.gql(h.clientToken, kiosk, { input });
        expect(res.errors).toBeUndefined();
        expect(res.data.awardPoints.replayed).toBe(expected);
        answers.push(res.data.awardPoints.transaction);
      });
      expect(statements, `${expected ? 'replay' : 'award'}: SQL statements`).toBe(1);
    }
    expect(answers[0].postings.map((p: any) => [p.amount, p.balanceAfter]).sort()).toEqual([['-5.00', null], ['5.00', '5.00']]);
    expect(answers[1]).toEqual(answers[0]);
  });

  it('records when the activity happened, with the memo and metadata the client sent', async () => {
    const m = await newMember();
    const occurredAt = '2026-11-20T08:30:00.000Z';
    const metadata = { station: 'S-12', photos: ['https://example.org/p/1.jpg'], weightKg: 1.5, checked: true, nested: { bin: 'kitchen' } };
    const memo = '厨余垃圾 kitchen waste, sorted correctly';
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop', occurredAt, memo, metadata } });
    expect(res.errors).toBeUndefined();
    const { transaction } = res.data.awardPoints;
    expect(transaction).toMatchObject({ occurredAt, memo, metadata });
    expect(new Date(transaction.recordedAt).getTime()).toBeGreaterThan(new Date(occurredAt).getTime());
    // Reading it back later gives the same.
    const read = await h.gql(h.adminToken, `query($id: ID!) { transaction(id: $id) { occurredAt memo metadata } }`, { id: transaction.id });
    expect(read.data.transaction).toEqual({ occurredAt, memo, metadata });
  });

  it('accepts an occurredAt with an offset as that instant, and one a minute ahead (a kiosk clock running fast)', async () => {
    const m = await newMember();
    const withOffset = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop', occurredAt: '2026-11-20T08:30:00+08:00' } });
    expect(withOffset.errors).toBeUndefined();
    expect(withOffset.data.awardPoints.transaction.occurredAt).toBe('2026-11-20T00:30:00.000Z');
    const ahead = new Date(Date.now() + 60_000).toISOString();
    const fast = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', occurredAt: ahead } });
    expect(fast.errors).toBeUndefined();
    expect(fast.data.awardPoints.transaction.occurredAt).toBe(ahead);
  });

  it('accepts a fractional quantity up to two decimals and a memo of exactly 500 characters', async () => {
    const m = await newMember(h.branches[0]!, { volunteer: true });
    const memo = '好'.repeat(500);
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'volunteer.hour', quantity: '1.25', memo } });
    expect(res.errors).toBeUndefined();
    expect(res.data.awardPoints.transaction.memo).toBe(memo);
    expect(walletPosting(res, 'VOLUNTEER_HOURS')).toMatchObject({ amount: '1.25', balanceAfter: '1.25' });
    expect(walletPosting(res, 'POINTS')).toMatchObject({ amount: '12.50', balanceAfter: '12.50' });
  });

  it('gives both volunteer hours and points for one volunteer hour, in one balanced transaction', async () => {
    const m = await newMember(h.branches[0]!, { volunteer: true });
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'volunteer.hour', quantity: '3' } });
    expect(res.errors).toBeUndefined();
    const { transaction } = res.data.awardPoints;
    expect(transaction.kind).toBe('EARN');
    expect(transaction.postings).toHaveLength(4);
    expect(walletPosting(res, 'VOLUNTEER_HOURS')).toMatchObject({ amount: '3.00', balanceAfter: '3.00' });
    expect(walletPosting(res, 'POINTS')).toMatchObject({ amount: '30.00', balanceAfter: '30.00' });
    expect(systemPosting(res, 'VOLUNTEER_HOURS')).toMatchObject({ amount: '-3.00', account: { purpose: 'ISSUANCE' } });
    expect(systemPosting(res, 'POINTS')).toMatchObject({ amount: '-30.00', account: { purpose: 'ISSUANCE' } });
    expect(await balances(m.id)).toEqual({ POINTS: '30.00', VOLUNTEER_HOURS: '3.00', PARTY_SCORE: '0.00' });
  });

  it('takes party score below zero for an unexcused absence on the negative list, into the penalty account', async () => {
    const m = await newMember(h.branches[0]!, { party: true });
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'party.negative-list.absence', memo: '无故缺席支部会议' } });
    expect(res.errors).toBeUndefined();
    const { transaction } = res.data.awardPoints;
    expect(transaction).toMatchObject({ kind: 'DEDUCT', status: 'POSTED', rule: { code: 'party.negative-list.absence', category: 'party-negative' } });
    expect(transaction.postings).toHaveLength(2);
    expect(walletPosting(res, 'PARTY_SCORE')).toMatchObject({ amount: '-5.00', balanceAfter: '-5.00' });
    expect(systemPosting(res, 'PARTY_SCORE')).toMatchObject({ amount: '5.00', balanceAfter: null, account: { purpose: 'PENALTY', owner: { id: h.branches[0]!.id } } });
    // A second absence deducts again; points are untouched.
    const again = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'party.negative-list.absence', quantity: '2' } });
    expect(again.errors).toBeUndefined();
    expect(walletPosting(again, 'PARTY_SCORE')).toMatchObject({ amount: '-10.00', balanceAfter: '-15.00' });
    expect(await balances(m.id)).toMatchObject({ PARTY_SCORE: '-15.00', POINTS: '0.00' });
  });

  it('lets a client whose token lists the rule, and an admin, award inside their scope', async () => {
    const m = await newMember(h.branches[0]!);
    const kiosk = h.token({ role: 'client', sub: `${h.tag}-kiosk`, rules: ['garbage.sorted-drop'], branch: h.branches[0]!.code });
    const byKiosk = await h.gql(kiosk, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' } });
    expect(byKiosk.errors).toBeUndefined();
    expect(byKiosk.data.awardPoints.transaction.principal).toBe(`${h.tag}-kiosk`);
    const byAdmin = await h.gql(h.adminToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' } });
    expect(byAdmin.errors).toBeUndefined();
    expect(byAdmin.data.awardPoints.transaction).toMatchObject({ principal: `admin-${h.tag}`, principalRole: 'admin' });
    expect(await balances(m.id)).toMatchObject({ POINTS: '6.00' });
  });
});

describe('a refused award writes nothing and says why', () => {
  it('is NOT_FOUND for a member id or externalId this bank does not know', async () => {
    const m = await newMember();
    await expectRefused(h.clientToken, { idempotencyKey: h.key(), memberId: '987654321098765', rule: 'garbage.sorted-drop' }, 'NOT_FOUND', m.id);
    const res = await expectRefused(h.clientToken, { idempotencyKey: h.key(), externalId: `${h.tag}-nobody`, rule: 'garbage.sorted-drop' }, 'NOT_FOUND', m.id);
    expect(res.errors![0]!.message).toContain(`${h.tag}-nobody`);
  });

  it('is NOT_FOUND for a rule code no branch defines', async () => {
    const m = await newMember();
    const res = await expectRefused(h.clientToken, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.no-such-rule' }, 'NOT_FOUND', m.id);
    expect(res.errors![0]!.message).toContain('garbage.no-such-rule');
  });

  it('is NOT_FOUND, the same as for an unknown rule under a \'*\' token, for a client whose token does not list the rule', async () => {
    const m = await newMember();
    const kiosk = h.token({ role: 'client', sub: `${h.tag}-sorting-kiosk`, rules: ['garbage.sorted-drop'], branch: h.branches[0]!.code });
    // A rule that exists but is not on the list, and one that exists nowhere, answer alike: the list hides the rest.
    const listed = await expectRefused(kiosk, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' }, 'NOT_FOUND', m.id);
    const unknown = await expectRefused(kiosk, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.no-such-rule' }, 'NOT_FOUND', m.id);
    const star = await expectRefused(h.clientToken, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.no-such-rule' }, 'NOT_FOUND', m.id);
    for (const res of [listed, unknown, star]) expect(res.errors![0]!.extensions!.field).toBe('rule');
    expect(listed.errors![0]!.message).toBe('rule: no rule "garbage.bin-duty" that your token may apply');
    const noRules = h.token({ role: 'client', sub: `${h.tag}-bare-kiosk` });
    await expectRefused(noRules, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'NOT_FOUND', m.id);
  });

  it('is FORBIDDEN for a member outside the client branch scope', async () => {
    const m = await newMember(h.branches[0]!);
    const sibling = h.token({ role: 'client', sub: `${h.tag}-sibling-kiosk`, rules: '*', branch: h.branches[1]!.code });
    await expectRefused(sibling, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'FORBIDDEN', m.id);
    await expectRefused(sibling, { idempotencyKey: h.key(), externalId: m.externalId, rule: 'garbage.sorted-drop' }, 'FORBIDDEN', m.id);
    const siblingAdmin = h.token({ role: 'admin', sub: `${h.tag}-sibling-admin`, branch: h.branches[1]!.code });
    await expectRefused(siblingAdmin, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'FORBIDDEN', m.id);
  });

  it('is FORBIDDEN for a member or merchant token', async () => {
    const m = await newMember(h.branches[0]!);
    const memberToken = h.token({ role: 'member', sub: `${h.tag}-self`, member: m.id, branch: h.branches[0]!.code } as any);
    await expectRefused(memberToken, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'FORBIDDEN', m.id);
  });

  it('is UNAUTHENTICATED without a token or with a forged one', async () => {
    const m = await newMember();
    await expectRefused(null, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'UNAUTHENTICATED', m.id);
    const [head, body] = h.clientToken.split('.');
    await expectRefused(`${head}.${body}.not-the-signature`, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'UNAUTHENTICATED', m.id);
    const expired = h.token({ role: 'client', sub: `${h.tag}-old`, rules: '*' }, -3600);
    await expectRefused(expired, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, 'UNAUTHENTICATED', m.id);
  });

  it('is INVALID_STATE for a rule that needs approval (claims go through submitClaim)', async () => {
    const m = await newMember();
    const code = `${h.tag}.needs-approval`;
    const defined = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { version requiresApproval } } }`, {
      input: { idempotencyKey: h.key(), code, name: 'Reported good deed', category: 'deeds', outputs: [{ asset: 'POINTS', amountPerUnit: '3.00' }], requiresApproval: true },
    });
    expect(defined.errors).toBeUndefined();
    expect(defined.data.defineRule.rule).toEqual({ version: 1, requiresApproval: true });
    const res = await expectRefused(h.clientToken, { idempotencyKey: h.key(), memberId: m.id, rule: code }, 'INVALID_STATE', m.id);
    expect(res.errors![0]!.message).toContain('approval');
    await expectRefused(h.adminToken, { idempotencyKey: h.key(), memberId: m.id, rule: code }, 'INVALID_STATE', m.id);
  });
});

describe('an award that debits points', () => {
  /** A rule that takes 4 points per unit from the wallet (a fine), defined in the head bank. */
  async function defineFine(suffix: string, name: string): Promise<string> {
    const code = `${h.tag}.${suffix}`;
    const defined = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { version } } }`, {
      input: { idempotencyKey: h.key(), code, name, category: 'conduct', outputs: [{ asset: 'POINTS', amountPerUnit: '4.00', direction: 'DEDUCT' }] },
    });
    expect(defined.errors).toBeUndefined();
    return code;
  }

  it('is INSUFFICIENT_FUNDS while the wallet cannot cover it, and the same key goes through once it can', async () => {
    const code = await defineFine('litter-fine', 'Litter on the stairs');
    const m = await newMember();
    const fine = { idempotencyKey: h.key(), memberId: m.id, rule: code };
    const refused = await expectRefused(h.clientToken, fine, 'INSUFFICIENT_FUNDS', m.id);
    expect(refused.errors![0]!.message).toBe(`member ${m.externalId} has 0.00 POINTS available, 4.00 needed`);
    const earned = await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' } });
    expect(earned.errors).toBeUndefined();
    const paid = await h.gql(h.clientToken, award, { input: fine });
    expect(paid.errors).toBeUndefined();
    expect(paid.data.awardPoints).toMatchObject({ replayed: false, transaction: { kind: 'DEDUCT' } });
    expect(walletPosting(paid, 'POINTS')).toMatchObject({ amount: '-4.00', balanceAfter: '1.00' });
    expect(systemPosting(paid, 'POINTS')).toMatchObject({ amount: '4.00', balanceAfter: null, account: { purpose: 'PENALTY' } });
    const again = await expectRefused(h.clientToken, { ...fine, idempotencyKey: h.key() }, 'INSUFFICIENT_FUNDS', m.id);
    expect(again.errors![0]!.message).toBe(`member ${m.externalId} has 1.00 POINTS available, 4.00 needed`);
    expect(await balances(m.id)).toMatchObject({ POINTS: '1.00' });
  });

  it('never overdraws a wallet when debits arrive together', async () => {
    const code = await defineFine('noise-fine', 'Noise after 22:00');
    const m = await newMember();
    for (let i = 0; i < 2; i++) expect((await h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' } })).errors).toBeUndefined();
    const results = await Promise.all(Array.from({ length: 12 }, () => h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m.id, rule: code } })));
    const outcomes = results.map((r) => (r.errors ? codes(r).join() : 'OK')).sort();
    expect(outcomes).toEqual([...Array(10).fill('INSUFFICIENT_FUNDS'), ...Array(2).fill('OK')]);
    expect(await balances(m.id)).toMatchObject({ POINTS: '2.00' });
  });
});

describe('bad input is BAD_USER_INPUT naming the field, and writes nothing', () => {
  const longText = (n: number) => 'x'.repeat(n);
  const cases: { name: string; input: Record<string, unknown>; field: string; byExternalId?: boolean }[] = [
    { name: 'a quantity with three decimals', input: { quantity: '1.005' }, field: 'quantity' },
    { name: 'a quantity in exponent notation', input: { quantity: '1e2' }, field: 'quantity' },
    { name: 'a quantity with a plus sign', input: { quantity: '+1' }, field: 'quantity' },
    { name: 'a quantity with a leading space', input: { quantity: ' 1' }, field: 'quantity' },
    { name: 'a quantity with a trailing space', input: { quantity: '1 ' }, field: 'quantity' },
    { name: 'a quantity with a leading zero', input: { quantity: '01' }, field: 'quantity' },
    { name: 'a quantity with a trailing dot', input: { quantity: '1.' }, field: 'quantity' },
    { name: 'an empty quantity', input: { quantity: '' }, field: 'quantity' },
    { name: 'a zero quantity', input: { quantity: '0' }, field: 'quantity' },
    { name: 'a zero quantity with decimals', input: { quantity: '0.00' }, field: 'quantity' },
    { name: 'a negative quantity', input: { quantity: '-1' }, field: 'quantity' },
    { name: 'a negative zero quantity', input: { quantity: '-0' }, field: 'quantity' },
    { name: 'a numeric JSON quantity', input: { quantity: 2 }, field: 'quantity' },
    { name: 'a fractional numeric JSON quantity', input: { quantity: 1.5 }, field: 'quantity' },
    { name: 'a quantity above the per-award maximum', input: { quantity: '1000.01' }, field: 'quantity' },
    { name: 'a huge quantity', input: { quantity: '9'.repeat(30) }, field: 'quantity' },
    { name: 'a memo of 501 characters', input: { memo: longText(501) }, field: 'memo' },
    { name: 'an externalId of 129 characters', input: { externalId: longText(129) }, field: 'externalId', byExternalId: true },
    { name: 'an empty externalId', input: { externalId: '' }, field: 'externalId', byExternalId: true },
    { name: 'an idempotencyKey of 201 characters', input: { idempotencyKey: longText(201) }, field: 'idempotencyKey' },
    { name: 'an empty idempotencyKey', input: { idempotencyKey: '' }, field: 'idempotencyKey' },
    { name: 'an idempotencyKey with a control character', input: { idempotencyKey: 'abc\ndef' }, field: 'idempotencyKey' },
    { name: 'an occurredAt an hour in the future', input: { occurredAt: new Date(Date.now() + 3_600_000).toISOString() }, field: 'occurredAt' },
    { name: 'an occurredAt without a time zone', input: { occurredAt: '2026-11-20T08:30:00' }, field: 'occurredAt' },
    { name: 'an occurredAt that is not a date', input: { occurredAt: '2026-02-30T08:30:00Z' }, field: 'occurredAt' },
    { name: 'an occurredAt before any bank ran', input: { occurredAt: '1999-12-31T23:59:59Z' }, field: 'occurredAt' },
    { name: 'metadata that is an array', input: { metadata: [1, 2] }, field: 'metadata' },
    { name: 'metadata that is a string', input: { metadata: 'station 12' }, field: 'metadata' },
    { name: 'metadata that is a number', input: { metadata: 12 }, field: 'metadata' },
    { name: 'metadata over 4 KiB', input: { metadata: { blob: longText(5000) } }, field: 'metadata' },
    { name: 'a memberId that is not an id', input: { memberId: 'm-12' }, field: 'memberId' },
    { name: 'both memberId and externalId', input: { externalId: 'someone' }, field: 'memberId' },
    { name: 'a rule code that is not one', input: { rule: 'Garbage Sorted Drop' }, field: 'rule' },
  ];

  it.each(cases)('refuses $name', async ({ input, field, byExternalId }) => {
    const m = await newMember();
    const base: Record<string, unknown> = { idempotencyKey: h.key(), rule: 'garbage.bin-duty', ...(byExternalId ? {} : { memberId: m.id }) };
    await expectRefused(h.clientToken, { ...base, ...input }, 'BAD_USER_INPUT', m.id, field);
  });

  it('refuses neither memberId nor externalId', async () => {
    const m = await newMember();
    await expectRefused(h.clientToken, { idempotencyKey: h.key(), rule: 'garbage.bin-duty' }, 'BAD_USER_INPUT', m.id, 'memberId');
  });

  it('refuses a quantity so small that the rule would give nothing', async () => {
    const m = await newMember();
    const code = `${h.tag}.tiny`;
    const defined = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { version } } }`, {
      input: { idempotencyKey: h.key(), code, name: 'Tiny', category: 'test', outputs: [{ asset: 'POINTS', amountPerUnit: '0.10' }] },
    });
    expect(defined.errors).toBeUndefined();
    await expectRefused(h.clientToken, { idempotencyKey: h.key(), memberId: m.id, rule: code, quantity: '0.01' }, 'BAD_USER_INPUT', m.id, 'quantity');
  });

  it('accepts the largest quantity, memo and externalId allowed (the limits are inclusive)', async () => {
    const externalId = `${h.tag}-`.padEnd(128, 'z');
    const id = await h.addMember(externalId, h.branches[0]!);
    const res = await h.gql(h.clientToken, award, { input: { idempotencyKey: `${h.tag}-`.padEnd(200, 'k'), externalId, rule: 'party.negative-list.absence', quantity: '1000', memo: 'm'.repeat(500) } });
    expect(res.errors).toBeUndefined();
    expect(walletPosting(res, 'PARTY_SCORE')).toMatchObject({ amount: '-5000.00' });
    expect(await balances(id)).toMatchObject({ PARTY_SCORE: '-5000.00' });
  });
});
