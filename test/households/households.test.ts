// Households (户) as admins, awarding clients and members use them: a household with its members and
// their history, household rules crediting the household's wallet (caps per household), spending from
// the household wallet by the branch's policy, the household's statement, and who may do what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let merchantToken: string;
let itemId: string;

const upsert = `mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { created replayed household {
  id externalId name branch { code } head { externalId } members { adult member { externalId } }
  memberHistory { adult leftAt joinedBy member { externalId } } accounts { asset balance owner { type } } balance } } }`;
const award = `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId transaction { kind memberId: member { externalId }
  household { externalId } postings { amount account { owner { type } } } } } }`;
const redeemM = `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code wallet household { externalId } status } } }`;
const donateM = `mutation($i: DonateInput!) { donate(input: $i) { transactionId transaction { household { externalId } } } }`;
const setSpending = `mutation($i: SetHouseholdSpendingInput!) { setHouseholdSpending(input: $i) { code householdSpending householdSpendingSet } }`;
const defineRule = `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code beneficiary } } }`;
const householdQ = `query($x: String!) { household(externalId: $x) { externalId balance members { member { externalId } } } }`;

/** A household rule: 2.00 POINTS per drop at the household's bin, at most 3 a day per household. */
const binRule = 'garbage.household-bin';
/** A household rule without caps: 1.50 POINTS a unit. */
const openRule = 'garbage.household-open';

async function member(branch = h.branches[0]!): Promise<{ id: string; externalId: string; token: string }> {
  const externalId = `m-${h.key()}`;
  const id = await h.addMember(externalId, branch);
  return { id, externalId, token: h.token({ role: 'member', member: id, sub: `member-${id}` }) };
}

async function household(members: { externalId: string; adult: boolean }[], fields: Record<string, unknown> = {}) {
  const externalId = `hh-${h.key()}`;
  const res = await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), externalId, branch: h.branches[0]!.code, name: '王家', members, ...fields } });
  expect(res.errors).toBeUndefined();
  return { externalId, id: res.data.upsertHousehold.household.id as string };
}

async function householdBalance(householdId: string, asset = 'POINTS'): Promise<string> {
  const row = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD', owner_id: householdId, asset_code: asset }).first('balance');
  return Number(row.balance).toFixed(2);
}

function awardTo(target: Record<string, string>, rule = binRule, token = h.clientToken, key = h.key()) {
  return h.gql(token, award, { i: { idempotencyKey: key, rule, ...target } });
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 30 });
  const rule = await h.gql(h.adminToken, defineRule, { i: {
    idempotencyKey: h.key(), branch: h.head.code, code: binRule, name: '户分类桶 Household bin', category: 'garbage', beneficiary: 'HOUSEHOLD',
    outputs: [{ asset: 'POINTS', amountPerUnit: '2.00', direction: 'CREDIT' }], caps: [{ window: 'DAY', maxCount: '3' }],
  } });
  expect(rule.data.defineRule.rule).toEqual({ code: binRule, beneficiary: 'HOUSEHOLD' });
  const open = await h.gql(h.adminToken, defineRule, { i: { idempotencyKey: h.key(), branch: h.head.code, code: openRule, name: '户积分 Household points',
    category: 'garbage', beneficiary: 'HOUSEHOLD', outputs: [{ asset: 'POINTS', amountPerUnit: '1.50', direction: 'CREDIT' }] } });
  expect(open.errors).toBeUndefined();
  const merchant = await h.addMerchant('爱心超市 Caring Grocery', h.branches[0]);
  merchantToken = h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` });
  const made = await h.gql(merchantToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
    { i: { idempotencyKey: h.key(), code: `soap-${h.tag}`, title: '洗衣皂 Soap', category: 'daily-goods', cost: '4.00' } });
  expect(made.errors).toBeUndefined();
  itemId = made.data.upsertCatalogItem.item.id;
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('upsertHousehold', () => {
  it('creates a household with wallets, replays by key, and updates the same household by externalId', async () => {
    const [a, b] = [await member(), await member()];
    const input = { idempotencyKey: h.key(), externalId: `hh-${h.key()}`, branch: h.branches[0]!.code, name: '刘家', head: a.externalId,
      members: [{ externalId: a.externalId, adult: true }, { externalId: b.externalId, adult: false }] };
    const first = await h.gql(h.adminToken, upsert, { i: input });
    expect(first.errors).toBeUndefined();
    expect(first.data.upsertHousehold).toMatchObject({ created: true, replayed: false, household: {
      externalId: input.externalId, name: '刘家', branch: { code: h.branches[0]!.code }, head: { externalId: a.externalId }, balance: '0.00' } });
    expect(first.data.upsertHousehold.household.accounts.map((x: any) => x.owner.type)).toEqual(['HOUSEHOLD', 'HOUSEHOLD', 'HOUSEHOLD']);
    expect(first.data.upsertHousehold.household.members).toHaveLength(2);
    const again = await h.gql(h.adminToken, upsert, { i: input });
    expect(again.data.upsertHousehold).toMatchObject({ created: false, replayed: true, household: { id: first.data.upsertHousehold.household.id } });
    expect(codes(await h.gql(h.adminToken, upsert, { i: { ...input, name: '另一个' } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    // The same externalId with a new key is the same household, changed.
    const renamed = await h.gql(h.adminToken, upsert, { i: { ...input, idempotencyKey: h.key(), name: '刘家大院' } });
    expect(renamed.data.upsertHousehold).toMatchObject({ created: false, replayed: false, household: { id: first.data.upsertHousehold.household.id, name: '刘家大院' } });
    expect(await h.bank.knex('households').where({ head_id: h.head.id, external_id: input.externalId }).count('* as n').first()).toEqual({ n: '1' });
    // Listing the same members again writes no new history.
    expect(renamed.data.upsertHousehold.household.memberHistory).toHaveLength(2);
  });

  it('refuses a head who is not listed or is a minor, a member listed twice and an unknown member, and writes nothing', async () => {
    const [a, b] = [await member(), await member()];
    const base = { externalId: `hh-${h.key()}`, branch: h.branches[0]!.code, name: '张家' };
    const before = await h.footprint();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ head: b.externalId, members: [{ externalId: a.externalId, adult: true }] }, 'BAD_USER_INPUT', 'head'],
      [{ head: a.externalId, members: [{ externalId: a.externalId, adult: false }] }, 'BAD_USER_INPUT', 'head'],
      [{ members: [{ externalId: a.externalId, adult: true }, { externalId: a.externalId, adult: false }] }, 'BAD_USER_INPUT', 'members[1].externalId'],
      [{ members: [{ externalId: a.externalId, adult: true }, { externalId: 'nobody-here', adult: true }] }, 'NOT_FOUND', 'members[1].externalId'],
    ];
    for (const [fields, code, field] of cases) {
      const res = await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), ...base, ...fields } });
      expect(codes(res)).toEqual([code]);
      expect(res.errors![0]!.extensions!.field).toBe(field);
    }
    expect(await h.footprint()).toBe(before);
  });

  it('a move to another household closes the old stay and keeps it as history; a changed adult flag does too', async () => {
    const [a, b, c] = [await member(), await member(), await member()];
    const wang = await household([{ externalId: a.externalId, adult: true }, { externalId: b.externalId, adult: true }]);
    const li = await household([{ externalId: c.externalId, adult: true }]);
    // b moves from 王家 to 李家 (as a minor there).
    const moved = await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), externalId: li.externalId, branch: h.branches[0]!.code, name: '李家',
      members: [{ externalId: c.externalId, adult: true }, { externalId: b.externalId, adult: false }] } });
    expect(moved.errors).toBeUndefined();
    const wangNow = await h.gql(h.adminToken, `query($x: String!) { household(externalId: $x) { members { member { externalId } }
      memberHistory { leftAt leftBy member { externalId } } } }`, { x: wang.externalId });
    expect(wangNow.data.household.members.map((m: any) => m.member.externalId)).toEqual([a.externalId]);
    const bStay = wangNow.data.household.memberHistory.find((s: any) => s.member.externalId === b.externalId);
    expect(bStay.leftAt).not.toBeNull();
    expect(bStay.leftBy).toBe(`admin-${h.tag}`);
    const bNow = await h.gql(h.adminToken, `query($x: String!) { member(externalId: $x) { household { externalId } } }`, { x: b.externalId });
    expect(bNow.data.member.household.externalId).toBe(li.externalId);
    // b becomes an adult in 李家: the minor stay closes, an adult one opens.
    await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), externalId: li.externalId, branch: h.branches[0]!.code, name: '李家',
      members: [{ externalId: c.externalId, adult: true }, { externalId: b.externalId, adult: true }] } });
    const rows = await h.bank.knex('household_members').where({ head_id: h.head.id, member_id: b.id }).orderBy('id');
    expect(rows.map((r) => [String(r.household_id), r.adult, r.left_at === null])).toEqual([
      [wang.id, true, false], [li.id, false, false], [li.id, true, true]]);
    // Removing everyone leaves an empty household; its members' rows stay as history.
    await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), externalId: wang.externalId, branch: h.branches[0]!.code, name: '王家', members: [] } });
    expect(await h.bank.knex('household_members').where({ head_id: h.head.id, household_id: wang.id }).whereNull('left_at').count('* as n').first()).toEqual({ n: '0' });
    expect(await h.bank.knex('household_members').where({ head_id: h.head.id, household_id: wang.id }).count('* as n').first()).toEqual({ n: '2' });
  });
});

describe('awards under a household rule', () => {
  it('credit the member\'s household while a member rule credits the member', async () => {
    const [a, loner] = [await member(), await member()];
    const hh = await household([{ externalId: a.externalId, adult: true }]);
    const own = await awardTo({ externalId: a.externalId }, 'garbage.bin-duty');
    expect(own.errors).toBeUndefined();
    expect(own.data.awardPoints.transaction.household).toBeNull();
    expect(await h.walletBalance(a.id)).toBe('5.00');
    const shared = await awardTo({ externalId: a.externalId });
    expect(shared.errors).toBeUndefined();
    expect(shared.data.awardPoints.transaction).toMatchObject({ kind: 'EARN', memberId: { externalId: a.externalId }, household: { externalId: hh.externalId } });
    expect(shared.data.awardPoints.transaction.postings.map((p: any) => p.account?.owner.type).sort()).toEqual(['HOUSEHOLD', 'SYSTEM']);
    expect(await householdBalance(hh.id)).toBe('2.00');
    expect(await h.walletBalance(a.id)).toBe('5.00');
    // Named by the household itself.
    const byHousehold = await awardTo({ householdExternalId: hh.externalId });
    expect(byHousehold.errors).toBeUndefined();
    expect(byHousehold.data.awardPoints.transaction).toMatchObject({ memberId: null, household: { externalId: hh.externalId } });
    expect(await householdBalance(hh.id)).toBe('4.00');
    // Refused clearly, writing nothing: a member rule named by a household, a household rule for a member in none.
    const before = await h.footprint();
    const wrongRule = await awardTo({ householdExternalId: hh.externalId }, 'garbage.bin-duty');
    expect(codes(wrongRule)).toEqual(['BAD_USER_INPUT']);
    expect(wrongRule.errors![0]!.message).toMatch(/credits a member, not a household/);
    const none = await awardTo({ externalId: loner.externalId });
    expect(codes(none)).toEqual(['INVALID_STATE']);
    expect(none.errors![0]!.message).toBe(`member ${loner.externalId} is in no household; rule "${binRule}" credits the member's household`);
    expect(codes(await awardTo({ householdExternalId: 'no-such-household' }))).toEqual(['NOT_FOUND']);
    expect(codes(await awardTo({ externalId: a.externalId, householdExternalId: hh.externalId }))).toEqual(['BAD_USER_INPUT']);
    expect(await h.footprint()).toBe(before);
  });

  it('a reversal of a household award names the household, as the award did (found by npm run chaos)', async () => {
    const a = await member();
    const hh = await household([{ externalId: a.externalId, adult: true }]);
    const awarded = await awardTo({ externalId: a.externalId }, openRule);
    expect(awarded.errors).toBeUndefined();
    expect(await householdBalance(hh.id)).toBe('1.50');
    const reversed = await h.gql(h.adminToken, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transaction {
      kind household { externalId } postings { amount account { owner { type } } } } } }`,
    { i: { idempotencyKey: h.key(), transaction: awarded.data.awardPoints.transactionId, reason: 'entered twice' } });
    expect(reversed.errors).toBeUndefined();
    expect(reversed.data.reverseTransaction.transaction).toMatchObject({ kind: 'REVERSAL', household: { externalId: hh.externalId } });
    expect(await householdBalance(hh.id)).toBe('0.00');
    const { rows: [row] } = await h.bank.knex.raw('SELECT household_id::text AS household FROM transactions WHERE head_id = ? AND reverses_id = ?',
      [h.head.id, awarded.data.awardPoints.transactionId]);
    expect(row.household).toBe(hh.id);
  });

  it('count caps per household, alone and in a batch, whichever member earns', async () => {
    const [a, b] = [await member(), await member()];
    const hh = await household([{ externalId: a.externalId, adult: true }, { externalId: b.externalId, adult: false }]);
    expect((await awardTo({ externalId: a.externalId })).errors).toBeUndefined();
    expect((await awardTo({ externalId: b.externalId })).errors).toBeUndefined();
    const batch = await h.gql(h.clientToken, `mutation($a: [AwardPointsInput!]!) { awardPointsBatch(input: { awards: $a }) { results { error { code message } transactionId } } }`,
      { a: [{ idempotencyKey: h.key(), rule: binRule, externalId: b.externalId }, { idempotencyKey: h.key(), rule: binRule, householdExternalId: hh.externalId },
        { idempotencyKey: h.key(), rule: 'garbage.bin-duty', externalId: b.externalId }] });
    expect(batch.errors).toBeUndefined();
    const [third, fourth, personal] = batch.data.awardPointsBatch.results;
    expect(third.error).toBeNull();
    expect(fourth.error.code).toBe('CAP_EXCEEDED');
    expect(fourth.error.message).toMatch(new RegExp(`allows 3 units per day for household ${hh.externalId}`));
    expect(personal.error).toBeNull();
    const single = await awardTo({ externalId: a.externalId });
    expect(codes(single)).toEqual(['CAP_EXCEEDED']);
    expect(single.errors![0]!.message).toMatch(new RegExp(`for household ${hh.externalId}; already used 3`));
    expect(await householdBalance(hh.id)).toBe('6.00');
    expect(await h.walletBalance(b.id)).toBe('5.00');
  });

  it('from many concurrent requests keep the household balance exact and the cap exact', async () => {
    const people = await Promise.all(Array.from({ length: 6 }, () => member()));
    const hh = await household(people.map((p) => ({ externalId: p.externalId, adult: true })));
    // 60 awards from six kiosks (own tokens: each request alone) and one integration server (one token: coalesced).
    const kiosks = people.map((p) => h.token({ role: 'client', sub: `kiosk-${p.id}`, rules: '*' }));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => {
      const p = people[i % people.length]!;
      return awardTo(i % 2 ? { householdExternalId: hh.externalId } : { externalId: p.externalId }, openRule, i % 3 ? h.clientToken : kiosks[i % kiosks.length]!);
    }));
    expect(results.flatMap((r) => codes(r))).toEqual([]);
    expect(await householdBalance(hh.id)).toBe('90.00');
    // Against the cap of 3 a day: 20 concurrent requests, exactly 3 pass.
    const other = await household([{ externalId: (await member()).externalId, adult: true }]);
    const capped = await Promise.all(Array.from({ length: 20 }, () => awardTo({ householdExternalId: other.externalId })));
    expect(capped.filter((r) => !r.errors).length).toBe(3);
    expect(capped.flatMap((r) => codes(r)).every((c) => c === 'CAP_EXCEEDED')).toBe(true);
    expect(await householdBalance(other.id)).toBe('6.00');
  });
});

describe('spending from the household wallet', () => {
  it('follows the branch policy: any adult, never a minor; HEAD_ONLY lets only the head; a child branch may set its own', async () => {
    const [head, adult, minor] = [await member(), await member(), await member()];
    const hh = await household([{ externalId: head.externalId, adult: true }, { externalId: adult.externalId, adult: true },
      { externalId: minor.externalId, adult: false }], { head: head.externalId });
    for (let i = 0; i < 3; i++) await awardTo({ householdExternalId: hh.externalId });
    for (let i = 0; i < 4; i++) await awardTo({ householdExternalId: hh.externalId }, openRule);
    expect(await householdBalance(hh.id)).toBe('12.00');
    const spend = (who: { token: string }) => h.gql(who.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } });

    const byAdult = await spend(adult);
    expect(byAdult.errors).toBeUndefined();
    expect(byAdult.data.redeem.redemption).toMatchObject({ wallet: 'HOUSEHOLD', household: { externalId: hh.externalId }, status: 'PENDING' });
    const before = await h.footprint();
    const byMinor = await spend(minor);
    expect(codes(byMinor)).toEqual(['FORBIDDEN']);
    expect(byMinor.errors![0]!.message).toBe(`member ${minor.externalId} is a minor in household ${hh.externalId}: only adult members may spend from the household wallet`);
    expect(byMinor.errors![0]!.extensions!.field).toBe('wallet');
    const zh = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${minor.token}`, 'accept-language': 'zh-CN' },
      body: JSON.stringify({ query: redeemM, variables: { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } } }) }).then((r) => r.json()) as any;
    expect(zh.errors[0].message).toBe(`储户 ${minor.externalId} 是户 ${hh.externalId} 的未成年成员：只有成年成员才能使用户积分`);
    expect(await h.footprint()).toBe(before);

    // HEAD_ONLY set on the head bank reaches branch A; the adult who is not the head is refused.
    const set = await h.gql(h.adminToken, setSpending, { i: { branch: h.head.code, policy: 'HEAD_ONLY' } });
    expect(set.data.setHouseholdSpending).toMatchObject({ householdSpending: 'HEAD_ONLY', householdSpendingSet: 'HEAD_ONLY' });
    const inherited = await h.gql(h.adminToken, `query($c: String!) { branch(code: $c) { householdSpending householdSpendingSet } }`, { c: h.branches[0]!.code });
    expect(inherited.data.branch).toEqual({ householdSpending: 'HEAD_ONLY', householdSpendingSet: null });
    const notHead = await spend(adult);
    expect(codes(notHead)).toEqual(['FORBIDDEN']);
    expect(notHead.errors![0]!.message).toMatch(/only the head of household/);
    const byHead = await h.gql(head.token, donateM, { i: { idempotencyKey: h.key(), pool: await openPool(), amount: '1.00', wallet: 'HOUSEHOLD' } });
    expect(byHead.errors).toBeUndefined();
    expect(byHead.data.donate.transaction.household.externalId).toBe(hh.externalId);
    // Branch A sets ANY_ADULT for itself: the adult may spend again; clearing it inherits HEAD_ONLY.
    await h.gql(h.adminToken, setSpending, { i: { branch: h.branches[0]!.code, policy: 'ANY_ADULT' } });
    expect((await spend(adult)).errors).toBeUndefined();
    await h.gql(h.adminToken, setSpending, { i: { branch: h.branches[0]!.code, policy: null } });
    expect(codes(await spend(adult))).toEqual(['FORBIDDEN']);
    await h.gql(h.adminToken, setSpending, { i: { branch: h.head.code, policy: null } });
    // 12.00 earned, 1.00 donated; two vouchers of 4.00 are held until fulfilled.
    expect(await householdBalance(hh.id)).toBe('11.00');
    const held = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD', owner_id: hh.id, asset_code: 'POINTS' }).first('held');
    expect(Number(held.held)).toBe(8);
  });

  it('the member\'s own wallet stays the default, and a member in no household is told so', async () => {
    const loner = await member();
    await h.fund(loner.id, '10.00');
    const own = await h.gql(loner.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId } });
    expect(own.data.redeem.redemption).toMatchObject({ wallet: 'MEMBER', household: null });
    const none = await h.gql(loner.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } });
    expect(codes(none)).toEqual(['INVALID_STATE']);
    expect(none.errors![0]!.message).toBe(`member ${loner.externalId} is in no household: there is no household wallet to spend from`);
  });

  it('a cancelled voucher, a refund and a closed pool return the points to the household wallet', async () => {
    const a = await member();
    const hh = await household([{ externalId: a.externalId, adult: true }]);
    for (let i = 0; i < 3; i++) await awardTo({ householdExternalId: hh.externalId });
    const voucher = (await h.gql(a.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } })).data.redeem.redemption.code;
    const held = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD', owner_id: hh.id, asset_code: 'POINTS' }).first('balance', 'held');
    expect([Number(held.balance), Number(held.held)]).toEqual([6, 4]);
    const cancel = await h.gql(a.token, `mutation($i: VoucherInput!) { cancelRedemption(input: $i) { redemption { status } } }`, { i: { idempotencyKey: h.key(), code: voucher } });
    expect(cancel.data.cancelRedemption.redemption.status).toBe('CANCELLED');
    const after = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD', owner_id: hh.id, asset_code: 'POINTS' }).first('balance', 'held');
    expect([Number(after.balance), Number(after.held)]).toEqual([6, 0]);
    // Fulfilled, then refunded: back to the household wallet.
    const second = (await h.gql(a.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } })).data.redeem.redemption.code;
    expect((await h.gql(merchantToken, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`, { i: { idempotencyKey: h.key(), code: second } })).errors).toBeUndefined();
    expect(await householdBalance(hh.id)).toBe('2.00');
    const refund = await h.gql(merchantToken, `mutation($i: RefundRedemptionInput!) { refundRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code: second, reason: 'wrong soap' } });
    expect(refund.errors).toBeUndefined();
    expect(await householdBalance(hh.id)).toBe('6.00');
    // A donation from the household comes back to it when the pool closes.
    const pool = await openPool();
    expect((await h.gql(a.token, donateM, { i: { idempotencyKey: h.key(), pool, amount: '5.00', wallet: 'HOUSEHOLD' } })).errors).toBeUndefined();
    expect(await householdBalance(hh.id)).toBe('1.00');
    const closed = await h.gql(h.adminToken, `mutation($i: ClosePoolInput!) { closePool(input: $i) { refunds } }`, { i: { idempotencyKey: h.key(), pool, reason: 'not needed' } });
    expect(closed.data.closePool.refunds).toBe(1);
    expect(await householdBalance(hh.id)).toBe('6.00');
    expect(await h.walletBalance(a.id)).toBe('0.00');
  });
});

async function openPool(): Promise<string> {
  const res = await h.gql(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
    { i: { idempotencyKey: h.key(), title: '村口路灯 Street lamp', beneficiary: 'the village', target: '100.00' } });
  expect(res.errors).toBeUndefined();
  return res.data.createPool.pool.id;
}

describe('the household statement', () => {
  it('equals the household wallets\' postings: totals and every movement', async () => {
    const a = await member();
    const hh = await household([{ externalId: a.externalId, adult: true }]);
    await awardTo({ householdExternalId: hh.externalId });
    await awardTo({ externalId: a.externalId });
    await h.gql(a.token, redeemM, { i: { idempotencyKey: h.key(), item: itemId, wallet: 'HOUSEHOLD' } }); // held: not posted
    const year = new Date().getUTCFullYear();
    const res = await h.gql(h.adminToken, `query($x: String!, $y: Int!) { household(externalId: $x) { statement(period: { year: $y }) {
      totals { asset opening net closing postings } movements { transactionId kind asset amount category } movementsTruncated } } }`, { x: hh.externalId, y: year });
    expect(res.errors).toBeUndefined();
    const statement = res.data.household.statement;
    const { rows } = await h.bank.knex.raw(`
      SELECT t.id::text AS "transactionId", t.kind, p.asset_code AS asset, p.amount::text AS amount
        FROM accounts a JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
        JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
       WHERE a.head_id = ? AND a.owner_type = 'HOUSEHOLD' AND a.owner_id = ? AND t.status = 'POSTED' ORDER BY t.occurred_at, t.id`, [h.head.id, hh.id]);
    expect(statement.movements.map((m: any) => ({ transactionId: m.transactionId, kind: m.kind, asset: m.asset, amount: Number(m.amount) })))
      .toEqual(rows.map((r: any) => ({ ...r, amount: Number(r.amount) })));
    expect(statement.movements).toHaveLength(2);
    const points = statement.totals.find((t: any) => t.asset === 'POINTS');
    expect(points).toEqual({ asset: 'POINTS', opening: '0.00', net: '4.00', closing: '4.00', postings: 2 });
    expect(points.closing).toBe(await householdBalance(hh.id));
    expect(statement.movements.every((m: any) => m.category === 'garbage')).toBe(true);
  });
});

describe('who may do what', () => {
  it('a branch admin outside the household\'s subtree is refused; a member reads only its own household', async () => {
    const [a, outsider] = [await member(), await member(h.branches[1])];
    const hh = await household([{ externalId: a.externalId, adult: true }]);
    const adminB = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `admin-b-${h.tag}` });
    const before = await h.footprint();
    const refused = await h.gql(adminB, upsert, { i: { idempotencyKey: h.key(), externalId: hh.externalId, branch: h.branches[1]!.code, name: '王家', members: [] } });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(adminB, upsert, { i: { idempotencyKey: h.key(), externalId: `hh-${h.key()}`, branch: h.branches[0]!.code, name: 'x', members: [] } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(adminB, setSpending, { i: { branch: h.branches[0]!.code, policy: 'HEAD_ONLY' } }))).toEqual(['FORBIDDEN']);
    // A member of branch A named by B's admin reads like no member at all.
    expect(codes(await h.gql(adminB, upsert, { i: { idempotencyKey: h.key(), externalId: `hh-${h.key()}`, branch: h.branches[1]!.code, name: 'y',
      members: [{ externalId: a.externalId, adult: true }] } }))).toEqual(['NOT_FOUND']);
    const clientB = h.token({ role: 'client', branch: h.branches[1]!.code, sub: `client-b-${h.tag}`, rules: '*' });
    const outOfScope = await awardTo({ householdExternalId: hh.externalId }, binRule, clientB);
    expect(codes(outOfScope)).toEqual(['FORBIDDEN']);
    expect(outOfScope.errors![0]!.message).toBe(`the household is outside your scope (${h.branches[1]!.code})`);
    expect(await h.footprint()).toBe(before);
    expect((await h.gql(adminB, householdQ, { x: hh.externalId })).data.household).toBeNull();
    expect((await h.gql(adminB, `{ households { edges { node { externalId } } } }`)).data.households.edges).toEqual([]);
    expect((await h.gql(outsider.token, householdQ, { x: hh.externalId })).data.household).toBeNull();
    expect((await h.gql(a.token, householdQ, { x: hh.externalId })).data.household).toMatchObject({ externalId: hh.externalId, balance: '0.00' });
    expect(codes(await h.gql(a.token, upsert, { i: { idempotencyKey: h.key(), externalId: hh.externalId, branch: h.branches[0]!.code, name: '王家', members: [] } }))).toEqual(['FORBIDDEN']);
    // The head bank's admin pages through the households of branch A.
    const page = await h.gql(h.adminToken, `query($b: String) { households(branch: $b, first: 2) { edges { node { externalId } } pageInfo { hasNextPage endCursor } } }`, { b: h.branches[0]!.code });
    expect(page.errors).toBeUndefined();
    expect(page.data.households.edges).toHaveLength(2);
    expect(page.data.households.pageInfo.hasNextPage).toBe(true);
  });
});
