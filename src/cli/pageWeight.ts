// npm run pages:weight [-- BASE_URL [PATH …]]: the pages' weight as a phone's browser receives it on a
// first visit with an empty cache, measured in Debian's Chromium (a dev tool: playwright-core is a dev
// dependency). Prints every file and, per page, the bytes on the wire (headers and compressed bodies)
// and decoded. GraphQL answers are left out: they are data, not the page. Start the service first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { demoHeadCode } from '../../seeds/demo.js';

const [base = 'http://127.0.0.1:4000', ...given] = process.argv.slice(2);
const pages = given.length ? given : ['/', '/counter', '/console', `/board/${demoHeadCode}`, '/explorer'];
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-weight-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 390, height: 844 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const pagePath of pages) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const files = new Map<string, { url: string; decoded: number; wire: number }>();
    const file = (id: string) => files.get(id) ?? files.set(id, { url: '?', decoded: 0, wire: 0 }).get(id)!;
    cdp.on('Network.responseReceived', (e) => { file(e.requestId).url = e.response.url; });
    cdp.on('Network.dataReceived', (e) => { file(e.requestId).decoded += e.dataLength; });
    cdp.on('Network.loadingFinished', (e) => { file(e.requestId).wire = e.encodedDataLength; });
    await page.goto(base + pagePath, { waitUntil: 'networkidle' });
    let wire = 0;
    let decoded = 0;
    let count = 0;
    for (const f of files.values()) {
      if (f.url.endsWith('/graphql')) continue;
      console.log(`  ${f.url.replace(base, '')}: ${f.wire} B on the wire, ${f.decoded} B decoded`);
      wire += f.wire;
      decoded += f.decoded;
      count++;
    }
    console.log(`${pagePath}: ${count} files, ${(wire / 1024).toFixed(1)} KiB on the wire, ${(decoded / 1024).toFixed(1)} KiB decoded`);
    await page.close();
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
