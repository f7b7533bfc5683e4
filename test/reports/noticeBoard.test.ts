// The public notice board (公示栏): a lobby screen reads it without a token; it shows only branches
// whose admin switched it on (a parent's board never shows a branch below it that did not), people
// only by masked name with the month's figure, never an id, an external id or a full name; an
// unknown branch and one that has not opted in answer alike; answers are cached about a minute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import type { Branch } from '../../src/directory/branches.js';
import { maskName, monthOf, noticeBoard, noticeBoardCacheTtlMs } from '../../src/reports/noticeBoard.js';
import type { Bank } from '../../src/bank.js';

let h: Harness;
let a: Branch, b: Branch, c: Branch, a1: Branch;
const ids: Record<string, string> = {};
const externalIds: Record<string, string> = {};
const fullNames = { volunteerA: '王小明', volunteerB: '李四', sorterA: '张三丰', hiddenC: '赵六六', hiddenA1: '孙七七', idleA: '周八八', idleB: '吴九九', idleB2: '郑十十' };
let poolA = '', poolC = '';
let merchantA = '', merchantC = '';

const boardQuery = `query($b: String!) { noticeBoard(branch: $b) {
  code name month from to timeZone generatedAt
  pools { title target raised status branchName deadline }
  volunteers { rank name branchName amount }
  sorters { rank name branchName amount }
  participation { ranked best { rank name members activeMembers activePercent } weakest { rank name members activeMembers activePercent } }
  merchants { rank name branchName pointsRedeemed residentsServed redemptions } } }`;

const setBoard = (token: string, branch: string, enabled: boolean) =>
  h.gql(token, `mutation($i: SetNoticeBoardInput!) { setNoticeBoard(input: $i) { code noticeBoard } }`, { i: { branch, enabled } });

async function award(memberId: string, rule: string, quantity = '1') {
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId, rule, quantity } });
  expect(res.errors, `award ${rule}`).toBeUndefined();
}

/** A voucher of the member at the merchant, fulfilled now. */
async function fulfilledVoucher(memberId: string, merchantId: string, code: string) {
  const merchantToken = h.token({ role: 'merchant', sub: `${h.tag}-m-${merchantId}`, merchant: merchantId });
  const item = await h.gql(merchantToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
    { i: { idempotencyKey: h.key(), code, title: 'Soap', category: 'daily-goods', cost: '5.00', visibleTo: h.head.code } });
  expect(item.errors).toBeUndefined();
  const memberToken = h.token({ role: 'member', sub: `${h.tag}-member-${memberId}`, member: memberId });
  const redeemed = await h.gql(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
    { i: { idempotencyKey: h.key(), item: item.data.upsertCatalogItem.item.id } });
  expect(redeemed.errors).toBeUndefined();
  const fulfilled = await h.gql(merchantToken, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`,
    { i: { idempotencyKey: h.key(), code: redeemed.data.redeem.redemption.code } });
  expect(fulfilled.errors).toBeUndefined();
}

async function openPool(branch: Branch, title: string) {
  const res = await h.gql(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
    { i: { idempotencyKey: h.key(), branch: branch.code, title, beneficiary: '某某家 a household', target: '500.00' } });
  expect(res.errors).toBeUndefined();
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 8 });
  [a, b, c] = h.branches as [Branch, Branch, Branch];
  const created = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { code } } }`,
    { input: { idempotencyKey: h.key(), parent: a.code, code: `${h.tag}-a1`, name: 'Grid A1' } });
  expect(created.errors).toBeUndefined();
  a1 = await h.bank.branches.require(`${h.tag}-a1`);
  const homes: Record<keyof typeof fullNames, Branch> = {
    volunteerA: a, volunteerB: b, sorterA: a, hiddenC: c, hiddenA1: a1, idleA: a, idleB: b, idleB2: b,
  };
  for (const [label, name] of Object.entries(fullNames) as [keyof typeof fullNames, string][]) {
    externalIds[label] = `${h.tag}-ext-${label}`;
    ids[label] = await h.addMember(externalIds[label]!, homes[label], { volunteer: true });
    await h.bank.knex('members').where({ head_id: h.head.id, id: ids[label] }).update({ name });
  }
  await award(ids.volunteerA!, 'volunteer.hour', '5');
  await award(ids.volunteerB!, 'volunteer.hour', '2');
  await award(ids.sorterA!, 'garbage.bin-duty', '2');
  await award(ids.sorterA!, 'garbage.sorted-drop');
  // The branches that did not opt in are the most active of all: they must still never show.
  await award(ids.hiddenC!, 'volunteer.hour', '8');
  await award(ids.hiddenC!, 'garbage.bin-duty', '2');
  await award(ids.hiddenA1!, 'volunteer.hour', '9');
  await award(ids.hiddenA1!, 'garbage.bin-duty', '2');
  poolA = `${h.tag} 东村路灯 Street lights`;
  poolC = `${h.tag} hidden pool of C`;
  await openPool(a, poolA);
  await openPool(c, poolC);
  merchantA = `${h.tag} 爱心超市 grocery A`;
  merchantC = `${h.tag} hidden barber C`;
  await fulfilledVoucher(ids.volunteerA!, await h.addMerchant(merchantA, a), 'soap-a');
  await fulfilledVoucher(ids.hiddenC!, await h.addMerchant(merchantC, c), 'soap-c');
  for (const branch of [h.head, a, b]) expect((await setBoard(h.adminToken, branch.code, true)).errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

/** Every string anywhere in a JSON value (an ID is a string on the wire; ranks and counts are numbers). */
function leaves(value: unknown): string[] {
  if (value !== null && typeof value === 'object') return Object.values(value as object).flatMap(leaves);
  return typeof value === 'string' ? [value] : [];
}

describe('the notice board', () => {
  it('answers a lobby screen without a token, with the month in the bank time zone', async () => {
    const res = await h.gql(null, boardQuery, { b: h.head.code });
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    const board = res.data.noticeBoard;
    expect(board).toMatchObject({ code: h.head.code, name: h.head.name, month: monthOf(h.head.timeZone, new Date()).month, timeZone: h.head.timeZone });
    expect(board.pools).toEqual([{ title: poolA, target: '500.00', raised: '0.00', status: 'OPEN', branchName: a.name, deadline: null }]);
    expect(board.volunteers).toEqual([
      { rank: 1, name: '王*明', branchName: a.name, amount: '5.00' },
      { rank: 2, name: '李*', branchName: b.name, amount: '2.00' },
    ]);
    // bin-duty 2 × 5.00 and a sorted drop 1.00: the sorting category's points this month.
    expect(board.sorters).toEqual([{ rank: 1, name: '张*丰', branchName: a.name, amount: '11.00' }]);
    expect(board.merchants).toEqual([{ rank: 1, name: merchantA, branchName: a.name, pointsRedeemed: '5.00', residentsServed: 1, redemptions: 1 }]);
  });

  it('ranks the opted-in branches below by the share of members who earned this month (红黑榜)', async () => {
    const { participation } = (await h.gql(null, boardQuery, { b: h.head.code })).data.noticeBoard;
    // A: 王小明 and 张三丰 of 3 (孙七七 is in grid A1, which did not opt in); B: 李四 of 3; C did not opt in.
    expect(participation).toEqual({
      ranked: 2,
      best: [{ rank: 1, name: a.name, members: 3, activeMembers: 2, activePercent: '66.7' }],
      weakest: [{ rank: 2, name: b.name, members: 3, activeMembers: 1, activePercent: '33.3' }],
    });
  });

  it('shows masked names only: no external id, no member id, no full name anywhere in the answer', async () => {
    for (const branch of [h.head, a, b]) {
      const res = await h.gql(null, boardQuery, { b: branch.code });
      const json = JSON.stringify(res.data);
      for (const externalId of Object.values(externalIds)) expect(json).not.toContain(externalId);
      for (const name of Object.values(fullNames)) expect(json).not.toContain(name);
      const values = leaves(res.data);
      expect(values.length).toBeGreaterThan(5);
      for (const id of Object.values(ids)) expect(values).not.toContain(id);
      expect(json).not.toMatch(/"id"|externalId|balance/i);
    }
  });

  it('never shows a member, pool or merchant of a branch that did not opt in, on a parent board either', async () => {
    for (const branch of [h.head, a]) {
      const json = JSON.stringify((await h.gql(null, boardQuery, { b: branch.code })).data);
      for (const hidden of [maskName(fullNames.hiddenC), maskName(fullNames.hiddenA1), poolC, merchantC, c.name, a1.name]) expect(json).not.toContain(hidden);
    }
  });

  it('answers an unknown branch and a branch that did not opt in alike: null', async () => {
    const unknown = await h.gql(null, boardQuery, { b: `${h.tag}-nowhere` });
    const notOptedIn = await h.gql(null, boardQuery, { b: c.code });
    const grid = await h.gql(null, boardQuery, { b: a1.code });
    expect(unknown).toEqual({ status: 200, data: { noticeBoard: null }, errors: undefined });
    expect(notOptedIn).toEqual(unknown);
    expect(grid).toEqual(unknown);
    // Text that cannot be a branch code is refused, and says why.
    expect(codes(await h.gql(null, boardQuery, { b: `${'x'.repeat(65)}` }))).toEqual(['BAD_USER_INPUT']);
  });

  it('a token is not needed but an anonymous request may read nothing else beside it', async () => {
    const res = await h.gql(null, `query($b: String!) { noticeBoard(branch: $b) { name } me { sub } }`, { b: h.head.code });
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  });

  it('switching a branch off hides it at once on its own board and its parent board, and on again shows it', async () => {
    try {
      expect((await setBoard(h.adminToken, a.code, false)).data.setNoticeBoard).toEqual({ code: a.code, noticeBoard: false });
      expect((await h.gql(null, boardQuery, { b: a.code })).data.noticeBoard).toBeNull();
      const head = (await h.gql(null, boardQuery, { b: h.head.code })).data.noticeBoard;
      expect(head.volunteers).toEqual([{ rank: 1, name: '李*', branchName: b.name, amount: '2.00' }]);
      expect(head.sorters).toEqual([]);
      expect(head.pools).toEqual([]);
      expect(head.merchants).toEqual([]);
      expect(head.participation).toEqual({ ranked: 1, best: [{ rank: 1, name: b.name, members: 3, activeMembers: 1, activePercent: '33.3' }], weakest: [] });
    } finally {
      expect((await setBoard(h.adminToken, a.code, true)).data.setNoticeBoard).toEqual({ code: a.code, noticeBoard: true });
    }
    expect((await h.gql(null, boardQuery, { b: a.code })).data.noticeBoard.volunteers[0].name).toBe('王*明');
  });

  it('reuses an answer for about a minute, then reads again (a switch made by another process shows within the TTL)', async () => {
    let now = Date.now();
    const clocked: Bank = { ...h.bank, clock: () => new Date(now) };
    const first = await noticeBoard(clocked, b.code);
    expect(first?.volunteers.map((v) => v.name)).toEqual(['李*']);
    // Another process switches B off: this one does not know until its answer expires.
    await h.bank.knex('branches').where({ id: b.id }).update({ notice_board: false });
    try {
      now += noticeBoardCacheTtlMs - 1_000;
      expect(await noticeBoard(clocked, b.code)).toBe(first);
      now += 2_000;
      expect(await noticeBoard(clocked, b.code)).toBeNull();
    } finally {
      await h.bank.knex('branches').where({ id: b.id }).update({ notice_board: true });
    }
  });

  it('volunteers\' figures equal the month\'s VOLUNTEER_HOURS postings', async () => {
    const { volunteers } = (await h.gql(null, boardQuery, { b: b.code })).data.noticeBoard;
    const { rows: [row] } = await h.bank.knex.raw(`
      SELECT sum(p.amount)::numeric(20,2)::text AS hours FROM postings p
        JOIN accounts ac ON ac.head_id = p.head_id AND ac.id = p.account_id
        JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
       WHERE p.head_id = ? AND ac.owner_type = 'MEMBER' AND ac.owner_id = ? AND p.asset_code = 'VOLUNTEER_HOURS' AND t.status = 'POSTED'
         AND t.occurred_at >= date_trunc('month', now() AT TIME ZONE ?) AT TIME ZONE ?`, [h.head.id, ids.volunteerB!, h.head.timeZone, h.head.timeZone]);
    expect(volunteers).toEqual([{ rank: 1, name: '李*', branchName: b.name, amount: row.hours }]);
  });
});

describe('switching the board', () => {
  it('is for admins of the branch or above; Branch.noticeBoard tells the state', async () => {
    const adminB = h.token({ role: 'admin', sub: `${h.tag}-admin-b`, branch: b.code });
    const adminA = h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: a.code });
    expect(codes(await setBoard(adminB, a.code, false))).toEqual(['FORBIDDEN']);
    expect(codes(await setBoard(h.clientToken, a.code, false))).toEqual(['FORBIDDEN']);
    expect(codes(await setBoard(adminA, h.head.code, false))).toEqual(['FORBIDDEN']);
    expect(codes(await setBoard(adminA, `${h.tag}-nowhere`, true))).toEqual(['NOT_FOUND']);
    // Its own subtree: the grid switches on and off again, and nothing else changed.
    expect((await setBoard(adminA, a1.code, true)).data.setNoticeBoard).toEqual({ code: a1.code, noticeBoard: true });
    expect((await setBoard(adminA, a1.code, false)).data.setNoticeBoard).toEqual({ code: a1.code, noticeBoard: false });
    const tree = await h.gql(h.adminToken, `query($b: String!) { branch(code: $b) { noticeBoard children { code noticeBoard } } }`, { b: h.head.code });
    expect(tree.data.branch).toEqual({ noticeBoard: true, children: [
      { code: a.code, noticeBoard: true }, { code: b.code, noticeBoard: true }, { code: c.code, noticeBoard: false }] });
  });
});

describe('maskName', () => {
  it('keeps the first and last character and hides the middle', () => {
    expect(maskName('王小明')).toBe('王*明');
    expect(maskName('欧阳娜娜')).toBe('欧*娜');
    expect(maskName('王明')).toBe('王*');
    expect(maskName('王')).toBe('*');
    expect(maskName('  Alice Smith ')).toBe('A*h');
    expect(maskName('𠀋𠀌𠀍')).toBe('𠀋*𠀍');
  });
});
