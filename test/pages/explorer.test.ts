// Journey 6 of issue 12: the GraphQL explorer at /explorer loads from the service alone (offline),
// runs `{ me { role } }` with a pasted token or the console's session and shows the answer, keeps
// its own Content-Security-Policy while every other route keeps `default-src 'none'`, and still
// loads, saying why there are no docs, where production turns introspection off.
import request from 'supertest';
import { afterAll, beforeAll, inject, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { signToken } from '../../src/auth/tokens.js';
import { explorerContentSecurityPolicy } from '../../src/http/explorer.js';
import { startApp, startHarness, type Harness, type RunningApp } from '../support/harness.js';
import { allowProblems, describePages, expectText, expectVisiblePage, requestsOf, screenshot, useBrowser } from '../support/browser.js';

const strictPolicy = "default-src 'none'";

/** Types a query into GraphiQL's editor as a paste would, and runs it with the run button. */
async function runQuery(page: Page, query: string): Promise<string> {
  // Into the editor's first line, where a person would tap (the line may be wider than a phone).
  await page.locator('.graphiql-query-editor .CodeMirror-lines').click({ position: { x: 8, y: 8 } });
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(query);
  await page.getByRole('button', { name: /Execute query/ }).click();
  return expectText(page.locator('.graphiql-response'), '"data"');
}

/** Every request of the page went to the service under test (the harness blocks the rest, and fails the test on them). */
function expectOnlyLocalRequests(page: Page, url: string): void {
  const requests = requestsOf(page);
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((r) => !r.startsWith(`${url}/`))).toEqual([]);
}

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

describe('the GraphQL explorer over HTTP', () => {
  it('gives /explorer and its assets their own policy, and every other route the strict one', async () => {
    const page = await request(h.url).get('/explorer');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(explorerContentSecurityPolicy);
    expect(explorerContentSecurityPolicy).not.toMatch(/unsafe-|https?:|\*/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).not.toMatch(/<script>|<style>| on\w+=|https?:\/\//);

    const assets = [...page.text.matchAll(/(?:src|href)="(\/explorer\/assets\/[^"]+)"/g)].map((m) => m[1]!.replaceAll('&#38;', '&'));
    expect(assets).toHaveLength(6);
    for (const asset of assets) {
      const res = await request(h.url).get(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers['content-security-policy'], asset).toBe(explorerContentSecurityPolicy);
      expect(res.headers['cache-control'], asset).toMatch(/max-age=\d{4,}/);
      expect(res.headers['content-type'], asset).toMatch(/^text\/(javascript|css); charset=utf-8/);
    }
    expect((await request(h.url).get('/explorer/assets/package.json')).status).toBe(404);
    expect((await request(h.url).get('/explorer/assets/..%2F..%2Fpackage.json')).status).toBe(404);

    const api = await request(h.url).post('/graphql').set('authorization', `Bearer ${h.adminToken}`).send({ query: '{ me { role } }' });
    expect(api.body.data).toEqual({ me: { role: 'admin' } });
    expect(api.headers['content-security-policy']).toContain(strictPolicy);
    expect(api.headers['cache-control']).toBe('no-store');
    for (const route of ['/health', '/nowhere', '/explorer-not']) {
      expect((await request(h.url).get(route)).headers['content-security-policy'], route).toContain(strictPolicy);
    }
  });

  it('sends a browser that opens /graphql to the explorer, and GraphQL GETs still answer', async () => {
    const html = await request(h.url).get('/graphql').set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(html.status).toBe(302);
    expect(html.headers.location).toBe('/explorer');
    const get = await request(h.url).get('/graphql').query({ query: '{ me { role } }' })
      .set('authorization', `Bearer ${h.adminToken}`).set('accept', 'application/json');
    expect(get.body.data).toEqual({ me: { role: 'admin' } });
  });
});

describePages('the GraphQL explorer in Chromium (journey 6)', () => {
  const browser = useBrowser(() => h.url);

  it('runs { me { role } } with a pasted token and shows the answer, with nothing from the internet', async () => {
    const page = await browser.open('/explorer');
    await expectVisiblePage(page);
    await expectText(page.getByRole('status'), 'No token');
    await page.getByLabel('令牌 Bearer token').fill(h.adminToken);
    await page.getByRole('button', { name: '使用 Use' }).click();
    await expectText(page.getByRole('status'), 'Using the token in the field');
    // With a token GraphiQL loads the schema: the documentation shows the root type.
    await page.getByRole('button', { name: /Show Documentation Explorer/ }).click();
    await expectText(page.locator('.graphiql-doc-explorer'), 'Query');
    const answer = await runQuery(page, '{ me { role } }');
    expect(JSON.parse(answer)).toEqual({ data: { me: { role: 'admin' } } });
    await expectVisiblePage(page);
    expectOnlyLocalRequests(page, h.url);
    await screenshot(page, 'explorer-desktop-me');
  });

  it('uses the console session from sessionStorage by default, on a phone too', async () => {
    const session = { token: h.adminToken, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), username: 'demo' };
    const page = await browser.open('/explorer', { device: 'phone', sessionStorage: { 'cb.session': JSON.stringify(session) } });
    await expectVisiblePage(page);
    await expectText(page.getByRole('status'), 'console session');
    expect(await page.getByLabel('令牌 Bearer token').inputValue()).toBe(h.adminToken);
    const answer = await runQuery(page, '{ me { role } }');
    expect(JSON.parse(answer)).toEqual({ data: { me: { role: 'admin' } } });
    expectOnlyLocalRequests(page, h.url);
    await screenshot(page, 'explorer-phone-me');
  });

  it('ignores an expired console session and says so', async () => {
    const session = { token: h.adminToken, expiresAt: new Date(Date.now() - 60_000).toISOString() };
    const page = await browser.open('/explorer', { sessionStorage: { 'cb.session': JSON.stringify(session) } });
    await expectVisiblePage(page);
    await expectText(page.getByRole('status'), 'The console session has expired');
    expect(await page.getByLabel('令牌 Bearer token').inputValue()).toBe('');
  });

  it('enforces its policy in the browser: an injected inline script does not run', async () => {
    const page = await browser.open('/explorer');
    await expectVisiblePage(page);
    allowProblems(page, /Content Security Policy/);
    const violated = await page.evaluate(() => new Promise<string>((resolve) => {
      document.addEventListener('securitypolicyviolation', (event) => resolve(event.effectiveDirective));
      const script = document.createElement('script');
      script.textContent = 'window.injected = true';
      document.body.append(script);
    }));
    expect(violated).toBe('script-src-elem');
    expect(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
  });

  describe('where production turns introspection off', () => {
    let production: RunningApp;
    beforeAll(async () => { production = await startApp({ NODE_ENV: 'production', JWT_SECRET: `explorer-test-secret-of-at-least-32-bytes-${h.tag}`, DATABASE_URL: inject('databaseUrl') }); });
    afterAll(async () => { await production?.close(); });

    it('still loads, says there are no docs, and runs queries', async () => {
      const page = await browser.open(`${production.url}/explorer`);
      await expectVisiblePage(page);
      await expectText(page.getByRole('note'), 'Introspection is off in production');
      const token = signToken(production.config, { sub: `admin-${h.tag}`, role: 'admin', branch: h.head.code });
      await page.getByLabel('令牌 Bearer token').fill(token);
      await page.getByRole('button', { name: '使用 Use' }).click();
      const answer = await runQuery(page, '{ me { role } }');
      expect(JSON.parse(answer)).toEqual({ data: { me: { role: 'admin' } } });
      // GraphiQL asked for no schema: the one request to /graphql is the query.
      expect(requestsOf(page).filter((r) => r.endsWith('/graphql'))).toHaveLength(1);
      await screenshot(page, 'explorer-production');
    });
  });
});
