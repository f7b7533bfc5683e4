// The merchant counter (商户核销台) in a real browser on a phone-sized screen: the shop assistant
// fulfils a voucher typed in lower case with a dash, a second try shows "already fulfilled" in a
// way that does not look like success, another shop's voucher is refused, and today's list, the
// refund, the catalog's restock / edit / pause and the lazily loaded camera scanner all work.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, requestsOf, screenshot, useBrowser } from '../support/browser.js';

let h: Harness;
let shop: string;
let otherShop: string;
let memberToken: string;
let itemId: string;
let otherItemId: string;

const upsertItem = `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`;
const redeem = `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`;

function merchantToken(merchant: string): string {
  return h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` });
}

async function addItem(merchant: string, title: string, cost: string, stock: number): Promise<string> {
  const res = await h.gql(merchantToken(merchant), upsertItem, {
    i: { idempotencyKey: h.key(), code: `i-${h.key().slice(-8)}`, title, category: 'daily-goods', cost, stock, visibleTo: h.head.code },
  });
  expect(res.errors).toBeUndefined();
  return res.data.upsertCatalogItem.item.id;
}

async function voucherFor(item: string): Promise<string> {
  const res = await h.gql(memberToken, redeem, { i: { idempotencyKey: h.key(), item } });
  expect(res.errors).toBeUndefined();
  return res.data.redeem.redemption.code;
}

/** A signed-in counter session as the sign-in page stores it (until operators' signIn is merged). */
function counterSession(merchant: string, name: string): Record<string, string> {
  return {
    'cb.session': JSON.stringify({
      token: merchantToken(merchant), expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      operator: { id: '1', username: 'clerk', displayName: '小王', role: 'merchant', branch: { code: h.branches[0]!.code, name: h.branches[0]!.name }, merchant: { id: merchant, name } },
    }),
  };
}

const clerk = { username: '', password: 'counter-pass-4417' };

beforeAll(async () => {
  h = await startHarness();
  shop = await h.addMerchant('张记便利店');
  clerk.username = `clerk-${h.tag}`;
  const created = await h.gql(h.adminToken, `mutation($i: CreateOperatorInput!) { createOperator(input: $i) { operator { id } } }`,
    { i: { username: clerk.username, password: clerk.password, displayName: '店员小王', role: 'merchant', merchant: shop } });
  expect(created.errors).toBeUndefined();
  otherShop = await h.addMerchant('李家理发店', h.branches[1]);
  const member = await h.addMember(`m-${h.tag}`);
  await h.fund(member, '200.00');
  memberToken = h.token({ role: 'member', member, sub: `member-${member}` });
  itemId = await addItem(shop, '洗衣液 2kg', '15.00', 5);
  otherItemId = await addItem(otherShop, '理发一次', '30.00', 3);
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

async function lookUp(page: Page, typed: string): Promise<void> {
  const input = page.getByLabel('兑换券码');
  await input.fill(typed);
  await page.getByTestId('lookup').tap();
}

async function backgroundOf(page: Page, testId: string): Promise<string> {
  return page.getByTestId(testId).evaluate((el) => getComputedStyle(el).backgroundColor);
}

describePages('the merchant counter on a phone', () => {
  const browser = useBrowser(() => h.url);

  it('signs the shop assistant in, fulfils a voucher typed in lower case with a dash, then shows the second try as already fulfilled, not as success', async () => {
    const code = await voucherFor(itemId);
    const typed = `${code.slice(0, 5)}-${code.slice(5)}`.toLowerCase();
    const page = await browser.open('/counter', { device: 'phone' });
    await expectVisiblePage(page);
    await screenshot(page, 'counter-phone-sign-in');
    await page.getByLabel('用户名').fill(clerk.username);
    await page.getByLabel('密码').fill(clerk.password);
    await page.getByRole('button', { name: '登录' }).tap();
    await expectText(page.getByTestId('shop-name'), '张记便利店');
    await screenshot(page, 'counter-phone-enter');

    await lookUp(page, typed);
    await expectText(page.getByTestId('voucher'), '洗衣液 2kg');
    await expectText(page.getByTestId('voucher'), '15.00 积分');
    await screenshot(page, 'counter-phone-voucher');
    // A double tap posts once: the button is disabled while the first tap runs, and the key is shared.
    await page.getByTestId('fulfil').dblclick();
    const outcome = page.getByTestId('outcome');
    await expectText(outcome, '核销成功');
    expect(await outcome.getAttribute('data-outcome')).toBe('success');
    expect(await outcome.getAttribute('class')).toContain('outcome-success');
    const green = await backgroundOf(page, 'outcome');
    expect(green).toBe('rgb(35, 120, 4)');
    await expectVisiblePage(page);
    await screenshot(page, 'counter-phone-success');
    expect(await h.transactionCount({ kind: 'REDEEM', status: 'POSTED' })).toBe(1);

    await page.getByRole('button', { name: '核销下一张' }).tap();
    await lookUp(page, typed);
    await expectText(outcome, '核销过');
    const fulfilledAt = (await h.gql(merchantToken(shop), `query($c: String!) { redemption(code: $c) { fulfilledAt } }`, { c: code })).data.redemption.fulfilledAt;
    const hhmm = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(fulfilledAt));
    expect(await page.getByTestId('outcome-title').innerText()).toBe(`已于 ${hhmm} 核销过`);
    expect(await page.getByTestId('outcome-reason').innerText()).toContain('请勿再次发放商品');
    expect(await outcome.getAttribute('data-outcome')).toBe('already');
    expect(await outcome.getAttribute('class')).not.toContain('outcome-success');
    const amber = await backgroundOf(page, 'outcome');
    expect(amber).not.toBe(green);
    expect(amber).toBe('rgb(173, 78, 0)');
    expect(await page.getByText('核销成功').count()).toBe(0);
    await screenshot(page, 'counter-phone-already-fulfilled');
    expect(await h.transactionCount({ kind: 'REDEEM', status: 'POSTED' })).toBe(1);
  });

  it("refuses another shop's voucher, and says when a code does not exist or is mistyped", async () => {
    const foreign = await voucherFor(otherItemId);
    const page = await browser.open('/counter', { device: 'phone', sessionStorage: counterSession(shop, '张记便利店') });
    await expectVisiblePage(page);
    await lookUp(page, foreign);
    const outcome = page.getByTestId('outcome');
    // Another shop's voucher reads like no voucher at all (the API names nothing outside the shop's
    // scope), and the page says where such a voucher is fulfilled.
    await expectText(outcome, '本店没有这张兑换券');
    await expectText(page.getByTestId('outcome-reason'), '若是其他商户的兑换券，请顾客到发券商户核销');
    expect(await outcome.getAttribute('data-outcome')).toBe('notFound');
    expect(await outcome.getAttribute('class')).not.toMatch(/outcome-success/);
    expect(await backgroundOf(page, 'outcome')).not.toBe('rgb(35, 120, 4)');
    await expectVisiblePage(page, { allowErrorBanner: true });
    await screenshot(page, 'counter-phone-other-shop');
    const read = await h.gql(h.adminToken, `query($c: String!) { redemption(code: $c) { status } }`, { c: foreign });
    expect(read.data.redemption.status).toBe('PENDING');

    await page.getByRole('button', { name: '核销下一张' }).tap();
    await lookUp(page, 'ABCDE-FGHJK');
    await expectText(outcome, '本店没有这张兑换券');
    await screenshot(page, 'counter-phone-not-found');
    await page.getByRole('button', { name: '核销下一张' }).tap();
    await lookUp(page, 'abc');
    // The API's own words about the format, under the field; nothing else changes.
    await expectText(page.getByTestId('code-error'), '不是兑换券码');
    await screenshot(page, 'counter-phone-bad-code');
  });

  it("lists today's fulfilments and refunds one after a confirmation step", async () => {
    const code = await voucherFor(itemId);
    const fulfilled = await h.gql(merchantToken(shop), `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code } });
    expect(fulfilled.errors).toBeUndefined();
    const page = await browser.open('/counter#/today', { device: 'phone', sessionStorage: counterSession(shop, '张记便利店') });
    await expectVisiblePage(page);
    const list = page.getByTestId('today-list');
    await expectText(list, `${code.slice(0, 5)}-${code.slice(5)}`);
    await expectText(page.getByTestId('today-summary'), '30.00');
    await screenshot(page, 'counter-phone-today');
    await list.locator('li', { hasText: `${code.slice(0, 5)}-${code.slice(5)}` }).getByRole('button', { name: /退款/ }).tap();
    await expectText(page.getByTestId('refund'), '确认退款');
    await screenshot(page, 'counter-phone-refund-confirm');
    await page.getByLabel('退款原因（选填）').fill('顾客退货');
    await page.getByTestId('refund-confirm').tap();
    await expectText(page.getByTestId('outcome'), '15.00 积分已退回会员');
    expect(await page.getByTestId('outcome').getAttribute('data-outcome')).toBe('refunded');
    await screenshot(page, 'counter-phone-refunded');
    const read = await h.gql(merchantToken(shop), `query($c: String!) { redemption(code: $c) { status restocked } }`, { c: code });
    expect(read.data.redemption).toEqual({ status: 'REFUNDED', restocked: true });
    await page.getByRole('button', { name: '返回今日核销' }).tap();
    await expectText(list.locator('li', { hasText: `${code.slice(0, 5)}-${code.slice(5)}` }), '已退款');
    await expectText(page.getByTestId('today-summary'), '15.00');
  });

  it('adds stock, changes the title and price, and pauses an item of the catalog', async () => {
    const page = await browser.open('/counter#/catalog', { device: 'phone', sessionStorage: counterSession(shop, '张记便利店') });
    await expectVisiblePage(page);
    const list = page.getByTestId('catalog-list');
    await expectText(list, '洗衣液 2kg');
    await screenshot(page, 'counter-phone-catalog');
    await list.getByRole('button', { name: /洗衣液 2kg/ }).tap();
    const before = Number(await page.getByTestId('item-stock').innerText());
    await screenshot(page, 'counter-phone-item');

    await page.getByRole('button', { name: '补货' }).tap();
    await page.getByLabel('补货数量（件）').fill('3');
    await page.getByRole('button', { name: '保存' }).tap();
    await expectText(page.getByTestId('item-notice'), '已补货 3 件');
    expect(Number(await page.getByTestId('item-stock').innerText())).toBe(before + 3);

    await page.getByRole('button', { name: '修改名称或积分' }).tap();
    await page.getByLabel('商品名称').fill('洗衣液 3kg');
    await page.getByLabel('所需积分').fill('18.50');
    await screenshot(page, 'counter-phone-item-edit');
    await page.getByRole('button', { name: '保存' }).tap();
    await expectText(page.getByTestId('item-notice'), '已保存');
    await expectText(page.locator('.item-detail'), '18.50 积分');

    await page.getByRole('button', { name: '暂停兑换' }).tap();
    await screenshot(page, 'counter-phone-item-pause');
    await page.getByRole('button', { name: '确认暂停' }).tap();
    await expectText(page.getByTestId('item-notice'), '已暂停兑换');
    await screenshot(page, 'counter-phone-item-paused');
    const row = await h.bank.knex('catalog_items').where({ head_id: h.head.id, id: itemId }).first('title', 'cost', 'stock_left', 'active_to');
    expect(row.title).toBe('洗衣液 3kg');
    expect(String(row.cost)).toBe('18.50');
    expect(row.stock_left).toBe(before + 3);
    expect(row.active_to).not.toBeNull();
    // Members no longer see it; the counter still does, marked paused.
    const offered = await h.gql(memberToken, `{ catalog { edges { node { id } } } }`);
    expect(offered.data.catalog.edges.map((e: any) => e.node.id)).not.toContain(itemId);
    await page.getByRole('button', { name: /本店商品/ }).tap();
    await expectText(list.getByRole('button', { name: /洗衣液 3kg/ }), '已暂停');
  });

  it('loads the QR decoder only when the camera opens, and shows the camera view', async () => {
    const page = await browser.open('/counter', { device: 'phone', sessionStorage: counterSession(shop, '张记便利店') });
    await expectVisiblePage(page);
    const chunks = () => requestsOf(page).filter((url) => /\/assets\/chunk-/.test(url));
    const before = chunks();
    // A camera without a camera: a canvas stream stands in for the phone's back camera.
    await page.evaluate(() => {
      navigator.mediaDevices.getUserMedia = async () => {
        const canvas = document.createElement('canvas');
        canvas.width = 320;
        canvas.height = 240;
        const context = canvas.getContext('2d')!;
        setInterval(() => { context.fillStyle = '#888'; context.fillRect(0, 0, 320, 240); }, 50);
        return canvas.captureStream(10);
      };
    });
    await page.getByTestId('scan').tap();
    await expectText(page.getByTestId('scanner'), '将二维码放入框内');
    const after = chunks();
    expect(after.length).toBeGreaterThan(before.length);
    await screenshot(page, 'counter-phone-scanner');
    await page.getByRole('button', { name: '改为手动输入' }).tap();
    await expect(page.getByLabel('兑换券码').isVisible()).resolves.toBe(true);
  });

  it('shows the English text on the language switch', async () => {
    const page = await browser.open('/counter', { device: 'phone', sessionStorage: counterSession(shop, '张记便利店') });
    await expectVisiblePage(page);
    await page.getByRole('button', { name: '语言' }).tap();
    await expectText(page.locator('.enter'), 'Look up voucher');
    await screenshot(page, 'counter-phone-enter-en');
  });
});
