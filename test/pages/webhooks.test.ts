// The console's Webhooks page (事件推送) in a real browser, as a branch secretary uses it: a private
// address is refused with the API's message; a receiver's URL is subscribed to one event type and the
// secret is shown once; the deliveries show a dead letter with its HTTP 500 attempts beside a
// delivered event, and "send again" queues it; pause, rotate the secret and delete do what they say.
// The receiver verifies every request with standardwebhooks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, expectVisiblePage, screenshot, useBrowser } from '../support/browser.js';
import { startWebhookWorker } from '../../src/webhooks/worker.js';

let h: Harness;
let receiver: http.Server;
let url: string;
let stopWorker: () => Promise<void>;
let secret = '';
const received: { seq: number; status: number; verified: boolean }[] = [];

function adminSession(): Record<string, string> {
  const branch = h.head;
  const token = h.token({ role: 'admin', sub: `admin-${branch.code}`, branch: branch.code });
  return { 'cb.session': JSON.stringify({
    token, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    operator: { id: `op-${branch.code}`, username: `admin-${branch.code}`, displayName: '王书记', role: 'admin', branch: { code: branch.code, name: branch.name }, merchant: null },
  }) };
}

async function appendEvents(count: number): Promise<number[]> {
  return h.bank.knex.transaction(async (trx) => {
    await trx.raw('LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE');
    const { rows } = await trx.raw('SELECT coalesce(max(seq), 0)::int AS last FROM events WHERE head_id = ?', [h.head.id]);
    const seqs = Array.from({ length: count }, (_, i) => rows[0].last + 1 + i);
    for (const seq of seqs) {
      await trx('events').insert({ head_id: h.head.id, seq, type: 'member.created', branch_path: h.branches[0]!.path, occurred_at: new Date(), data: JSON.stringify({ id: String(seq) }) });
    }
    return seqs;
  });
}

beforeAll(async () => {
  h = await startHarness({ env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
  let doomed: number | null = null;
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try { new Webhook(secret).verify(body, req.headers as Record<string, string>); verified = true; } catch { /* counted */ }
      const seq = Number(JSON.parse(body).seq);
      doomed ??= seq;
      const status = seq === doomed ? 500 : 200;
      received.push({ seq, status, verified });
      res.writeHead(status).end(status === 500 ? 'database down' : 'ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  stopWorker = startWebhookWorker(h.bank, () => undefined, { retryScheduleMs: [100, 200], intervalMs: 50, attemptTimeoutMs: 3000, ageMaxMs: 60_000 });
});

afterAll(async () => {
  await stopWorker?.();
  await new Promise((r) => receiver?.close(r));
  expect(received.every((r) => r.verified)).toBe(true);
  await h?.checkInvariants();
  await h?.close();
});

describePages('the Webhooks page', () => {
  const browser = useBrowser(() => h.url);

  test('a secretary subscribes a receiver, sees a dead letter and a delivery, sends it again, pauses, rotates and deletes', async () => {
    const page: Page = await browser.open('/console#/webhooks', { sessionStorage: adminSession() });
    const menuItem = page.getByRole('navigation', { name: '主菜单' }).getByRole('link', { name: '事件推送' });
    await expect.poll(() => menuItem.getAttribute('aria-current')).toBe('page');
    await expectText(page.getByRole('heading', { level: 1 }), '事件推送');
    await page.getByRole('button', { name: '新建推送' }).click();
    const form = page.getByTestId('webhook-form');
    await form.getByLabel('推送地址').fill('http://10.0.0.7/hooks');
    await form.getByRole('button', { name: '创建' }).click();
    await expectText(form, '10.0.0.7');
    await form.getByLabel('推送地址').fill(url);
    await form.getByLabel(/新增储户/).check();
    await form.getByRole('button', { name: '创建' }).click();
    await expectText(page.getByTestId('webhook-done'), `已创建推送地址 ${url}`);
    secret = (await expectText(page.getByTestId('webhook-secret'), /whsec_[A-Za-z0-9+/=]{44}/)).match(/whsec_[A-Za-z0-9+/=]{44}/)![0];
    const row = page.locator(`[data-testid="webhook-row"][data-url="${url}"]`);
    await expectText(row, '推送中');
    await expectText(row, '新增储户');
    await expectVisiblePage(page);

    const [first, second] = await appendEvents(2);
    await expect.poll(() => received.filter((r) => r.seq === second && r.status === 200).length, { timeout: 15_000 }).toBe(1);
    await row.getByRole('button', { name: '推送明细' }).click();
    const deliveries = page.getByTestId('webhook-deliveries');
    const dead = deliveries.locator('[data-testid="delivery-row"][data-status="DEAD"]');
    await expectText(dead, '死信');
    await expectText(dead, 'HTTP 500');
    await expectText(dead, 'database down');
    await expectText(deliveries.locator('[data-testid="delivery-row"][data-status="DELIVERED"]'), 'HTTP 200');
    expect(received.filter((r) => r.seq === first).map((r) => r.status)).toEqual([500, 500, 500]);
    await screenshot(page, 'console-webhooks');
    await dead.getByRole('button', { name: '重新推送' }).click();
    await expectText(deliveries, '已重新排队推送');
    await expect.poll(() => received.filter((r) => r.seq === first).length, { timeout: 15_000 }).toBe(4);

    await row.getByRole('button', { name: '暂停' }).click();
    await expectText(row, '已暂停');
    await row.getByRole('button', { name: '更换密钥' }).click();
    const rotated = await expectText(page.getByTestId('webhook-secret'), /whsec_/);
    expect(rotated).not.toContain(secret);
    await row.getByRole('button', { name: '删除' }).click();
    await row.getByRole('button', { name: '确认删除' }).click();
    await expectText(page.getByTestId('webhook-done'), `已删除推送地址 ${url}`);
    await expect.poll(() => row.count()).toBe(0);
    await expectVisiblePage(page);
  });
});
