// The console's Households page (户) in a real browser, as a village secretary uses it: the households
// of the branch with their head, members and points; this month's household leaderboard; registering
// a household with its members in the form; and a household's page with its members (户主, 成年/未成年),
// wallet, statement and the party member looking after it (包户). Desktop and phone screenshots.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, screenshot, useBrowser } from '../support/browser.js';

let h: Harness;
const rule = 'garbage.household-page';
const ext = (name: string) => `${h.tag}-${name}`;

function adminSession(): Record<string, string> {
  const branch = h.head;
  const token = h.token({ role: 'admin', sub: `admin-${branch.code}`, branch: branch.code });
  return { 'cb.session': JSON.stringify({
    token, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    operator: { id: `op-${branch.code}`, username: `admin-${branch.code}`, displayName: '王书记', role: 'admin', branch: { code: branch.code, name: branch.name }, merchant: null },
  }) };
}

async function api(token: string, query: string, variables: Record<string, unknown>) {
  const res = await h.gql(token, query, variables);
  expect(res.errors).toBeUndefined();
  return res.data;
}

async function member(name: string, externalId: string, party = false): Promise<string> {
  const id = await h.addMember(externalId, h.branches[0]!, { party });
  await h.bank.knex('members').where({ head_id: h.head.id, id }).update({ name });
  return id;
}

async function household(externalId: string, name: string, members: { externalId: string; adult: boolean }[], head: string) {
  await api(h.adminToken, `mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { household { id } } }`,
    { i: { idempotencyKey: h.key(), externalId, branch: h.branches[0]!.code, name, head, members } });
}

beforeAll(async () => {
  h = await startHarness();
  await api(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code } } }`, { i: {
    idempotencyKey: h.key(), branch: h.head.code, code: rule, name: '户分类', category: 'garbage', beneficiary: 'HOUSEHOLD',
    outputs: [{ asset: 'POINTS', amountPerUnit: '2.00', direction: 'CREDIT' }] } });
  const wang = await member('王建国', ext('wang1'));
  await member('王小明', ext('wang2'));
  const li = await member('李秀英', ext('li1'));
  await member('张红', ext('zhang1'));
  await member('赵党员', ext('party1'), true);
  await member('陈成', ext('chen1'));
  await household(ext('hh-wang'), '王家', [{ externalId: ext('wang1'), adult: true }, { externalId: ext('wang2'), adult: false }], ext('wang1'));
  await household(ext('hh-li'), '李家', [{ externalId: ext('li1'), adult: true }, { externalId: ext('zhang1'), adult: true }], ext('li1'));
  for (const [memberId, quantity] of [[wang, '3'], [li, '2']] as const) {
    await api(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId, rule, quantity, memo: '垃圾分类入桶' } });
  }
  await api(h.adminToken, `mutation($i: PartyMemberHouseholdsInput!) { linkPartyMemberHouseholds(input: $i) { links { linkedAt } } }`,
    { i: { member: ext('party1'), households: [ext('hh-wang')] } });
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

describePages('the Households page', () => {
  const browser = useBrowser(() => h.url);

  test('a secretary finds the households, their leaderboard, registers one, and opens a household', async () => {
    const page = await browser.open('/console#/households', { sessionStorage: adminSession() });
    const menuItem = page.getByRole('navigation', { name: '主菜单' }).getByRole('link', { name: '户', exact: true });
    await expect.poll(() => menuItem.getAttribute('aria-current')).toBe('page');
    await expectText(page.getByRole('heading', { level: 1 }), '户');
    const table = page.getByTestId('households-table');
    await expectText(table, '王家');
    await expectText(table, '王建国');
    await expectText(table, '2 人（成年 1）');
    await expectText(table, '6.00');
    const board = page.getByTestId('household-leaderboard');
    await expectText(board, /1\s+王家\s+6\.00/);
    await expectText(board, /2\s+李家\s+4\.00/);
    await expectVisiblePage(page);
    await screenshot(page, 'console-households');

    // Register a household with the form: a minor as head is refused inline, then saved.
    await page.getByRole('button', { name: '登记户' }).click();
    const form = page.getByTestId('household-form');
    await form.getByLabel('户编号').fill(ext('hh-chen'));
    await form.getByLabel('户名').fill('陈家');
    await form.getByLabel('第 1 位成员的外部编号').fill(ext('chen1'));
    await form.getByLabel('成年').first().uncheck();
    await form.getByRole('button', { name: '保存' }).click();
    await expectText(form, '户主须为成年成员');
    await form.getByLabel('成年').first().check();
    await form.getByRole('button', { name: '保存' }).click();
    await expectText(page.getByTestId('household-saved'), '已登记 陈家');
    await expectText(table, '陈家');

    // Search a page of households by name.
    await page.getByLabel('户名或户编号').fill('李');
    await page.getByRole('button', { name: '搜索' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    await expectText(table, '李家');

    await table.getByRole('link', { name: '李家' }).click();
    await expectText(page.getByRole('heading', { level: 1 }), '李家');
    await page.goto(`${h.url}/console#/households/${encodeURIComponent(ext('hh-wang'))}`);
    await expectText(page.getByRole('heading', { level: 1 }), '王家');
    const members = page.getByTestId('household-members');
    await expectText(members.locator('tr', { hasText: '王建国' }), '户主');
    await expectText(members.locator('tr', { hasText: '王建国' }), '成年');
    await expectText(members.locator('tr', { hasText: '王小明' }), '未成年');
    await expectText(page.getByTestId('household-balance-POINTS'), '6.00');
    await expectText(page.getByTestId('household-party-members'), '赵党员');
    await expectText(page.getByTestId('household-movements'), '垃圾分类入桶');
    await expectVisiblePage(page);
    await screenshot(page, 'console-household');
  });

  test('on a phone the household list and a household read without sideways scrolling of the page', async () => {
    const page = await browser.open(`/console#/households/${encodeURIComponent(ext('hh-wang'))}`, { sessionStorage: adminSession(), device: 'phone' });
    await expectText(page.getByRole('heading', { level: 1 }), '王家');
    await expectText(page.getByTestId('household-members'), '王小明');
    await expectVisiblePage(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await screenshot(page, 'console-household-phone');
    await page.goto(`${h.url}/console#/households`);
    await expectText(page.getByTestId('households-table'), '王家');
    await screenshot(page, 'console-households-phone');
  });
});
