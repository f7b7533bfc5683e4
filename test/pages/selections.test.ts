// The console's selections page (评选公示) in a real browser, in zh-CN: a branch secretary opens a
// selection, nominates (a missing reason is shown inline, a member outside the branch is refused in
// Chinese), publishes the shortlist, sees that a member's objection holds it, upholds it with a
// reason, and after the period the page shows the winners paid and the history. Screenshots.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, screenshot, useBrowser } from '../support/browser.js';
import { awardDueSelections } from '../../src/selections/awarding.js';

let h: Harness;
const ids: Record<string, string> = {};
let now = new Date('2026-11-10T02:00:00Z');

async function api<T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await h.gql<T>(token, query, variables);
  expect(res.errors, query.slice(0, 80)).toBeUndefined();
  return res.data as T;
}

function adminSession(branch: { code: string; name: string }): Record<string, string> {
  const token = h.token({ role: 'admin', sub: `admin-${branch.code}`, branch: branch.code });
  const session = {
    token, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    operator: { id: `op-${branch.code}`, username: `admin-${branch.code}`, displayName: '张书记', role: 'admin', branch: { code: branch.code, name: branch.name }, merchant: null },
  };
  return { 'cb.session': JSON.stringify(session) };
}

beforeAll(async () => {
  h = await startHarness();
  h.bank.clock = () => now;
  await api(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`, {
    i: { idempotencyKey: h.key(), code: 'selection.courtyard', name: '最美庭院', category: 'selection', outputs: [{ asset: 'POINTS', amountPerUnit: '50.00' }] },
  });
  for (const [key, name, branch] of [['wang', '王小明', 0], ['zhao', '赵红梅', 0], ['objector', '钱多多', 0], ['li', '李四海', 1]] as const) {
    const data = await api(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { i: { idempotencyKey: h.key(), externalId: `${h.tag}-${key}`, name, branch: h.branches[branch]!.code } });
    ids[key] = data.upsertMember.member.id;
  }
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

describePages('the selections page', () => {
  const browser = useBrowser(() => h.url);

  test('open, nominate, publish, uphold an objection, and see the winners paid and the history', async () => {
    const page = await browser.open('/console#/selections', { sessionStorage: adminSession(h.branches[0]!) });
    const main = page.locator('main#main');
    await page.getByLabel('评选名称').fill('最美庭院 2026年11月');
    await page.getByLabel('名额').fill('2');
    await page.getByTestId('open-selection').click();
    await expectText(page.getByTestId('selection-summary'), '已提名 0 / 名额 2');
    ids.selection = page.url().split('/').at(-1)!;

    await page.getByLabel('外部编号（储户或家庭户）').fill(`${h.tag}-wang`);
    await page.getByTestId('nominate').click();
    await expectText(main, '推荐理由为必填项');
    await page.getByLabel('推荐理由').fill('房前屋后干净整洁');
    await page.getByLabel('佐证链接').fill('https://example.org/yard.jpg');
    await page.getByTestId('nominate').click();
    await expectText(page.getByTestId('candidates-table'), '王小明');
    await page.getByLabel('外部编号（储户或家庭户）').fill(`${h.tag}-li`);
    await page.getByLabel('推荐理由').fill('热心公益');
    await page.getByTestId('nominate').click();
    await expectText(main, `不属于评选 ${ids.selection} 的网点`);
    await page.getByLabel('外部编号（储户或家庭户）').fill(`${h.tag}-zhao`);
    await page.getByTestId('nominate').click();
    await expectText(page.getByTestId('candidates-table'), '赵红梅');
    await page.getByTestId('publish').dblclick();
    await expectText(page.getByTestId('selection-summary'), '公示至');
    await screenshot(page, 'console-selection-published');

    // a member of the branch objects to 赵红梅; the page shows that the objection holds the selection
    const selection = await api(h.adminToken, `query($id: ID!) { selection(id: $id) { candidates { id member { id } } } }`, { id: ids.selection });
    const zhao = selection.selection.candidates.find((c: any) => c.member.id === ids.zhao).id;
    now = new Date('2026-11-11T02:00:00Z');
    await api(h.token({ role: 'member', member: ids.objector, sub: 'member-objector' }), `mutation($i: FileObjectionInput!) { fileObjection(input: $i) { objection { id } } }`,
      { i: { idempotencyKey: h.key(), selection: ids.selection, candidate: zhao, reason: '院内堆放杂物' } });
    await page.reload();
    await expectText(page.getByTestId('selection-summary'), '有异议尚未处理');
    const objection = page.getByTestId('objection');
    await expectText(objection, '院内堆放杂物');
    await objection.getByTestId('uphold').click();
    await expectText(objection, '处理意见为必填项');
    await objection.getByLabel('处理意见').fill('经核实属实');
    await objection.getByTestId('uphold').click();
    await expectText(objection, '经核实属实');
    await expectText(page.getByTestId('candidates-table'), '已取消资格');
    await expectVisiblePage(page);
    await screenshot(page, 'console-selection-objection');

    // the shortlist on the public notice board, without a token: masked names, the struck candidate gone
    await api(h.adminToken, `mutation($i: SetNoticeBoardInput!) { setNoticeBoard(input: $i) { code } }`, { i: { branch: h.branches[0]!.code, enabled: true } });
    const board = await browser.open(`/board/${h.branches[0]!.code}`);
    const shortlist = board.getByTestId('board-selections');
    await expectText(shortlist, '评选公示');
    await expectText(shortlist, '最美庭院 2026年11月');
    await expectText(shortlist, '王*明');
    const shown = await shortlist.innerText();
    expect(shown).not.toContain('王小明');
    expect(shown).not.toContain('赵*梅');
    await screenshot(board, 'board-selections');

    // the period ends (15 November 00:00 in Shanghai): the round pays 王小明 once
    expect(await awardDueSelections(h.bank, new Date('2026-11-14T16:00:00Z'), {}, h.head.id)).toMatchObject({ awarded: 1 });
    await page.reload();
    await expectText(page.locator('.page-header'), '已发放');
    await expectText(page.getByTestId('history-table'), '积分已发放');
    await expectText(page.getByTestId('history-table'), '异议成立');
    expect(await h.walletBalance(ids.wang!)).toBe('50.00');
    expect(await h.walletBalance(ids.zhao!)).toBe('0.00');
    await expectVisiblePage(page);
    await screenshot(page, 'console-selection-awarded');

    await page.goto(`${h.url}/console#/selections`);
    await expectText(page.getByTestId('selections-table'), '最美庭院 2026年11月');
    await expectText(page.getByTestId('selections-table'), '已发放');
    await screenshot(page, 'console-selections');
  });
});
