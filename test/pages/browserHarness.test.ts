// The page-test harness catches what it promises to catch, so that a page test passing means the page
// worked: a blank page, an error banner, a console error, an uncaught page error and a request to the
// internet each fail; a sound page passes. Pages come from a tiny local server, not the service.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allowProblems, describePages, expectNoProblems, expectVisiblePage, problemsOf, useBrowser } from '../support/browser.js';

const pages: Record<string, string> = {
  '/sound': '<main><h1>文明银行</h1><p>欢迎</p></main>',
  '/blank': '<main><div id="app"></div></main>',
  '/hidden': '<main style="display:none">there but not shown</main>',
  '/banner': '<main><h1>Members</h1><div role="alert">请求失败 INTERNAL</div></main>',
  '/console-error': '<main>text</main><script>console.error("something broke")</script>',
  '/page-error': '<main>text</main><script>null.boom()</script>',
  '/internet': '<main>text</main><img src="http://example.com/logo.png" alt="">',
  '/missing-asset': '<main>text</main><script src="/no-such-script.js"></script>',
};

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const body = pages[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ? `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>t</title></head><body>${body}</body></html>` : 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describePages('the page-test harness', () => {
  const browser = useBrowser(() => url);

  it('passes a page that shows text and had no problem, on a phone too', async () => {
    await expectVisiblePage(await browser.open('/sound'));
    await expectVisiblePage(await browser.open('/sound', { device: 'phone' }));
  });

  it('fails a page that shows nothing, or only hidden text', async () => {
    await expect(expectVisiblePage(await browser.open('/blank'), { timeoutMs: 1000 })).rejects.toThrow(/shows nothing/);
    await expect(expectVisiblePage(await browser.open('/hidden'), { timeoutMs: 1000 })).rejects.toThrow(/shows nothing/);
  });

  it('fails a page that shows an error banner, unless the test expects one', async () => {
    const page = await browser.open('/banner');
    await expect(expectVisiblePage(page)).rejects.toThrow(/error banner: "请求失败 INTERNAL"/);
    await expectVisiblePage(page, { allowErrorBanner: true });
  });

  it('records console errors and uncaught page errors, and fails on them unless allowed', async () => {
    const logged = await browser.open('/console-error');
    expect(problemsOf(logged)).toEqual([expect.stringContaining('console error: something broke')]);
    expect(() => expectNoProblems(logged)).toThrow(/something broke/);
    allowProblems(logged, /something broke/);
    await expectVisiblePage(logged);

    const thrown = await browser.open('/page-error');
    expect(problemsOf(thrown)).toEqual([expect.stringMatching(/^page error: .*null/)]);
    allowProblems(thrown, /^page error/);
  });

  it('blocks every request that is not to the service, and fails on it', async () => {
    const page = await browser.open('/internet');
    await page.waitForLoadState('load');
    expect(problemsOf(page)).toContainEqual('blocked request to http://example.com/logo.png (page tests run offline: only ' + url + ' is reachable)');
    expect(() => expectNoProblems(page)).toThrow(/blocked request to http:\/\/example.com/);
    allowProblems(page, /example\.com/);
  });

  it('fails on a page or a resource that answers with an error', async () => {
    const page = await browser.open('/missing-asset');
    expect(() => expectNoProblems(page)).toThrow(/404/);
    allowProblems(page, /404/);
    const gone = await browser.open('/no-such-page');
    expect(() => expectNoProblems(gone)).toThrow(/the page answered 404/);
    allowProblems(gone, /404/);
  });
});
