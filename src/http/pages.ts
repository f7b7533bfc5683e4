// The pages people use, served by the same process as the API: `/` (where to go), the branch
// console (/console), the merchant counter (/counter) and the public notice board (/board/<code>).
// Each page is an HTML shell with no inline script; its code is bundled from src/console/ by
// esbuild once per process (on first request, or at start via buildPages) and kept in memory.
// The pages are ordinary API clients: they call /graphql with the signed-in operator's token.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { build } from 'esbuild';
import { projectRoot } from '../config.js';
import type { LineLog } from '../logger.js';

/** The page bundles: the name in /assets/<name>-<hash>.js and the entry file under src/console/. */
const entries = { console: 'admin/main.tsx', counter: 'counter/main.tsx', board: 'board/main.tsx' } as const;
type Entry = keyof typeof entries;

/** An asset, and its gzip form (made once at build) for clients that accept it: the counter on a weak network gets a third of the bytes. */
interface Asset { body: Buffer; gzip: Buffer | null; type: string; etag: string }
export interface BuiltPages { assets: Map<string, Asset>; scripts: Record<Entry, string>; styles: Record<Entry, string[]>; buildMs: number }

/**
 * The pages' policy: their own scripts, styles and API only. Styles may be set from script (Chart.js
 * and Preact set element.style through the CSSOM, which CSP allows) but not inline in markup.
 * blob: images are the CSV download and camera frames.
 */
export const pagesContentSecurityPolicy = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:",
  "font-src 'self'", "media-src 'self' blob:", "manifest-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const contentTypes: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

let building: Promise<BuiltPages> | undefined;

/** Bundles src/console once per process (about a second); later calls share the result. */
export function buildPages(): Promise<BuiltPages> {
  building ??= (async () => {
    const started = performance.now();
    const result = await build({
      entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, path.join(projectRoot, 'src/console', file)])),
      bundle: true, splitting: true, format: 'esm', minify: true, write: false, metafile: true,
      target: ['es2020', 'chrome87', 'safari15'], outdir: path.join(projectRoot, '.pages'), entryNames: '[name]-[hash]', chunkNames: 'chunk-[hash]',
      jsx: 'automatic', jsxImportSource: 'preact', tsconfig: path.join(projectRoot, 'src/console/tsconfig.json'),
      loader: { '.svg': 'dataurl' }, legalComments: 'none', logLevel: 'silent',
    });
    const assets = new Map<string, Asset>();
    for (const file of result.outputFiles) {
      const name = path.relative(path.join(projectRoot, '.pages'), file.path);
      const body = Buffer.from(file.contents);
      const gzip = gzipSync(body, { level: 9 });
      assets.set(name, {
        body, gzip: gzip.length < body.length ? gzip : null,
        type: contentTypes[path.extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      });
    }
    const scripts = {} as Record<Entry, string>;
    const styles = {} as Record<Entry, string[]>;
    for (const [output, meta] of Object.entries(result.metafile!.outputs)) {
      const entry = (Object.keys(entries) as Entry[]).find((e) => meta.entryPoint?.endsWith(entries[e]));
      if (!entry) continue;
      scripts[entry] = path.relative(path.join(projectRoot, '.pages'), path.resolve(projectRoot, output));
      styles[entry] = meta.cssBundle ? [path.relative(path.join(projectRoot, '.pages'), path.resolve(projectRoot, meta.cssBundle))] : [];
    }
    return { assets, scripts, styles, buildMs: Math.round(performance.now() - started) };
  })();
  building.catch(() => { building = undefined; });
  return building;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shell(pages: BuiltPages, entry: Entry, title: string, extraHead = ''): string {
  const css = pages.styles[entry].map((href) => `<link rel="stylesheet" href="/assets/${href}">`).join('');
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">` +
    `<title>${escapeHtml(title)}</title>${css}${extraHead}` +
    `<script type="module" src="/assets/${pages.scripts[entry]}"></script></head>` +
    `<body><div id="app"><noscript>需要启用 JavaScript · JavaScript is required</noscript></div></body></html>`;
}

const landing = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>文明银行 Civility Bank</title>
<link rel="stylesheet" href="/landing.css"></head><body><main class="landing">
<h1>文明银行 <small>Civility Bank</small></h1>
<p>积分存储、兑换与公示 · points earned for civility, redeemed with local merchants</p>
<nav><ul>
<li><a href="/console">工作人员登录（分行后台）<span>Branch console sign-in</span></a></li>
<li><a href="/counter">商户核销台<span>Merchant counter</span></a></li>
<li><a href="/board">公示栏<span>Public notice board</span></a></li>
<li><a href="/explorer">GraphQL 接口浏览器<span>GraphQL explorer</span></a></li>
</ul></nav></main></body></html>`;

const landingCss = `body{margin:0;font:16px/1.6 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#1f1f1f}
.landing{max-width:560px;margin:10vh auto;padding:24px}h1{color:#b71c1c;margin:0 0 8px}h1 small{font-size:.5em;color:#595959}
ul{list-style:none;padding:0}li a{display:block;margin:12px 0;padding:16px 20px;background:#fff;border-radius:8px;border:1px solid #d9d9d9;color:#1f1f1f;text-decoration:none;font-size:18px}
li a:hover,li a:focus{border-color:#b71c1c;outline:2px solid #b71c1c}li a span{display:block;font-size:14px;color:#595959}`;

/** Adds /, /console, /counter, /board[/<code>] and /assets/* to the app. */
export function pageRoutes(app: express.Express, log: LineLog): void {
  const page = (entry: Entry, title: string, permissions?: string): express.RequestHandler => async (_req, res, next) => {
    try {
      const pages = await buildPages();
      res.setHeader('content-security-policy', pagesContentSecurityPolicy);
      if (permissions) res.setHeader('permissions-policy', permissions);
      res.type('html').send(shell(pages, entry, title));
    } catch (error) {
      log(`pages failed to build: ${(error as Error).stack ?? error}`, 'error');
      next(error);
    }
  };
  app.get('/', (_req, res) => {
    res.setHeader('content-security-policy', pagesContentSecurityPolicy);
    res.type('html').send(landing);
  });
  app.get('/landing.css', (_req, res) => { res.setHeader('cache-control', 'public, max-age=300'); res.type('css').send(landingCss); });
  app.get('/console', page('console', '文明银行 · 分行后台'));
  // The counter scans vouchers with the phone's camera: camera allowed for this page's own origin only.
  app.get('/counter', page('counter', '文明银行 · 商户核销', 'camera=(self), microphone=(), geolocation=()'));
  app.get(['/board', '/board/:code'], page('board', '文明银行 · 公示栏'));
  app.get('/assets/:name', async (req, res, next) => {
    try {
      const asset = (await buildPages()).assets.get(req.params.name);
      if (!asset) return void res.status(404).type('text').send('no such asset');
      // Names carry their content hash: a cached copy is never stale.
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.setHeader('vary', 'accept-encoding');
      const gzip = asset.gzip && req.acceptsEncodings('gzip') === 'gzip' ? asset.gzip : null;
      // Each representation has its own tag, so a cache never answers one with the other.
      const etag = gzip ? `${asset.etag.slice(0, -1)}-gz"` : asset.etag;
      res.setHeader('etag', etag);
      if (req.headers['if-none-match'] === etag) return void res.status(304).end();
      res.type(asset.type);
      if (gzip) res.setHeader('content-encoding', 'gzip');
      res.send(gzip ?? asset.body);
    } catch (error) {
      next(error);
    }
  });
}
