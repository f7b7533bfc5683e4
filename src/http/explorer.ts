// The GraphQL explorer at /explorer: GraphiQL 3 from the project's own node_modules (its prebuilt UMD
// bundle with React 18's), plus the page script in src/console/explorer/, served with a
// Content-Security-Policy that allows exactly these assets and calls to this origin. Nothing comes
// from the internet. Every other route keeps securityHeaders' `default-src 'none'`.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type express from 'express';
import { transform } from 'esbuild';
import { projectRoot } from '../config.js';

/**
 * The explorer's policy. Scripts and styles only from this origin (no inline script, no eval):
 * GraphiQL 3 and CodeMirror 5 style elements through the CSSOM, which style-src does not govern
 * (checked in Chromium: no violation). GraphiQL's CSS embeds its fonts (font-src) and CodeMirror's
 * lint markers (img-src) as data: URLs. Calls go to /graphql on this origin only.
 */
export const explorerContentSecurityPolicy = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "font-src 'self' data:", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

/** Assets carry their content hash in the URL, so a browser may keep them for a year. */
const assetMaxAgeSeconds = 365 * 24 * 60 * 60;
/** An asset asked for without its current hash (an old page): cached briefly, in case it changed. */
const unversionedAssetMaxAgeSeconds = 300;

interface Asset { body: Buffer; type: string; hash: string }

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const scriptDir = path.join(projectRoot, 'src/console/explorer');

function asset(body: Buffer | string, type: string): Asset {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { body: bytes, type, hash: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

/** The explorer's files, read once per process (on the first request, so tests that never open it pay nothing). */
let loading: Promise<Map<string, Asset>> | undefined;
function loadAssets(): Promise<Map<string, Asset>> {
  loading ??= (async () => {
    const js = 'text/javascript; charset=utf-8';
    const css = 'text/css; charset=utf-8';
    const script = await transform(await readFile(path.join(scriptDir, 'explorer.ts'), 'utf8'), {
      loader: 'ts', format: 'iife', target: 'es2020', sourcefile: 'explorer.ts',
    });
    return new Map([
      ['react.production.min.js', asset(await readFile(path.join(packageDir('react'), 'umd/react.production.min.js')), js)],
      ['react-dom.production.min.js', asset(await readFile(path.join(packageDir('react-dom'), 'umd/react-dom.production.min.js')), js)],
      ['graphiql.min.js', asset(await readFile(path.join(packageDir('graphiql'), 'graphiql.min.js')), js)],
      ['graphiql.min.css', asset(await readFile(path.join(packageDir('graphiql'), 'graphiql.min.css')), css)],
      ['explorer.js', asset(script.code, js)],
      ['explorer.css', asset(await readFile(path.join(scriptDir, 'explorer.css')), css)],
    ]);
  })();
  loading.catch(() => { loading = undefined; });
  return loading;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function explorerPage(assets: Map<string, Asset>, introspection: boolean): string {
  const url = (name: string) => escapeHtml(`/explorer/assets/${name}?v=${assets.get(name)!.hash}`);
  const notice = introspection ? '' : `
<p class="cb-notice" id="cb-notice" role="note">生产环境已关闭内省：没有文档和自动补全，查询照常运行。
Introspection is off in production: no docs or autocompletion here, but queries run as usual.</p>`;
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL 调试台 · Civility Bank explorer</title>
<link rel="stylesheet" href="${url('graphiql.min.css')}">
<link rel="stylesheet" href="${url('explorer.css')}">
</head>
<body data-introspection="${introspection ? 'on' : 'off'}">
<header class="cb-bar">
<a href="/">文明银行 Civility Bank</a>
<form id="cb-token-form">
<label for="cb-token">令牌 Bearer token</label>
<input id="cb-token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ…">
<button type="submit">使用 Use</button>
</form>
<p class="cb-status" id="cb-token-status" role="status" aria-live="polite"></p>
</header>${notice}
<main id="graphiql"><noscript>GraphiQL 需要 JavaScript。 GraphiQL needs JavaScript.</noscript></main>
<script src="${url('react.production.min.js')}"></script>
<script src="${url('react-dom.production.min.js')}"></script>
<script src="${url('graphiql.min.js')}"></script>
<script src="${url('explorer.js')}"></script>
</body>
</html>
`;
}

/**
 * Adds GET /explorer and /explorer/assets/<file> to the app, and sends a browser that opens /graphql
 * (Apollo's landing page, which needs its CDN) to the explorer instead.
 */
export function explorerRoutes(app: express.Express, options: { introspection: boolean }): void {
  app.get('/explorer', async (_req, res, next) => {
    try {
      const assets = await loadAssets();
      res.setHeader('content-security-policy', explorerContentSecurityPolicy);
      res.type('html').send(explorerPage(assets, options.introspection));
    } catch (error) {
      next(error);
    }
  });
  app.get('/explorer/assets/:name', async (req, res, next) => {
    try {
      const found = (await loadAssets()).get(req.params.name);
      if (!found) return void res.status(404).type('text').send('no such explorer asset');
      res.setHeader('content-security-policy', explorerContentSecurityPolicy);
      res.setHeader('cache-control', req.query.v === found.hash
        ? `public, max-age=${assetMaxAgeSeconds}, immutable` : `public, max-age=${unversionedAssetMaxAgeSeconds}`);
      res.setHeader('etag', `"${found.hash}"`);
      if (req.headers['if-none-match'] === `"${found.hash}"`) return void res.status(304).end();
      res.type(found.type).send(found.body);
    } catch (error) {
      next(error);
    }
  });
  app.get('/graphql', (req, res, next) => {
    // GraphQL over HTTP GETs carry ?query= and accept JSON; a person typing the URL gets the explorer.
    if (req.query.query === undefined && req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html') {
      return res.redirect(302, '/explorer');
    }
    next();
  });
}
