// The shared harness of page tests: Debian's Chromium (/usr/bin/chromium) driven by playwright-core,
// one browser per test file with a fresh profile, one isolated context per page (desktop or phone),
// and nothing but the service under test reachable (every other request is blocked and fails the
// test). Console errors, page errors and failed requests fail the test that caused them; a page that
// shows nothing or an error banner fails expectVisiblePage; screenshots go to test-output/screenshots/.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { projectRoot } from '../../src/config.js';

/** Debian's package; the `playwright` package's own browser download cannot work on these machines. */
export const chromiumPath = '/usr/bin/chromium';
/** The flags issue 12 asks for; the fresh --user-data-dir is launchPersistentContext's directory. */
export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
export const screenshotDir = path.join(projectRoot, 'test-output', 'screenshots');
/** A laptop in a branch office. */
export const desktopViewport = { width: 1280, height: 800 };
/** A phone held at the till (an iPhone 12-14 sized screen). */
export const phoneViewport = { width: 390, height: 844 };
/**
 * Playwright's default wait for an action is 30 s, half of vitest's test timeout: a missing button
 * should fail with Playwright's own message (what it waited for) long before vitest gives up.
 */
const actionTimeoutMs = 10_000;
/** A first load on a busy two-core machine (the service reads and transforms its assets once) can take a while. */
const navigationTimeoutMs = 30_000;
/** How long a page may take to show any text at all. */
const firstTextTimeoutMs = 10_000;
/** Closing a browser that hangs must not hang the test run; the process is killed after this. */
const closeTimeoutMs = 10_000;
/** What an error banner looks like to expectVisiblePage: the accessible alert role, or an explicit marker. */
export const errorBannerSelector = '[role="alert"], [data-error-banner]';

const chromiumMissing = !existsSync(chromiumPath);
/** Why this machine skips page tests, or undefined when they run. In CI a missing Chromium is an error instead. */
export const pageTestsSkipReason: string | undefined = chromiumMissing && !process.env.CI
  ? `page tests skipped: ${chromiumPath} is missing (install Debian's chromium: sudo apt-get install -y chromium; .ci/run does it in CI)`
  : undefined;
export const pageTestsSkipped = pageTestsSkipReason !== undefined;
if (pageTestsSkipReason) console.warn(pageTestsSkipReason);

/**
 * A journey drives a real browser through several pages; on a busy shared machine one page can take
 * ten seconds to load, so page tests get twice vitest's default test timeout.
 */
export const pageTestTimeoutMs = 120_000;

/**
 * describe() for page tests: skipped, with the reason printed, where Chromium is missing (never in
 * CI), and with pageTestTimeoutMs for each test.
 */
export function describePages(name: string, body: () => void): void {
  describe.skipIf(pageTestsSkipped)(name, { timeout: pageTestTimeoutMs }, body);
}

export type Device = 'desktop' | 'phone';

export interface OpenOptions {
  /** desktop (1280×800) by default; phone is 390×844 with touch and a mobile viewport. */
  device?: Device;
  /** Items put into the page origin's sessionStorage before any page script runs (a signed-in console session, say). */
  sessionStorage?: Record<string, string>;
  /** Problems this page is expected to cause (a 401 that the page shows as a message, say). */
  allow?: RegExp[];
  /** More Playwright context options (locale, timezoneId, ...), applied last. */
  context?: BrowserContextOptions;
}

interface ContextRecord {
  origin: string;
  problems: string[];
  allowed: RegExp[];
  requests: string[];
}

const records = new WeakMap<BrowserContext, ContextRecord>();

function recordOf(page: Page): ContextRecord {
  const record = records.get(page.context());
  if (!record) throw new Error('this page was not opened by test/support/browser.ts (use open())');
  return record;
}

export interface LaunchedBrowser {
  browser: Browser;
  /** Opens a path of baseUrl (or a full URL) in a new isolated context, offline but for that URL's origin. */
  open(baseUrl: string, pathOrUrl: string, options?: OpenOptions): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Starts Chromium with a fresh profile directory (launchPersistentContext: Playwright refuses
 * --user-data-dir among launch()'s args). The directory is removed by close(), and at process exit
 * if close() never ran.
 */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  if (chromiumMissing) {
    throw new Error(`${chromiumPath} is missing, and CI is set so page tests must run: install Debian's chromium (apt-get install -y chromium) before the tests (.ci/run does)`);
  }
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'cb-chromium-'));
  const removeDir = () => rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  process.once('exit', removeDir);
  let persistent: BrowserContext;
  try {
    persistent = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath, headless: true, args: chromiumArgs, timeout: 60_000,
    });
  } catch (error) {
    removeDir();
    process.off('exit', removeDir);
    throw error;
  }
  const found = persistent.browser();
  if (!found) {
    await persistent.close().catch(() => undefined);
    removeDir();
    throw new Error('Playwright gave no Browser for the persistent context');
  }
  const browser: Browser = found;
  let closed = false;

  async function open(baseUrl: string, pathOrUrl: string, options: OpenOptions = {}): Promise<Page> {
    const target = new URL(pathOrUrl, baseUrl);
    if (!/^https?:$/.test(target.protocol)) throw new Error(`open() takes a path or an http URL of the service, not ${target.href}`);
    const origin = target.origin;
    const phone = options.device === 'phone';
    const context = await browser.newContext({
      viewport: phone ? phoneViewport : desktopViewport,
      ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      serviceWorkers: 'block',
      ...options.context,
    });
    const record: ContextRecord = { origin, problems: [], allowed: [...(options.allow ?? [])], requests: [] };
    records.set(context, record);
    context.setDefaultTimeout(actionTimeoutMs);
    context.setDefaultNavigationTimeout(navigationTimeoutMs);
    // Offline: only the service under test answers. Anything else is refused and is a problem.
    await context.route(() => true, (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      record.problems.push(`blocked request to ${url} (page tests run offline: only ${origin} is reachable)`);
      return route.abort('blockedbyclient');
    });
    await context.routeWebSocket((url) => url.origin !== origin.replace(/^http/, 'ws'), (socket) => {
      record.problems.push(`blocked WebSocket to ${socket.url()} (page tests run offline)`);
      socket.close();
    });
    if (options.sessionStorage) {
      await context.addInitScript(({ origin: allowedOrigin, items }) => {
        if (location.origin !== allowedOrigin) return;
        for (const [key, value] of Object.entries(items)) sessionStorage.setItem(key, value);
      }, { origin, items: options.sessionStorage });
    }
    const watch = (page: Page) => {
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        const where = message.location().url;
        record.problems.push(`console error: ${message.text()}${where ? ` (${where})` : ''}`);
      });
      page.on('pageerror', (error) => record.problems.push(`page error: ${error.stack ?? error.message}`));
      page.on('requestfailed', (request) => {
        const reason = request.failure()?.errorText ?? 'failed';
        // Blocked requests are already recorded; a navigation away aborts what the old page still loads.
        if (reason.includes('ERR_BLOCKED_BY_CLIENT') || reason.includes('ERR_ABORTED')) return;
        record.problems.push(`request failed: ${request.method()} ${request.url()}: ${reason}`);
      });
      page.on('request', (request) => { record.requests.push(request.url()); });
    };
    context.on('page', watch);
    try {
      const page = await context.newPage();
      const response = await page.goto(target.href);
      if (response && response.status() >= 400) record.problems.push(`the page answered ${response.status()}: ${target.href}`);
      return page;
    } catch (error) {
      await context.close().catch(() => undefined);
      throw error;
    }
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        persistent.close(),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`Chromium did not close in ${closeTimeoutMs} ms`)), closeTimeoutMs); }),
      ]).finally(() => clearTimeout(timer));
    } catch (error) {
      // Playwright kills the browser it launched when this process exits; the profile goes below.
      console.warn(`closing Chromium: ${(error as Error).message}`);
    } finally {
      removeDir();
      process.off('exit', removeDir);
    }
  }

  return { browser, open, close };
}

export interface BrowserHarness {
  /**
   * Opens a path of the service (e.g. '/explorer'), or a full URL of another local service, in a
   * fresh context: its own cookies and storage, desktop or phone, offline but for that origin. Pages
   * opened in a test are checked for problems and closed after it.
   */
  open(pathOrUrl: string, options?: OpenOptions): Promise<Page>;
}

/**
 * Registers the browser's life in the calling describe (or file): Chromium starts before its tests
 * and closes after them, and after each test every page it opened must have had no problem (else the
 * test fails with the list), a failed test leaves a screenshot named FAILED-<test>, and its contexts close.
 * baseUrl is read when a page opens, so it may come from a harness started in an earlier beforeAll.
 */
export function useBrowser(baseUrl: () => string): BrowserHarness {
  let launched: LaunchedBrowser | undefined;
  let opened: Page[] = [];
  beforeAll(async () => { launched = await launchBrowser(); });
  afterEach(async (context) => {
    const pages = opened;
    opened = [];
    const found: string[] = [];
    try {
      for (const page of pages) {
        if (context.task.result?.state === 'fail' && !page.isClosed()) {
          await screenshot(page, `FAILED-${context.task.name}`).catch(() => undefined);
        }
        found.push(...unexpectedProblems(page));
      }
    } finally {
      await Promise.all(pages.map((page) => page.context().close().catch(() => undefined)));
    }
    if (found.length) throw new Error(`the page had problems:\n- ${found.join('\n- ')}`);
  });
  afterAll(async () => { await launched?.close(); });
  return {
    async open(pathOrUrl, options) {
      if (!launched) throw new Error('the browser is not running: call useBrowser() inside the describe, and open pages in tests');
      const page = await launched.open(baseUrl(), pathOrUrl, options);
      opened.push(page);
      return page;
    },
  };
}

/** Everything the page's context recorded: console errors, page errors, failed or blocked requests. */
export function problemsOf(page: Page): string[] {
  return [...recordOf(page).problems];
}

/** Marks problems as expected for the rest of this page's test (a 401 the page turns into a message, say). */
export function allowProblems(page: Page, ...patterns: RegExp[]): void {
  recordOf(page).allowed.push(...patterns);
}

/** Every URL the page's context requested, in order (blocked ones included). */
export function requestsOf(page: Page): string[] {
  return [...recordOf(page).requests];
}

function unexpectedProblems(page: Page): string[] {
  const record = recordOf(page);
  return record.problems.filter((problem) => !record.allowed.some((pattern) => pattern.test(problem)));
}

/** Fails now, with the list, when the page has had a problem that was not allowed. */
export function expectNoProblems(page: Page): void {
  const found = unexpectedProblems(page);
  if (found.length) throw new Error(`the page had problems:\n- ${found.join('\n- ')}`);
}

/**
 * Fails when the page shows nothing (no visible text within timeoutMs, 10 s by default), shows an
 * error banner (errorBannerSelector, unless allowErrorBanner), is Chromium's own error page, or has
 * had a problem.
 */
export async function expectVisiblePage(page: Page, options: { allowErrorBanner?: boolean; timeoutMs?: number } = {}): Promise<void> {
  if (page.url().startsWith('chrome-error://')) throw new Error('the page did not load: Chromium shows its own error page');
  const timeout = options.timeoutMs ?? firstTextTimeoutMs;
  try {
    await page.waitForFunction(() => (document.body?.innerText ?? '').trim().length > 0, undefined, { timeout });
  } catch {
    throw new Error(`the page shows nothing: ${page.url()} has no visible text after ${timeout} ms`);
  }
  if (!options.allowErrorBanner) {
    const banners = page.locator(errorBannerSelector).filter({ visible: true });
    const shown = await banners.allInnerTexts();
    if (shown.length) throw new Error(`the page shows an error banner: ${shown.map((text) => JSON.stringify(text.trim())).join(', ')}`);
  }
  expectNoProblems(page);
}

/**
 * Waits until the locator's first element shows the text (a substring, or a match), failing with
 * what it showed instead, and returns the text. Vitest's expect does not retry; a page renders when
 * its answers arrive. Non-breaking spaces (CodeMirror's, Intl's) count as plain spaces.
 */
export async function expectText(locator: Locator, expected: string | RegExp, timeoutMs = actionTimeoutMs): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let shown = '';
  for (;;) {
    shown = await locator.first().innerText({ timeout: Math.max(1, deadline - Date.now()) })
      .then((text) => text.replace(/[\u00a0\u202f]/g, ' '), () => shown);
    if (typeof expected === 'string' ? shown.includes(expected) : expected.test(shown)) return shown;
    if (Date.now() >= deadline) throw new Error(`expected ${locator} to show ${expected}, it showed ${JSON.stringify(shown.slice(0, 500))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Saves a full-page PNG as test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name.replace(/[^\p{L}\p{N}._-]+/gu, '-').slice(0, 120)}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
