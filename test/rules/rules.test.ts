// Earning rules (积分细则) over real HTTP against real PostgreSQL: what an administrator depends on
// when publishing and revising rules, and what an awarding client then gets. Versions are kept and
// recorded on each award; a branch may override the head bank's rule for its own members; validity
// dates, client lists and approval are enforced at award time; bad definitions are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const ruleFields = `id code version branch { code } name category description
  outputs { asset amountPerUnit direction } caps { window maxCount maxAmount }
  requiresApproval allowedClients validFrom validTo createdAt`;

const defineRule = `mutation($input: DefineRuleInput!) { defineRule(input: $input) { replayed rule { ${ruleFields} } } }`;

const rulesQuery = `query($branch: String, $code: String, $history: Boolean) { rules(branch: $branch, code: $code, history: $history) { ${ruleFields} } }`;

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction {
  id rule { id code version category } postings { asset amount account { owner { type } } } } } }`;

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-m${++members}`;
  return { id: await h.addMember(externalId, branch), externalId };
}

let codeCount = 0;
function newCode(name: string): string {
  return `${h.tag}.${name}-${++codeCount}`;
}

function ruleInput(code: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { idempotencyKey: h.key(), code, name: `Rule ${code}`, category: 'test', outputs: [{ asset: 'POINTS', amountPerUnit: '2.00' }], ...extra };
}

async function define(input: Record<string, unknown>, token = h.adminToken) {
  const res = await h.gql(token, defineRule, { input });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.defineRule.rule;
}

async function sendAward(token: string, memberId: string, rule: string, extra: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  return h.gql(token, award, { input: { idempotencyKey: h.key(), memberId, rule, ...extra } });
}

function credited(res: GraphQLResponse, asset = 'POINTS'): string {
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.awardPoints.transaction.postings.find((p: any) => p.asset === asset && p.account.owner.type === 'MEMBER').amount;
}


async function counts(): Promise<{ rules: number; transactions: number }> {
  const [r] = await h.bank.knex('rules').where({ head_id: h.head.id }).count({ n: '*' });
  const [t] = await h.bank.knex('transactions').where({ head_id: h.head.id }).count({ n: '*' });
  return { rules: Number(r!.n), transactions: Number(t!.n) };
}

describe('rule versions', () => {
  it('each definition makes a new version, and an award records the version in force', async () => {
    const code = newCode('versioned');
    const m = await newMember();
    const v1 = await define(ruleInput(code, { description: 'first edition' }));
    expect(v1).toMatchObject({ code, version: 1, branch: { code: h.head.code }, description: 'first edition', requiresApproval: false, allowedClients: [] });
    const first = await sendAward(h.clientToken, m.id, code);
    expect(credited(first)).toBe('2.00');
    expect(first.data.awardPoints.transaction.rule).toEqual({ id: v1.id, code, version: 1, category: 'test' });

    const v2 = await define(ruleInput(code, { outputs: [{ asset: 'POINTS', amountPerUnit: '4.50' }] }));
    expect(v2).toMatchObject({ code, version: 2, outputs: [{ asset: 'POINTS', amountPerUnit: '4.50', direction: 'CREDIT' }] });
    expect(v2.id).not.toBe(v1.id);
    const second = await sendAward(h.clientToken, m.id, code);
    expect(credited(second)).toBe('4.50');
    expect(second.data.awardPoints.transaction.rule).toMatchObject({ id: v2.id, version: 2 });

    const v3 = await define(ruleInput(code, { category: 'renamed' }));
    expect(v3.version).toBe(3);
    // History is kept: the first award still names version 1.
    const read = await h.gql(h.adminToken, `query($id: ID!) { transaction(id: $id) { rule { id version category } } }`, { id: first.data.awardPoints.transaction.id });
    expect(read.data.transaction.rule).toEqual({ id: v1.id, version: 1, category: 'test' });
    expect(await h.walletBalance(m.id)).toBe('6.50');
  });

  it('a repeated definition with the same key replays, and the same key for another definition is refused', async () => {
    const code = newCode('replayed');
    const input = ruleInput(code);
    const first = await h.gql(h.adminToken, defineRule, { input });
    const again = await h.gql(h.adminToken, defineRule, { input });
    expect(first.data.defineRule.replayed).toBe(false);
    expect(again.data.defineRule).toEqual({ ...first.data.defineRule, replayed: true });
    const before = await counts();
    const conflict = await h.gql(h.adminToken, defineRule, { input: { ...input, outputs: [{ asset: 'POINTS', amountPerUnit: '3.00' }] } });
    expect(codes(conflict)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await counts()).toEqual(before);
    const versions = await h.gql(h.adminToken, rulesQuery, { code, history: true });
    expect(versions.data.rules.map((r: any) => r.version)).toEqual([1]);
  });

  it('versions defined together are numbered without gaps or duplicates', async () => {
    const code = newCode('concurrent');
    const results = await Promise.all(Array.from({ length: 10 }, () => h.gql(h.adminToken, defineRule, { input: ruleInput(code) })));
    for (const res of results) expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(results.map((res) => res.data.defineRule.rule.version).sort((a: number, b: number) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('the rules query', () => {
  it('lists the latest version of each code, or every version with history', async () => {
    const code = newCode('listed');
    await define(ruleInput(code));
    await define(ruleInput(code, { name: 'Second edition' }));
    const latest = await h.gql(h.clientToken, rulesQuery, { code });
    expect(latest.errors).toBeUndefined();
    expect(latest.data.rules).toHaveLength(1);
    expect(latest.data.rules[0]).toMatchObject({ code, version: 2, name: 'Second edition' });
    const history = await h.gql(h.clientToken, rulesQuery, { code, history: true });
    expect(history.data.rules.map((r: any) => r.version)).toEqual([2, 1]);

    const all = await h.gql(h.adminToken, rulesQuery, {});
    const listed = all.data.rules.map((r: any) => r.code);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(expect.arrayContaining(['garbage.sorted-drop', 'garbage.bin-duty', 'volunteer.hour', 'party.class-attendance', 'party.negative-list.absence', code]));
    expect(all.data.rules.find((r: any) => r.code === 'volunteer.hour')).toMatchObject({
      version: 1, category: 'volunteer', branch: { code: h.head.code },
      outputs: [{ asset: 'VOLUNTEER_HOURS', amountPerUnit: '1.00', direction: 'CREDIT' }, { asset: 'POINTS', amountPerUnit: '10.00', direction: 'CREDIT' }],
      caps: [{ window: 'DAY', maxCount: '12', maxAmount: null }],
    });
    expect(all.data.rules.find((r: any) => r.code === 'party.negative-list.absence').outputs).toEqual([{ asset: 'PARTY_SCORE', amountPerUnit: '5.00', direction: 'DEDUCT' }]);
  });

  it('refuses to list the rules of a sibling branch', async () => {
    const adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: h.branches[0]!.code });
    expect(codes(await h.gql(adminA, rulesQuery, { branch: h.branches[1]!.code }))).toEqual(['FORBIDDEN']);
    // The head bank's rules, which its branch inherits, are readable.
    const head = await h.gql(adminA, rulesQuery, { branch: h.head.code, code: 'garbage.bin-duty' });
    expect(head.data.rules).toHaveLength(1);
  });
});

describe('a branch rule', () => {
  it('overrides the head bank rule of the same code for members of that branch only', async () => {
    const code = newCode('override');
    const headV1 = await define(ruleInput(code, { outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }] }));
    const branchV1 = await define(ruleInput(code, { branch: h.branches[0]!.code, outputs: [{ asset: 'POINTS', amountPerUnit: '3.00' }] }));
    expect(branchV1).toMatchObject({ version: 1, branch: { code: h.branches[0]!.code } });
    const inBranch = await newMember(h.branches[0]!);
    const elsewhere = await newMember(h.branches[1]!);

    const a = await sendAward(h.clientToken, inBranch.id, code);
    expect(credited(a)).toBe('3.00');
    expect(a.data.awardPoints.transaction.rule.id).toBe(branchV1.id);
    const b = await sendAward(h.clientToken, elsewhere.id, code);
    expect(credited(b)).toBe('1.00');
    expect(b.data.awardPoints.transaction.rule.id).toBe(headV1.id);

    // A newer head version does not override the branch's own rule.
    const headV2 = await define(ruleInput(code, { outputs: [{ asset: 'POINTS', amountPerUnit: '1.50' }] }));
    expect(headV2.version).toBe(2);
    expect(credited(await sendAward(h.clientToken, inBranch.id, code))).toBe('3.00');
    expect(credited(await sendAward(h.clientToken, elsewhere.id, code))).toBe('1.50');

    // The rules query shows each branch what its members get.
    const forA = await h.gql(h.adminToken, rulesQuery, { branch: h.branches[0]!.code, code });
    expect(forA.data.rules).toMatchObject([{ id: branchV1.id, branch: { code: h.branches[0]!.code } }]);
    const forB = await h.gql(h.adminToken, rulesQuery, { branch: h.branches[1]!.code, code });
    expect(forB.data.rules).toMatchObject([{ id: headV2.id, version: 2, branch: { code: h.head.code } }]);
    const historyA = await h.gql(h.adminToken, rulesQuery, { branch: h.branches[0]!.code, code, history: true });
    expect(historyA.data.rules.map((r: any) => [r.branch.code, r.version])).toEqual([[h.branches[0]!.code, 1], [h.head.code, 2], [h.head.code, 1]]);
    // A client scoped to the branch sees the branch's rule by default.
    const clientA = h.token({ role: 'client', sub: `${h.tag}-client-a`, rules: '*', branch: h.branches[0]!.code });
    expect((await h.gql(clientA, rulesQuery, { code })).data.rules).toMatchObject([{ id: branchV1.id }]);
  });

  it('can be defined by that branch admin, for its own branch only', async () => {
    const code = newCode('branch-own');
    const adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: h.branches[0]!.code });
    // Without a branch, the rule is defined on the admin's own scope.
    const own = await define(ruleInput(code), adminA);
    expect(own.branch.code).toBe(h.branches[0]!.code);
    const m = await newMember(h.branches[0]!);
    expect(credited(await sendAward(h.clientToken, m.id, code))).toBe('2.00');
    // Members of other branches do not inherit it.
    const other = await newMember(h.branches[1]!);
    expect(codes(await sendAward(h.clientToken, other.id, code))).toEqual(['NOT_FOUND']);
  });
});

describe('when a rule applies', () => {
  it('refuses awards for activities outside the validity dates, writing nothing', async () => {
    const code = newCode('campaign');
    const rule = await define(ruleInput(code, { validFrom: '2026-11-10T00:00:00Z', validTo: '2026-11-20T00:00:00Z' }));
    expect(rule).toMatchObject({ validFrom: '2026-11-10T00:00:00.000Z', validTo: '2026-11-20T00:00:00.000Z' });
    const m = await newMember();
    const before = await counts();
    for (const occurredAt of ['2026-11-09T23:59:59Z', '2026-11-20T00:00:00Z', '2026-11-21T10:00:00Z', undefined]) {
      const res = await sendAward(h.clientToken, m.id, code, occurredAt ? { occurredAt } : {});
      expect(codes(res), String(occurredAt)).toEqual(['BAD_USER_INPUT']);
      const error = res.errors![0]!;
      expect(error.extensions?.field === 'occurredAt' || error.message.includes('occurredAt'), error.message).toBe(true);
    }
    expect(await counts()).toEqual(before);
    expect(await h.walletBalance(m.id)).toBe('0.00');
    // validFrom is inclusive, validTo exclusive.
    expect(credited(await sendAward(h.clientToken, m.id, code, { occurredAt: '2026-11-10T00:00:00Z' }))).toBe('2.00');
    expect(credited(await sendAward(h.clientToken, m.id, code, { occurredAt: '2026-11-19T23:59:59Z' }))).toBe('2.00');
    // A new version without an end makes it apply now.
    await define(ruleInput(code, { validFrom: '2026-11-10T00:00:00Z' }));
    expect(credited(await sendAward(h.clientToken, m.id, code))).toBe('2.00');
  });

  it('lets only the listed clients apply a rule with allowedClients', async () => {
    const code = newCode('station-only');
    const station = `${h.tag}-station-1`;
    await define(ruleInput(code, { allowedClients: [station] }));
    const m = await newMember();
    const listed = h.token({ role: 'client', sub: station, rules: '*' });
    const unlisted = h.token({ role: 'client', sub: `${h.tag}-station-2`, rules: '*' });
    const unlistedNamingRule = h.token({ role: 'client', sub: `${h.tag}-station-3`, rules: [code] });
    const listedWithoutRule = h.token({ role: 'client', sub: station, rules: ['garbage.sorted-drop'] });
    expect(credited(await sendAward(listed, m.id, code))).toBe('2.00');
    const before = await counts();
    for (const token of [unlisted, unlistedNamingRule]) {
      expect(codes(await sendAward(token, m.id, code))).toEqual(['FORBIDDEN']);
    }
    // A rule missing from the token's own list reads like an unknown rule (NOT_FOUND), whatever the rule allows.
    expect(codes(await sendAward(listedWithoutRule, m.id, code))).toEqual(['NOT_FOUND']);
    expect(await counts()).toEqual(before);
    // Administrators are not clients: they may apply it.
    expect(credited(await sendAward(h.adminToken, m.id, code))).toBe('2.00');
    expect(await h.walletBalance(m.id)).toBe('4.00');
  });

  it('refuses awards of a rule that needs approval with INVALID_STATE, until a version without it', async () => {
    const code = newCode('claimed');
    const rule = await define(ruleInput(code, { requiresApproval: true }));
    expect(rule.requiresApproval).toBe(true);
    const m = await newMember();
    const before = await counts();
    const res = await sendAward(h.clientToken, m.id, code);
    expect(codes(res)).toEqual(['INVALID_STATE']);
    expect(res.errors![0]!.message).toContain(code);
    expect(codes(await sendAward(h.adminToken, m.id, code))).toEqual(['INVALID_STATE']);
    expect(await counts()).toEqual(before);
    await define(ruleInput(code, { requiresApproval: false }));
    expect(credited(await sendAward(h.clientToken, m.id, code))).toBe('2.00');
  });

  it('gives a deduction rule defined by an admin to the penalty account', async () => {
    const code = newCode('littering');
    await define(ruleInput(code, { category: 'negative', outputs: [{ asset: 'PARTY_SCORE', amountPerUnit: '1.50', direction: 'DEDUCT' }] }));
    const m = await newMember(h.branches[2]!);
    const res = await sendAward(h.clientToken, m.id, code, { quantity: '2' });
    expect(credited(res, 'PARTY_SCORE')).toBe('-3.00');
  });
});

describe('a bad rule definition', () => {
  const good = () => ruleInput(newCode('bad'));
  const cases: { name: string; change: (input: Record<string, unknown>) => Record<string, unknown>; field: string }[] = [
    { name: 'a code with capitals and spaces', change: (i) => ({ ...i, code: 'Garbage Drop' }), field: 'code' },
    { name: 'a code starting with a dot', change: (i) => ({ ...i, code: '.garbage' }), field: 'code' },
    { name: 'a code ending with a dot', change: (i) => ({ ...i, code: 'garbage.' }), field: 'code' },
    { name: 'a code of 101 characters', change: (i) => ({ ...i, code: `a${'b'.repeat(100)}` }), field: 'code' },
    { name: 'an empty code', change: (i) => ({ ...i, code: '' }), field: 'code' },
    { name: 'no outputs', change: (i) => ({ ...i, outputs: [] }), field: 'outputs' },
    { name: 'nine outputs', change: (i) => ({ ...i, outputs: Array.from({ length: 9 }, () => ({ asset: 'POINTS', amountPerUnit: '1.00' })) }), field: 'outputs' },
    { name: 'the same asset twice', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }, { asset: 'POINTS', amountPerUnit: '2.00' }] }), field: 'outputs' },
    { name: 'an unknown asset', change: (i) => ({ ...i, outputs: [{ asset: 'GOLD', amountPerUnit: '1.00' }] }), field: 'asset' },
    { name: 'an amount with more decimals than the asset', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1.005' }] }), field: 'amountPerUnit' },
    { name: 'a zero amount', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '0.00' }] }), field: 'amountPerUnit' },
    { name: 'a negative amount', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '-1.00' }] }), field: 'amountPerUnit' },
    { name: 'an amount in exponent notation', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1e1' }] }), field: 'amountPerUnit' },
    { name: 'a numeric amount', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: 2 }] }), field: 'amountPerUnit' },
    { name: 'an unknown direction', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'DEBIT' }] }), field: 'direction' },
    { name: 'two caps on one window', change: (i) => ({ ...i, caps: [{ window: 'DAY', maxCount: '1' }, { window: 'DAY', maxCount: '2' }] }), field: 'caps' },
    { name: 'a cap with neither a count nor an amount', change: (i) => ({ ...i, caps: [{ window: 'WEEK' }] }), field: 'caps[0]' },
    { name: 'a cap count with three decimals', change: (i) => ({ ...i, caps: [{ window: 'WEEK', maxCount: '1.005' }] }), field: 'caps[0].maxCount' },
    { name: 'a cap amount with more decimals than the asset', change: (i) => ({ ...i, caps: [{ window: 'WEEK', maxAmount: '10.001' }] }), field: 'caps[0].maxAmount' },
    { name: 'a zero cap', change: (i) => ({ ...i, caps: [{ window: 'WEEK', maxCount: '0' }] }), field: 'caps[0].maxCount' },
    { name: 'an unknown cap window', change: (i) => ({ ...i, caps: [{ window: 'FORTNIGHT', maxCount: '1' }] }), field: 'window' },
    { name: 'an empty name', change: (i) => ({ ...i, name: '  ' }), field: 'name' },
    { name: 'a name of 201 characters', change: (i) => ({ ...i, name: 'n'.repeat(201) }), field: 'name' },
    { name: 'an empty category', change: (i) => ({ ...i, category: '' }), field: 'category' },
    { name: 'a description of 2001 characters', change: (i) => ({ ...i, description: 'd'.repeat(2001) }), field: 'description' },
    { name: 'validTo before validFrom', change: (i) => ({ ...i, validFrom: '2026-11-20T00:00:00Z', validTo: '2026-11-10T00:00:00Z' }), field: 'validTo' },
    { name: 'validTo equal to validFrom', change: (i) => ({ ...i, validFrom: '2026-11-20T00:00:00Z', validTo: '2026-11-20T00:00:00Z' }), field: 'validTo' },
    { name: 'an empty allowed client', change: (i) => ({ ...i, allowedClients: [''] }), field: 'allowedClients' },
    { name: 'an over-long idempotencyKey', change: (i) => ({ ...i, idempotencyKey: 'k'.repeat(201) }), field: 'idempotencyKey' },
    // bounded like every amount: a trillion points per unit, times 999 units, posted 9.99e14 in one award
    { name: 'an amountPerUnit of 1,000,000,000,000.00', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1000000000000.00' }] }), field: 'outputs[0].amountPerUnit' },
    { name: 'an amountPerUnit just over the 1,000,000 per unit bound', change: (i) => ({ ...i, outputs: [{ asset: 'POINTS', amountPerUnit: '1000000.01' }] }), field: 'outputs[0].amountPerUnit' },
    { name: 'a cap of more than 100,000 units', change: (i) => ({ ...i, caps: [{ window: 'YEAR', maxCount: '100001' }] }), field: 'caps[0].maxCount' },
    { name: 'a cap amount over 1,000,000,000', change: (i) => ({ ...i, caps: [{ window: 'YEAR', maxAmount: '1000000000.01' }] }), field: 'caps[0].maxAmount' },
  ];

  it('accepts the largest amounts a rule may carry, and an award of 1,000 units of it stays under 10^9', async () => {
    const code = newCode('largest');
    await define(ruleInput(code, { outputs: [{ asset: 'POINTS', amountPerUnit: '1000000.00' }], caps: [{ window: 'YEAR', maxCount: '100000', maxAmount: '1000000000.00' }] }));
    const member = await newMember();
    expect(credited(await sendAward(h.adminToken, member.id, code, { quantity: '1000' }))).toBe('1000000000.00');
  });

  it.each(cases)('refuses $name with BAD_USER_INPUT and defines nothing', async ({ change, field }) => {
    const input = change(good());
    const before = await counts();
    const res = await h.gql(h.adminToken, defineRule, { input });
    expect(codes(res), JSON.stringify(res.errors)).toEqual(['BAD_USER_INPUT']);
    const error = res.errors![0]!;
    expect(error.extensions?.field === field || error.message.includes(field), `names ${field}: ${error.message}`).toBe(true);
    expect(await counts()).toEqual(before);
    const [keys] = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id, key: String(input.idempotencyKey) }).count({ n: '*' });
    expect(Number(keys!.n)).toBe(0);
  });

  it('refuses an unknown branch with NOT_FOUND', async () => {
    const before = await counts();
    const res = await h.gql(h.adminToken, defineRule, { input: { ...good(), branch: `${h.tag}-nowhere` } });
    expect(codes(res)).toEqual(['NOT_FOUND']);
    expect(await counts()).toEqual(before);
  });
});

describe('who may define rules', () => {
  it('only admins: clients and members are FORBIDDEN, callers without a token UNAUTHENTICATED', async () => {
    const m = await newMember();
    const before = await counts();
    const member = h.token({ role: 'member', sub: `${h.tag}-member`, member: m.id, branch: h.branches[0]!.code } as any);
    expect(codes(await h.gql(h.clientToken, defineRule, { input: ruleInput(newCode('by-client')) }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(member, defineRule, { input: ruleInput(newCode('by-member')) }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(null, defineRule, { input: ruleInput(newCode('anonymous')) }))).toEqual(['UNAUTHENTICATED']);
    expect(await counts()).toEqual(before);
  });

  it('a branch admin may not define rules on a sibling branch or on the head bank', async () => {
    const adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: h.branches[0]!.code });
    const before = await counts();
    expect(codes(await h.gql(adminA, defineRule, { input: ruleInput(newCode('sibling'), { branch: h.branches[1]!.code }) }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(adminA, defineRule, { input: ruleInput('garbage.sorted-drop', { branch: h.head.code }) }))).toEqual(['FORBIDDEN']);
    expect(await counts()).toEqual(before);
    // Its own branch is within its scope.
    expect(codes(await h.gql(adminA, defineRule, { input: ruleInput(newCode('own'), { branch: h.branches[0]!.code }) }))).toEqual([]);
  });
});
