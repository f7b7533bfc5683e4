// Signing in as a person would (issue 12, journey 5): an account locks after repeated wrong
// passwords and the page says so in Chinese, with until when; a disabled operator is signed out on
// its next step and told why, and cannot sign in again; signing out returns to the sign-in page and
// the token stops working.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, screenshot, useBrowser } from '../support/browser.js';

let h: Harness;
const password = 'Plum-blossom-2026';
const operators: Record<string, { id: string; username: string }> = {};

async function createAdmin(name: string, displayName: string): Promise<void> {
  const username = `${name}-${h.tag}`;
  const res = await h.gql(h.adminToken, `mutation($i: CreateOperatorInput!) { createOperator(input: $i) { operator { id } } }`,
    { i: { username, password, displayName, role: 'admin', branch: h.branches[0]!.code } });
  expect(res.errors).toBeUndefined();
  operators[name] = { id: res.data.createOperator.operator.id, username };
}

beforeAll(async () => {
  // scrypt at a test cost: the sign-in page does not change with the hash's cost.
  h = await startHarness({ env: { OPERATOR_PASSWORD_LOG_N: '12' } });
  await createAdmin('locky', '李锁定');
  await createAdmin('leaver', '王离任');
  await createAdmin('outgoing', '赵下班');
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

async function signIn(page: Page, username: string, secret: string): Promise<void> {
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(secret);
  await page.getByRole('button', { name: '登录', exact: true }).click();
}

describePages('signing in to the console', () => {
  const browser = useBrowser(() => h.url);
  // A refused sign-in answers 401 or 429, which Chromium logs as a failed resource: expected here.
  const refusals = [/status of 401/, /status of 429/];

  it('locks an account after five wrong passwords and says until when, in Chinese', async () => {
    const page = await browser.open('/console', { allow: refusals });
    await expectVisiblePage(page);
    for (let attempt = 1; attempt <= 4; attempt++) {
      await signIn(page, operators.locky!.username, `wrong-password-${attempt}`);
      await expectText(page.getByTestId('signin-error'), /用户名或密码错误；连续输错 5 次密码，账号将锁定 15 分钟/);
    }
    // The fifth wrong password locks the account, and the page says until when.
    await signIn(page, operators.locky!.username, 'wrong-password-5');
    await expectText(page.getByTestId('signin-error'), /已锁定/);
    // Then even the right password is refused until the lock ends.
    await page.getByLabel('密码').fill('');
    await signIn(page, operators.locky!.username, password);
    const text = await expectText(page.getByTestId('signin-error'), /已锁定/);
    expect(text).toMatch(/连续 5 次输错密码/);
    expect(text).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00/);
    expect(await page.getByRole('navigation', { name: '主菜单' }).count()).toBe(0);
    await expectVisiblePage(page, { allowErrorBanner: true });
    await screenshot(page, 'sign-in-locked');
    const row = await h.bank.knex('operators').where({ id: operators.locky!.id }).first('locked_until', 'failed_attempts');
    expect(row.locked_until.getTime()).toBeGreaterThan(Date.now());
  });

  it('signs a disabled operator out on its next step, and it cannot sign in again', async () => {
    const page = await browser.open('/console', { allow: refusals });
    await signIn(page, operators.leaver!.username, password);
    await expectText(page.getByRole('heading', { level: 1 }).first(), '首页概览');
    await expectText(page.locator('.topbar-user'), /王离任/);
    // The dashboard has finished asking for its figures: what happens next is the operator's step.
    await page.waitForLoadState('networkidle');
    const disabled = await h.gql(h.adminToken, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { disabled } }`,
      { i: { id: operators.leaver!.id } });
    expect(disabled.data?.disableOperator.disabled).toBe(true);
    // The very next thing the page asks of the API is refused, and the page returns to sign-in (the
    // page may already have asked for something in the background; then the link is gone already).
    await page.getByRole('link', { name: '待审核' }).click({ timeout: 3000 }).catch(() => undefined);
    await expectText(page.getByRole('status').filter({ hasText: '会话' }), '会话已结束，请重新登录');
    expect(await page.getByLabel('密码').isVisible()).toBe(true);
    await screenshot(page, 'sign-in-session-ended');
    await signIn(page, operators.leaver!.username, password);
    await expectText(page.getByTestId('signin-error'), /已停用/);
    await expectVisiblePage(page, { allowErrorBanner: true });
  });

  it('signs out to the sign-in page, and the token it had stops working', async () => {
    const page = await browser.open('/console', { allow: refusals });
    await signIn(page, operators.outgoing!.username, password);
    await expectText(page.getByRole('heading', { level: 1 }).first(), '首页概览');
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cb.session') ?? '{}').token as string);
    expect(token).toMatch(/^ey/);
    await page.getByRole('button', { name: '退出登录' }).click();
    await expectText(page.getByRole('status').filter({ hasText: '退出' }), '您已退出登录');
    expect(await page.evaluate(() => sessionStorage.getItem('cb.session'))).toBeNull();
    const res = await h.gql(token, '{ me { role } }');
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await expectVisiblePage(page);
  });
});
