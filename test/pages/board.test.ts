// The public notice board (公示栏) in a real browser, without signing in: it shows pools' progress,
// the month's volunteers and sorters by masked name only (no full name, no external id anywhere on
// the page), the participation ranking and the merchants' honour board; a branch that did not opt
// in (or does not exist) shows "not published" and nothing of it; the kiosk mode is large, refreshes
// by itself (?refresh=5 makes the test quick) and keeps the last good figures when a refresh fails.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import type { Branch } from '../../src/directory/branches.js';
import { allowProblems, describePages, expectText, expectVisiblePage, screenshot, useBrowser } from '../support/browser.js';

let h: Harness;
let a: Branch, b: Branch, c: Branch;
const fullNames = { volunteerA: '王小明', volunteerB: '李大四', sorterA: '张三丰', hiddenC: '赵六六', idleB: '吴九九' };
const externalIds: Record<string, string> = {};
let poolA = '';
let poolC = '';
let merchantA = '';
let merchantC = '';

async function award(memberId: string, rule: string, quantity = '1') {
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId, rule, quantity } });
  expect(res.errors, `award ${rule}`).toBeUndefined();
}

async function fulfilledVoucher(memberId: string, merchantId: string, code: string) {
  const merchantToken = h.token({ role: 'merchant', sub: `${h.tag}-m-${merchantId}`, merchant: merchantId });
  const item = await h.gql(merchantToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
    { i: { idempotencyKey: h.key(), code, title: '肥皂', category: 'daily-goods', cost: '5.00', visibleTo: h.head.code } });
  expect(item.errors).toBeUndefined();
  const memberToken = h.token({ role: 'member', sub: `${h.tag}-member-${memberId}`, member: memberId });
  const redeemed = await h.gql(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
    { i: { idempotencyKey: h.key(), item: item.data.upsertCatalogItem.item.id } });
  expect(redeemed.errors).toBeUndefined();
  const fulfilled = await h.gql(merchantToken, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`,
    { i: { idempotencyKey: h.key(), code: redeemed.data.redeem.redemption.code } });
  expect(fulfilled.errors).toBeUndefined();
}

async function openPool(branch: Branch, title: string, target: string) {
  const res = await h.gql(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
    { i: { idempotencyKey: h.key(), branch: branch.code, title, beneficiary: '困难家庭', target } });
  expect(res.errors).toBeUndefined();
  return res.data.createPool.pool.id as string;
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 8 });
  [a, b, c] = h.branches as [Branch, Branch, Branch];
  const ids: Record<string, string> = {};
  const homes: Record<keyof typeof fullNames, Branch> = { volunteerA: a, volunteerB: b, sorterA: a, hiddenC: c, idleB: b };
  for (const [label, name] of Object.entries(fullNames) as [keyof typeof fullNames, string][]) {
    externalIds[label] = `${h.tag}-ext-${label}`;
    ids[label] = await h.addMember(externalIds[label]!, homes[label], { volunteer: true });
    await h.bank.knex('members').where({ head_id: h.head.id, id: ids[label] }).update({ name });
  }
  await award(ids.volunteerA!, 'volunteer.hour', '5');
  await award(ids.volunteerB!, 'volunteer.hour', '2');
  await award(ids.sorterA!, 'garbage.bin-duty', '2');
  await award(ids.sorterA!, 'garbage.sorted-drop');
  // The branch that did not opt in is the most active of all: it must still never show.
  await award(ids.hiddenC!, 'volunteer.hour', '9');
  await award(ids.hiddenC!, 'garbage.bin-duty', '2');
  poolA = '东村路灯众筹';
  poolC = '丙村隐藏众筹';
  const pool = await openPool(a, poolA, '500.00');
  await openPool(c, poolC, '300.00');
  const donor = h.token({ role: 'member', member: ids.volunteerA!, sub: `${h.tag}-member-${ids.volunteerA}` });
  const donated = await h.gql(donor, `mutation($i: DonateInput!) { donate(input: $i) { transactionId } }`, { i: { idempotencyKey: h.key(), pool, amount: '4.50' } });
  expect(donated.errors).toBeUndefined();
  merchantA = '爱心超市';
  merchantC = '丙村理发店';
  await fulfilledVoucher(ids.volunteerA!, await h.addMerchant(merchantA, a), 'soap-a');
  await fulfilledVoucher(ids.hiddenC!, await h.addMerchant(merchantC, c), 'soap-c');
  for (const branch of [h.head, a, b]) {
    const res = await h.gql(h.adminToken, `mutation($i: SetNoticeBoardInput!) { setNoticeBoard(input: $i) { noticeBoard } }`, { i: { branch: branch.code, enabled: true } });
    expect(res.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

/** Everything the page holds as text: what shows, and the markup (attributes included). */
async function everything(page: Page): Promise<string> {
  return `${await page.locator('body').innerText()}\n${await page.content()}`;
}

function expectNothingPrivate(text: string) {
  for (const name of Object.values(fullNames)) expect(text, `full name ${name}`).not.toContain(name);
  for (const id of Object.values(externalIds)) expect(text, `external id ${id}`).not.toContain(id);
  expect(text).not.toContain(h.tag + '-ext');
}

describePages('the public notice board', () => {
  const browser = useBrowser(() => h.url);

  it('shows pools, masked volunteers and sorters, the 红黑榜 and the honour board, and no full name or external id', async () => {
    const page = await browser.open(`/board/${h.head.code}`);
    await expectVisiblePage(page);
    await expectText(page.getByTestId('board-volunteers'), '王*明');
    await expectText(page.getByTestId('board-volunteers'), '李*四');
    await expectText(page.getByTestId('board-volunteers'), '5.00');
    await expectText(page.getByTestId('board-sorters'), '张*丰');
    await expectText(page.getByTestId('board-pools'), poolA);
    await expectText(page.getByTestId('board-pools'), '已筹 4.50 / 目标 500.00 积分');
    expect(await page.getByTestId('board-pools').locator('progress').getAttribute('value')).toBe('9');
    await expectText(page.getByTestId('board-merchants'), merchantA);
    await expectText(page.getByTestId('board-best'), 'Branch A');
    await expectText(page.getByTestId('board-weakest'), 'Branch B');
    await expectText(page.locator('h1'), h.head.name);
    const text = await everything(page);
    expectNothingPrivate(text);
    // Branch C did not opt in: none of its people, pools or merchants, even on its parent's board.
    for (const hidden of [poolC, merchantC, '赵*六', 'Branch C']) expect(text).not.toContain(hidden);
    await screenshot(page, 'board-desktop');
  });

  it('says "not published" for a branch that did not opt in and for an unknown code, and shows nothing of them', async () => {
    const page = await browser.open(`/board/${c.code}`);
    await expectVisiblePage(page);
    await expectText(page.getByTestId('board-unpublished'), '该公示栏未公开');
    const text = await everything(page);
    for (const hidden of [poolC, merchantC, '赵*六', 'Branch C']) expect(text).not.toContain(hidden);
    expectNothingPrivate(text);
    await screenshot(page, 'board-not-published');

    const unknown = await browser.open('/board/no-such-branch');
    await expectVisiblePage(unknown);
    await expectText(unknown.getByTestId('board-unpublished'), '该公示栏未公开');
  });

  it('asks for a branch code at /board and opens that board', async () => {
    const page = await browser.open('/board');
    await expectVisiblePage(page);
    await screenshot(page, 'board-choose');
    await page.getByLabel('分行代码').fill(a.code);
    await page.getByRole('button', { name: '查看公示栏' }).click();
    await page.waitForURL(`**/board/${a.code}`);
    await expectText(page.locator('h1'), 'Branch A');
    await expectText(page.getByTestId('board-volunteers'), '王*明');
    await expectVisiblePage(page);
  });

  it('reads in English on the switch', async () => {
    const page = await browser.open(`/board/${h.head.code}`);
    await expectVisiblePage(page);
    await page.getByRole('button', { name: '语言' }).click();
    await expectText(page.getByTestId('board-merchants'), "Merchants' honour board");
    await screenshot(page, 'board-desktop-en');
  });

  it('in kiosk mode is large, has no controls, refreshes by itself and keeps the last figures when a refresh fails', async () => {
    const page = await browser.open(`/board/${h.head.code}?kiosk=1&refresh=5`, { context: { viewport: { width: 1920, height: 1080 } } });
    await expectVisiblePage(page);
    await expectText(page.getByTestId('board-volunteers'), '王*明');
    const fontPx = Number.parseFloat(await page.getByTestId('board').evaluate((el) => getComputedStyle(el).fontSize));
    expect(fontPx).toBeGreaterThanOrEqual(24);
    expect(await page.getByRole('button').count()).toBe(0);
    const updated = page.getByTestId('board-updated');
    const first = await updated.getAttribute('data-loaded-at');
    await screenshot(page, 'board-kiosk');
    await page.waitForFunction((before) => document.querySelector('[data-testid="board-updated"]')?.getAttribute('data-loaded-at') !== before, first, { timeout: 15_000 });

    // The network drops: the board stays, and says from when its figures are.
    allowProblems(page, /\/graphql/, /Failed to load resource/);
    await page.route('**/graphql', (route) => route.abort('failed'));
    await expectText(page.getByTestId('board-stale'), '刷新失败', 15_000);
    await expectText(page.getByTestId('board-volunteers'), '王*明');
    await expectText(page.getByTestId('board-pools'), poolA);
    await screenshot(page, 'board-kiosk-stale');
    await page.unroute('**/graphql');
    await page.waitForFunction(() => !document.querySelector('[data-testid="board-stale"]'), undefined, { timeout: 15_000 });
  });
});
