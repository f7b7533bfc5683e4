// The console's reads (issue 12 §2), scoped exactly as the API scopes the token: the members list
// with search by name or external id, the merchants list, the dashboard's figures by month (equal to
// what the postings say), the top rules of a period and the claims waiting.
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import type { Branch } from '../../src/directory/branches.js';
import { rollupsFromPostingsSql } from '../../src/reports/rollups.js';
import { monthOf } from '../../src/reports/noticeBoard.js';

let h: Harness;
let a: Branch, b: Branch, a1: Branch;
let adminA: string, adminB: string;
const member: Record<string, string> = {};
let merchantA = '', merchantB = '';

const membersQuery = `query($b: String, $s: String, $first: Int, $after: String) {
  members(branch: $b, search: $s, first: $first, after: $after) { edges { cursor node { id externalId name branch { code } } } pageInfo { hasNextPage endCursor } } }`;
const merchantsQuery = `query($b: String, $first: Int, $after: String) {
  merchants(branch: $b, first: $first, after: $after) { edges { node { id name branch { code } } } pageInfo { hasNextPage endCursor } } }`;

async function award(memberId: string, rule: string, occurredAt?: string, quantity = '1'): Promise<string> {
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId, rule, quantity, occurredAt } });
  expect(res.errors, `award ${rule}`).toBeUndefined();
  return res.data.awardPoints.transactionId;
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 8 });
  [a, b] = h.branches as [Branch, Branch];
  const created = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { code } } }`,
    { input: { idempotencyKey: h.key(), parent: a.code, code: `${h.tag}-a1`, name: 'Grid A1' } });
  expect(created.errors).toBeUndefined();
  a1 = await h.bank.branches.require(`${h.tag}-a1`);
  adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: a.code });
  adminB = h.token({ role: 'admin', sub: `${h.tag}-admin-b`, branch: b.code });
  const people: [string, Branch, string][] = [
    ['wang', a, '王小明'], ['wang2', a1, '王小红'], ['li', b, '李小明'], ['zhao', a, 'Zhao Ming'],
  ];
  for (const [label, branch, name] of people) {
    member[label] = await h.addMember(`${h.tag}-x-${label}`, branch, { volunteer: true });
    await h.bank.knex('members').where({ head_id: h.head.id, id: member[label] }).update({ name });
  }
  merchantA = await h.addMerchant(`${h.tag} grocery A`, a);
  merchantB = await h.addMerchant(`${h.tag} barber B`, b);
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const names = (res: any) => res.data.members.edges.map((e: any) => e.node.name);

describe('members', () => {
  it('an admin finds members of its subtree by a part of the name', async () => {
    const res = await h.gql(adminA, membersQuery, { s: '小' });
    expect(res.errors).toBeUndefined();
    expect(names(res)).toEqual(['王小明', '王小红']);
    expect(names(await h.gql(adminA, membersQuery, { s: 'zhao' }))).toEqual(['Zhao Ming']);
  });

  it('an admin finds a member by external id, exactly or by its beginning', async () => {
    expect(names(await h.gql(adminA, membersQuery, { s: `${h.tag}-x-wang2` }))).toEqual(['王小红']);
    expect(names(await h.gql(adminA, membersQuery, { s: `${h.tag}-x-wa` }))).toEqual(['王小明', '王小红']);
    // Not in the middle of an external id: that is a prefix search, not a substring one.
    expect(names(await h.gql(adminA, membersQuery, { s: 'x-wang' }))).toEqual([]);
  });

  it('a sibling branch\'s admin does not find the member, and may not ask for the other branch', async () => {
    expect(names(await h.gql(adminB, membersQuery, { s: '王小明' }))).toEqual([]);
    expect(names(await h.gql(adminB, membersQuery, { s: `${h.tag}-x-wang` }))).toEqual([]);
    expect(names(await h.gql(adminB, membersQuery, { s: '小明' }))).toEqual(['李小明']);
    expect(codes(await h.gql(adminB, membersQuery, { b: a.code, s: '王' }))).toEqual(['FORBIDDEN']);
    // The head bank's admin finds both.
    expect(names(await h.gql(h.adminToken, membersQuery, { s: '小明' }))).toEqual(['王小明', '李小明']);
  });

  it('narrows to a branch of the scope and pages with bounded first', async () => {
    expect(names(await h.gql(adminA, membersQuery, { b: a1.code }))).toEqual(['王小红']);
    const first = await h.gql(h.adminToken, membersQuery, { first: 2 });
    expect(first.data.members.pageInfo.hasNextPage).toBe(true);
    const rest = await h.gql(h.adminToken, membersQuery, { first: 2, after: first.data.members.pageInfo.endCursor });
    expect([...names(first), ...names(rest)]).toEqual(['王小明', '王小红', '李小明', 'Zhao Ming']);
    expect(rest.data.members.pageInfo.hasNextPage).toBe(false);
    expect(codes(await h.gql(h.adminToken, membersQuery, { first: 201 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, membersQuery, { after: 'nonsense' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('is for admins only', async () => {
    expect(codes(await h.gql(h.clientToken, membersQuery, {}))).toEqual(['FORBIDDEN']);
    const memberToken = h.token({ role: 'member', sub: `${h.tag}-m`, member: member.wang! });
    expect(codes(await h.gql(memberToken, membersQuery, {}))).toEqual(['FORBIDDEN']);
  });
});

describe('merchants', () => {
  const merchantNames = (res: any) => res.data.merchants.edges.map((e: any) => e.node.name);
  it('an admin lists the merchants of its scope, not a sibling\'s', async () => {
    expect(merchantNames(await h.gql(adminA, merchantsQuery, {}))).toEqual([`${h.tag} grocery A`]);
    expect(merchantNames(await h.gql(adminB, merchantsQuery, {}))).toEqual([`${h.tag} barber B`]);
    expect(merchantNames(await h.gql(h.adminToken, merchantsQuery, {}))).toEqual([`${h.tag} grocery A`, `${h.tag} barber B`]);
    expect(codes(await h.gql(adminB, merchantsQuery, { b: a.code }))).toEqual(['FORBIDDEN']);
  });

  it('a merchant token lists only itself', async () => {
    const token = h.token({ role: 'merchant', sub: `${h.tag}-shop-b`, merchant: merchantB });
    expect(merchantNames(await h.gql(token, merchantsQuery, {}))).toEqual([`${h.tag} barber B`]);
    expect(merchantNames(await h.gql(token, merchantsQuery, { b: a.code }))).toEqual([]);
    expect(codes(await h.gql(h.clientToken, merchantsQuery, {}))).toEqual(['FORBIDDEN']);
    expect(merchantA).not.toBe(merchantB);
  });
});

describe('dashboard figures', () => {
  const year = Number(monthOf(process.env.BANK_TIME_ZONE || 'Asia/Shanghai', new Date()).month.slice(0, 4));
  const monthsQuery = `query($b: String!, $p: ReportPeriod!) { branchMonths(branch: $b, period: $p) {
    month activeMembers assets { asset issued deducted redeemed reversed outstanding activeMembers } } }`;

  beforeAll(async () => {
    await award(member.wang!, 'garbage.bin-duty', `${year}-01-10T03:00:00Z`);
    await award(member.wang!, 'volunteer.hour', `${year}-03-05T03:00:00Z`, '3');
    await award(member.wang2!, 'garbage.sorted-drop', `${year}-03-06T03:00:00Z`);
    const reversed = await award(member.wang2!, 'garbage.bin-duty', `${year}-03-07T03:00:00Z`);
    await award(member.li!, 'volunteer.hour', `${year}-03-05T03:00:00Z`, '4');
    await award(member.zhao!, 'party.negative-list.absence', `${year}-02-01T03:00:00Z`);
    await award(member.wang!, 'garbage.sorted-drop');
    const res = await h.gql(h.adminToken, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), transaction: reversed, reason: 'recorded twice' } });
    expect(res.errors).toBeUndefined();
    // A voucher fulfilled now: REDEEM in this month.
    const shop = h.token({ role: 'merchant', sub: `${h.tag}-shop-a`, merchant: merchantA });
    const item = await h.gql(shop, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
      { i: { idempotencyKey: h.key(), code: 'soap', title: 'Soap', category: 'daily-goods', cost: '5.00' } });
    expect(item.errors).toBeUndefined();
    const wang = h.token({ role: 'member', sub: `${h.tag}-wang`, member: member.wang! });
    const redeemed = await h.gql(wang, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
      { i: { idempotencyKey: h.key(), item: item.data.upsertCatalogItem.item.id } });
    expect(redeemed.errors).toBeUndefined();
    const fulfilled = await h.gql(shop, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code: redeemed.data.redeem.redemption.code } });
    expect(fulfilled.errors).toBeUndefined();
  });

  it('issued, deducted, redeemed, reversed, outstanding and active members per month equal the postings', async () => {
    for (const branch of [a, h.head]) {
      const res = await h.gql(h.adminToken, monthsQuery, { b: branch.code, p: { year } });
      expect(res.errors).toBeUndefined();
      const months = res.data.branchMonths;
      expect(months.map((m: any) => m.month)).toEqual(Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, '0')}`));
      const { rows } = await h.bank.knex.raw(`SELECT x.*, m.branch_id FROM (${rollupsFromPostingsSql}) x JOIN members m ON m.head_id = :head AND m.id = x.member_id`, { head: h.head.id });
      const subtree = new Set((await h.bank.branches.subtree(branch)).map((s) => s.id));
      const mine = rows.filter((r: any) => subtree.has(String(r.branch_id)));
      for (const m of months) {
        const inMonth = mine.filter((r: any) => formatDate(r.month).slice(0, 7) === m.month);
        expect(m.activeMembers, `${branch.code} ${m.month} active`).toBe(new Set(inMonth.map((r: any) => r.member_id)).size);
        for (const s of m.assets) {
          const sum = (rs: any[]) => rs.reduce((t, r) => t.plus(r.amount), new Decimal(0));
          const of = inMonth.filter((r: any) => r.asset_code === s.asset);
          const upTo = mine.filter((r: any) => r.asset_code === s.asset && formatDate(r.month).slice(0, 7) <= m.month);
          expect(s, `${branch.code} ${m.month} ${s.asset}`).toEqual({
            asset: s.asset,
            issued: sum(of.filter((r: any) => r.kind === 'EARN')).toFixed(2),
            deducted: sum(of.filter((r: any) => r.kind === 'DEDUCT')).negated().toFixed(2),
            redeemed: sum(of.filter((r: any) => r.kind === 'REDEEM')).negated().toFixed(2),
            reversed: sum(of.filter((r: any) => r.kind === 'REVERSAL')).toFixed(2),
            outstanding: sum(upTo).toFixed(2),
            activeMembers: new Set(of.map((r: any) => r.member_id)).size,
          });
        }
      }
      // Not all zeros: March issued hours, this month redeemed a voucher, February deducted a score.
      expect(months[2].assets.find((s: any) => s.asset === 'VOLUNTEER_HOURS').issued).not.toBe('0.00');
      expect(months.find((m: any) => m.month === monthOf(h.head.timeZone, new Date()).month).assets.find((s: any) => s.asset === 'POINTS').redeemed).toBe('5.00');
      expect(months[1].assets.find((s: any) => s.asset === 'PARTY_SCORE').deducted).toBe('5.00');
    }
  });

  it('is scoped like every report', async () => {
    expect(codes(await h.gql(adminB, monthsQuery, { b: a.code, p: { year } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.clientToken, monthsQuery, { b: a.code, p: { year } }))).toEqual(['FORBIDDEN']);
  });

  it('top rules of a period count awards and deductions not reversed, and the members who got them', async () => {
    const q = `query($b: String!, $p: ReportPeriod!) { topRules(branch: $b, period: $p) { code name category awards members } }`;
    const res = await h.gql(adminA, q, { b: a.code, p: { year } });
    expect(res.errors).toBeUndefined();
    // wang2's bin-duty was reversed; the negative list's deduction is a rule applied too.
    expect(res.data.topRules).toEqual([
      { code: 'garbage.sorted-drop', name: expect.any(String), category: 'garbage', awards: 2, members: 2 },
      { code: 'garbage.bin-duty', name: expect.any(String), category: 'garbage', awards: 1, members: 1 },
      { code: 'party.negative-list.absence', name: expect.any(String), category: 'party-negative', awards: 1, members: 1 },
      { code: 'volunteer.hour', name: expect.any(String), category: 'volunteer', awards: 1, members: 1 },
    ]);
    expect(codes(await h.gql(adminA, q, { b: a.code, p: { fromMonth: `${year - 1}-01`, toMonth: `${year}-12` } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(adminB, q, { b: a.code, p: { year } }))).toEqual(['FORBIDDEN']);
  });
});

describe('claims waiting', () => {
  it('totalCount counts every page of the filter, in scope', async () => {
    const rule = await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code } } }`, { i: {
      idempotencyKey: h.key(), code: 'console.claimed', name: 'Claimed', category: 'service', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }], requiresApproval: true } });
    expect(rule.errors).toBeUndefined();
    for (const who of [member.wang!, member.wang2!, member.li!]) {
      const res = await h.gql(h.adminToken, `mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }`,
        { i: { idempotencyKey: h.key(), memberId: who, rule: 'console.claimed', evidence: { text: 'helped' } } });
      expect(res.errors).toBeUndefined();
    }
    const q = `query($b: String) { claims(branch: $b, status: PENDING, first: 1) { totalCount edges { node { id } } } }`;
    const forA = await h.gql(adminA, q, {});
    expect(forA.data.claims.totalCount).toBe(2);
    expect(forA.data.claims.edges).toHaveLength(1);
    expect((await h.gql(adminB, q, {})).data.claims.totalCount).toBe(1);
    expect((await h.gql(h.adminToken, q, {})).data.claims.totalCount).toBe(3);
    expect((await h.gql(h.adminToken, q, { b: a1.code })).data.claims.totalCount).toBe(1);
    expect(codes(await h.gql(adminB, q, { b: a.code }))).toEqual(['FORBIDDEN']);
  });
});

function formatDate(value: Date | string): string {
  if (typeof value === 'string') return value;
  // pg returns a date column as a local-midnight Date.
  return `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`;
}
