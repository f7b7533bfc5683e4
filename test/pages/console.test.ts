// The branch console (issue 12 §2) in a real browser: what a branch secretary sees and does. An
// admin approves a claim (a double click posts once) and the member's page shows the new balance; a
// sibling branch's admin sees neither the claim nor the member; every page renders real data in
// zh-CN (the dashboard's chart drawn, the party-score CSV downloaded and read, a rule version made,
// a pool disbursed and one closed), one in English; screenshots of each page, desktop and phone.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, screenshot, useBrowser, type OpenOptions } from '../support/browser.js';

let h: Harness;
const claimRule = 'deed.reported';
const secretaryPassword = 'Lotus-pond-2026';
const ids: Record<string, string> = {};

async function api<T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await h.gql<T>(token, query, variables);
  expect(res.errors, query.slice(0, 80)).toBeUndefined();
  return res.data as T;
}

/** A branch admin's token and the console session built on it (what signIn would store). */
function adminSession(branch: { code: string; name: string }, displayName: string): Record<string, string> {
  const token = h.token({ role: 'admin', sub: `admin-${branch.code}`, branch: branch.code });
  const session = {
    token, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    operator: { id: `op-${branch.code}`, username: `admin-${branch.code}`, displayName, role: 'admin', branch: { code: branch.code, name: branch.name }, merchant: null },
  };
  return { 'cb.session': JSON.stringify(session) };
}

async function upsertMember(externalId: string, name: string, branch: string, party = false): Promise<string> {
  const data = await api(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
    { i: { idempotencyKey: h.key(), externalId, name, branch, isPartyMember: party, isVolunteer: true } });
  return data.upsertMember.member.id;
}

async function submitClaim(memberId: string, text: string, links: string[]): Promise<string> {
  const data = await api(h.clientToken, `mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }`,
    { i: { idempotencyKey: h.key(), memberId, rule: claimRule, quantity: '2', evidence: { text, links } } });
  return data.submitClaim.claim.id;
}

beforeAll(async () => {
  h = await startHarness();
  const [a, b] = h.branches;
  await api(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`, {
    i: { idempotencyKey: h.key(), code: claimRule, name: '好人好事申报 Reported good deed', category: 'deeds', requiresApproval: true,
      outputs: [{ asset: 'POINTS', amountPerUnit: '5.00' }], caps: [{ window: 'DAY', maxCount: '10' }] },
  });
  ids.wang = await upsertMember(`${h.tag}-wang`, '王小明', a!.code, true);
  ids.zhao = await upsertMember(`${h.tag}-zhao`, '赵红梅', a!.code, true);
  ids.li = await upsertMember(`${h.tag}-li`, '李四海', b!.code, true);
  await h.fund(ids.wang, '20.00');
  await h.fund(ids.zhao, '40.00');
  for (const [member, times] of [[ids.wang, 2], [ids.zhao, 1], [ids.li, 1]] as const) {
    for (let i = 0; i < times; i++) {
      await api(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
        { i: { idempotencyKey: h.key(), memberId: member, rule: 'party.class-attendance' } });
    }
  }
  await api(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId: ids.zhao, rule: 'garbage.bin-duty' } });
  ids.claimWang = await submitClaim(ids.wang, '周六清理了3号楼楼道堆放的杂物', ['https://example.org/photos/stairs.jpg', 'http://example.org/sign-in-sheet.pdf']);
  ids.claimZhao = await submitClaim(ids.zhao, '陪同独居老人就医', []);
  ids.claimLi = await submitClaim(ids.li, '李四海在B网点的申报', []);
  ids.merchant = await h.addMerchant('爱心理发店', a!);
  await api(h.adminToken, `mutation($i: CreateOperatorInput!) { createOperator(input: $i) { operator { id } } }`,
    { i: { idempotencyKey: h.key(), username: `${h.tag}-secretary`, password: secretaryPassword, displayName: '张书记', role: 'admin', branch: a!.code } });
  await api(h.adminToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
    { i: { idempotencyKey: h.key(), merchant: ids.merchant, code: 'haircut', title: '理发一次', category: 'haircut', cost: '10.00', stock: 20 } });
  const pool = async (title: string, target: string) => (await api(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
    { i: { idempotencyKey: h.key(), branch: a!.code, title, beneficiary: '张奶奶', target } })).createPool.pool.id as string;
  ids.funded = await pool('张奶奶的助行器', '10.00');
  ids.open = await pool('社区图书角', '100.00');
  for (const [poolId, amount] of [[ids.funded, '10.00'], [ids.open, '5.00']] as const) {
    await api(h.token({ role: 'member', member: ids.zhao, branch: a!.code }), `mutation($i: DonateInput!) { donate(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), pool: poolId, amount } });
  }
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

describePages('the branch console', () => {
  const browser = useBrowser(() => h.url);
  const open = (hash: string, session: Record<string, string>, options: OpenOptions = {}) => browser.open(`/console${hash}`, { sessionStorage: session, ...options });
  const secretaryA = () => adminSession(h.branches[0]!, '张书记');
  const secretaryB = () => adminSession(h.branches[1]!, '刘书记');
  const main = (page: Page) => page.locator('main#main');

  test('an admin signs in, approves a claim with a double click, it posts once, and the member\'s page shows the new balance', async () => {
    const page = await browser.open('/console');
    await page.getByLabel('用户名').fill(`${h.tag}-secretary`);
    await page.getByLabel('密码').fill(secretaryPassword);
    await screenshot(page, 'console-sign-in');
    await page.getByRole('button', { name: '登录' }).click();
    await expectText(page.locator('header.topbar'), '张书记');
    await page.getByRole('link', { name: '待审核' }).click();
    const row = page.locator(`[data-claim-id="${ids.claimWang}"]`);
    await expectText(row, '王小明');
    await expectText(row, '周六清理了3号楼楼道堆放的杂物');
    // Evidence links are plain http(s) anchors that do not hand the console to the opened page.
    const link = row.getByRole('link', { name: 'https://example.org/photos/stairs.jpg' });
    expect(await link.getAttribute('rel')).toContain('noopener');
    expect(await link.getAttribute('target')).toBe('_blank');
    await expectVisiblePage(page);
    await screenshot(page, 'console-claims');
    const before = await h.transactionCount({ kind: 'EARN', member_id: ids.wang });
    await row.getByRole('button', { name: '通过' }).dblclick();
    await expectText(page.getByTestId('claim-decided'), '已通过 王小明 的申报');
    await expect.poll(() => row.count()).toBe(0);
    expect(await h.transactionCount({ kind: 'EARN', member_id: ids.wang })).toBe(before + 1);
    await page.locator('[data-claim-id] a', { hasText: '赵红梅' }).waitFor();

    await page.goto(`${h.url}/console#/members/${ids.wang}`);
    // 20.00 funded + 2 × 5.00 for the approved claim.
    await expectText(page.getByTestId('balance-POINTS'), '30.00');
    await expectText(page.getByTestId('movements'), '10.00');
    await expectVisiblePage(page);
    await screenshot(page, 'console-member');
  });

  test('an admin rejects a claim only with a reason, and the row leaves the queue', async () => {
    const page = await open('#/claims', secretaryA());
    const row = page.locator(`[data-claim-id="${ids.claimZhao}"]`);
    await row.getByRole('button', { name: '驳回' }).click();
    await expectText(row, '驳回理由为必填项');
    await row.getByLabel('驳回理由').fill('材料不足，请补充就医凭证');
    await row.getByRole('button', { name: '驳回' }).click();
    await expectText(page.getByTestId('claim-decided'), '已驳回 赵红梅 的申报');
    await expect.poll(() => row.count()).toBe(0);
    const claim = await api(h.adminToken, `query($id: ID!) { claim(id: $id) { status reason } }`, { id: ids.claimZhao });
    expect(claim.claim).toEqual({ status: 'REJECTED', reason: '材料不足，请补充就医凭证' });
  });

  test('a sibling branch\'s admin sees neither the claim nor the member', async () => {
    const page = await open('#/claims', secretaryB());
    await expectText(main(page), '李四海');
    expect(await main(page).innerText()).not.toContain('王小明');
    expect(await page.locator(`[data-claim-id="${ids.claimWang}"]`).count()).toBe(0);
    await page.goto(`${h.url}/console#/members`);
    await page.getByLabel('姓名或外部编号').fill('王小明');
    await page.getByRole('button', { name: '搜索' }).click();
    await expectText(main(page), '暂无数据');
    await page.getByLabel('姓名或外部编号').fill(`${h.tag}-wang`);
    await page.getByRole('button', { name: '搜索' }).click();
    await expectText(main(page), '暂无数据');
    await expectVisiblePage(page);
    // The branch selector offers only its own subtree: nothing of branch A to pick.
    expect(await page.locator('#branch option').allInnerTexts()).toEqual([h.branches[1]!.name]);
  });

  test('the dashboard draws the year by month, with active members, top rules and claims waiting', async () => {
    const page = await open('', secretaryA());
    await expectText(page.getByTestId('active-members'), /^[1-9]/);
    await expectText(page.getByTestId('top-rules'), 'party.class-attendance');
    const canvas = page.getByTestId('dashboard-chart');
    await canvas.waitFor();
    // Drawn: the canvas has painted pixels (bars, lines, axes), not just an empty element.
    await expect.poll(() => canvas.evaluate((el: HTMLCanvasElement) => {
      const data = el.getContext('2d')!.getImageData(0, 0, el.width, el.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
      return painted;
    }), { timeout: 10_000 }).toBeGreaterThan(1000);
    await expectVisiblePage(page);
    await screenshot(page, 'console-dashboard');
  });

  test('members: search by name, register a resident and move one to another branch', async () => {
    // Moving between sibling branches takes an admin whose scope holds both: the head bank's.
    const page = await open('#/members', adminSession(h.head, '镇管理员'));
    await page.getByLabel('姓名或外部编号').fill('小明');
    await page.getByRole('button', { name: '搜索' }).click();
    await expectText(page.getByTestId('members-table'), '王小明');
    await screenshot(page, 'console-members');
    await page.getByRole('button', { name: '登记储户' }).click();
    const form = page.getByTestId('member-form');
    await form.getByRole('button', { name: '登记' }).click();
    await expectText(form, '外部编号为必填项');
    await form.getByLabel('外部编号').fill(`${h.tag}-sun`);
    await form.getByLabel('姓名').fill('孙大伟');
    await form.getByRole('button', { name: '登记' }).dblclick();
    await expectText(page.getByTestId('member-saved'), '已登记储户 孙大伟');
    await page.getByTestId('member-saved').getByRole('link').click();
    await page.getByRole('button', { name: '修改 / 迁移' }).click();
    await page.getByTestId('member-form').getByLabel('所属网点').selectOption(h.branches[2]!.code);
    await page.getByTestId('member-form').getByRole('button', { name: '保存' }).click();
    await expectText(page.getByTestId('member-branch'), h.branches[2]!.name);
    await expectVisiblePage(page);
    const member = await api(h.adminToken, `query($e: String!) { member(externalId: $e) { name branch { code } } }`, { e: `${h.tag}-sun` });
    expect(member.member).toEqual({ name: '孙大伟', branch: { code: h.branches[2]!.code } });
  });

  test('party scores: the ranking with categories, the CSV downloaded, the year closed', async () => {
    const page = await open('#/scores', secretaryA());
    const table = page.getByTestId('scores-table');
    await expectText(table, '王小明');
    const first = await table.locator('tbody tr').first().innerText();
    expect(first).toContain('王小明');
    expect(first).toContain('4.00');
    expect(await table.innerText()).not.toContain('李四海');
    // categories show by name, not by their code (party → 党建活动)
    expect(await table.locator('thead').innerText()).toContain('党建活动');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    const lines = csv.slice(1).trim().split('\r\n');
    expect(lines[0]).toContain('total');
    expect(lines.find((l) => l.includes('王小明'))).toContain('4.00');
    expect(csv).not.toContain('李四海');
    await expectVisiblePage(page);
    await screenshot(page, 'console-party-scores');
    await page.getByTestId('close-year').dblclick();
    await expectText(page.getByTestId('year-done'), '年度已关闭');
    await page.getByTestId('closed-note').waitFor();
    const closures = await api(h.adminToken, `query($b: String!) { scoreYearClosures(branch: $b) { year reopenedAt } }`, { b: h.branches[0]!.code });
    expect(closures.scoreYearClosures).toHaveLength(1);
  });

  test('rules: the list, a rule\'s history and a new version with its caps', async () => {
    const page = await open('#/rules', secretaryA());
    await expectText(page.getByTestId('rules-table'), 'garbage.bin-duty');
    await screenshot(page, 'console-rules');
    await page.getByRole('link', { name: /桶前值守/ }).click();
    await expectText(page.getByTestId('rule-history'), 'v1');
    await page.getByRole('button', { name: '发布新版本' }).click();
    const form = page.getByTestId('rule-form');
    await form.getByLabel('每次分值').fill('abc');
    await form.getByTestId('define-rule').click();
    await expectText(form, '请输入大于 0 的数');
    await form.getByLabel('每次分值').fill('6.00');
    await form.locator('#f-cap-WEEK-count').fill('8');
    await form.getByTestId('define-rule').dblclick();
    // A branch's own version of a head-bank rule: version 1 at Branch A, beside the head bank's.
    await expectText(page.getByTestId('rule-defined'), '已保存细则 garbage.bin-duty');
    await expect.poll(() => page.getByTestId('rule-history').locator('tbody tr').count()).toBe(2);
    await expectText(page.getByTestId('rule-history').locator('tbody tr').first(), h.branches[0]!.name);
    await expectVisiblePage(page);
    await screenshot(page, 'console-rule-history');
    const rules = await api(h.token({ role: 'admin', branch: h.branches[0]!.code }), `{ rules(code: "garbage.bin-duty", history: true) { version branch { code } outputs { amountPerUnit } caps { window maxCount } } }`);
    const v2 = rules.rules.find((r: any) => r.branch.code === h.branches[0]!.code);
    expect(v2.outputs[0].amountPerUnit).toBe('6.00');
    expect(v2.caps).toEqual(expect.arrayContaining([{ window: 'WEEK', maxCount: '8' }, { window: 'DAY', maxCount: '2' }]));
  });

  test('merchants and their catalog; pools: one disbursed to a merchant, one closed with its donations returned', async () => {
    const page = await open('#/merchants', secretaryA());
    await expectText(page.getByTestId('merchants-table'), '爱心理发店');
    await expectText(page.getByTestId('merchants-table'), '理发一次');
    await screenshot(page, 'console-merchants');
    await page.getByRole('link', { name: '爱心理发店' }).click();
    await expectText(page.getByTestId('catalog-table'), '理发一次');
    await expectVisiblePage(page);
    await screenshot(page, 'console-merchant-catalog');

    await page.goto(`${h.url}/console#/pools`);
    const funded = page.locator(`[data-pool-id="${ids.funded}"]`);
    await expectText(funded, '已筹满');
    await screenshot(page, 'console-pools');
    await funded.getByTestId('disburse').click();
    await funded.getByLabel('服务内容').fill('购买助行器一台');
    await funded.getByTestId('confirm-pool').dblclick();
    await expectText(page.getByTestId('pool-done'), '已拨付');
    await expectText(funded, '已拨付');
    const open_ = page.locator(`[data-pool-id="${ids.open}"]`);
    await open_.getByTestId('close-pool').click();
    await open_.getByTestId('confirm-pool').click();
    await expectText(open_, '关闭原因为必填项');
    await open_.getByLabel('关闭原因').fill('项目取消');
    await open_.getByTestId('confirm-pool').click();
    await expectText(page.getByTestId('pool-done'), '退回 1 笔捐赠');
    await expectVisiblePage(page);
    const pools = await api(h.adminToken, `{ pools(first: 10) { edges { node { id status } } } }`);
    const status = Object.fromEntries(pools.pools.edges.map((e: any) => [e.node.id, e.node.status]));
    expect(status[ids.funded!]).toBe('DISBURSED');
    expect(status[ids.open!]).toBe('CLOSED');
  });

  test('notice board settings: switch a branch\'s public board on, with its link', async () => {
    const page = await open('#/board', secretaryA());
    const row = page.locator(`[data-testid="board-row"][data-branch="${h.branches[0]!.code}"]`);
    await expectText(row, '未开启');
    await row.getByRole('switch').click();
    await expect.poll(() => row.getByRole('switch').getAttribute('aria-checked')).toBe('true');
    await expectText(row, '已开启');
    expect(await row.getByRole('link', { name: '打开公示栏' }).getAttribute('href')).toBe(`/board/${h.branches[0]!.code}`);
    await expectVisiblePage(page);
    await screenshot(page, 'console-notice-board');
    const data = await api(h.adminToken, `query($c: String!) { branch(code: $c) { noticeBoard } }`, { c: h.branches[0]!.code });
    expect(data.branch.noticeBoard).toBe(true);
  });

  test('operators: create a shop assistant, reset a password, disable and enable', async () => {
    const page = await open('#/operators', secretaryA());
    await expectText(page.getByTestId('operators-table'), '张书记');
    await page.getByRole('button', { name: '新建操作员' }).click();
    const form = page.getByTestId('operator-form');
    await form.getByLabel('用户名').fill(`${h.tag}-barber`);
    await form.getByLabel('姓名').fill('理发店小陈');
    await form.getByLabel('初始密码').fill('short');
    await form.getByLabel('角色').selectOption('merchant');
    await form.getByLabel('所属商户').selectOption({ label: '爱心理发店' });
    await form.getByRole('button', { name: '创建' }).click();
    await expectText(form, '密码长度须为');
    await form.getByLabel('初始密码').fill('Scissors-and-comb-9');
    await form.getByRole('button', { name: '创建' }).dblclick();
    await expectText(page.getByTestId('operator-done'), '已创建操作员 理发店小陈');
    const row = page.locator(`[data-testid="operator-row"][data-username="${h.tag}-barber"]`);
    await expectText(row, '爱心理发店');
    await screenshot(page, 'console-operators');
    await row.getByRole('button', { name: '重置密码' }).click();
    await row.getByLabel('新密码').fill('Brand-new-comb-77');
    await row.getByRole('button', { name: '保存' }).click();
    await expectText(page.getByTestId('operator-done'), '已重置 理发店小陈 的密码');
    await row.getByRole('button', { name: '停用' }).click();
    await expectText(row, '已停用');
    const refused = await h.gql(null, `mutation($i: SignInInput!) { signIn(input: $i) { token } }`, { i: { username: `${h.tag}-barber`, password: 'Brand-new-comb-77' } });
    expect(refused.errors?.[0]?.extensions?.code).toBeDefined();
    await row.getByRole('button', { name: '启用' }).click();
    await expectText(row, '正常');
    const signedIn = await h.gql(null, `mutation($i: SignInInput!) { signIn(input: $i) { operator { role merchant { name } } } }`, { i: { username: `${h.tag}-barber`, password: 'Brand-new-comb-77' } });
    expect(signedIn.data?.signIn.operator).toEqual({ role: 'merchant', merchant: { name: '爱心理发店' } });
    await expectVisiblePage(page);
  });

  test('the console switches to English, and fits a phone', async () => {
    const page = await open('#/scores', secretaryA());
    await expectText(page.getByTestId('scores-table'), '王小明');
    await page.getByRole('button', { name: '语言' }).click();
    await expectText(page.locator('nav.sidemenu'), 'Claims');
    await expectText(main(page), 'Party scores');
    await expectText(page.getByTestId('scores-table'), 'Rank');
    await expectVisiblePage(page);
    await screenshot(page, 'console-party-scores-en');

    const phone = await open('', secretaryA(), { device: 'phone' });
    await phone.getByTestId('dashboard-chart').waitFor();
    await expectText(phone.getByTestId('claims-waiting'), /\d/);
    // Nothing wider than the screen: no sideways scrolling of the whole page.
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await expectVisiblePage(phone);
    await screenshot(phone, 'console-dashboard-phone');
  });
});
