// The Express app, built from its dependencies (buildApp) so that tests and the benchmark can start
// as many as they need: /graphql (Apollo Server), /health, /exports (CSV files). The edge's abuse
// limits live here and in config.limits: security headers, a body limit (413), a token limit on
// parsing, depth and complexity limits per operation (400), and per-subject rate limits (429
// RATE_LIMITED); a database that cannot be reached answers 503 UNAVAILABLE with Retry-After. Errors
// are written in the caller's language (Accept-Language: zh or en). Errors of the edge itself (a body too large, bad JSON) answer as GraphQL errors,
// never as a stack. The operator's instruments: /metrics (Prometheus), /ready, and one log line per request (observe.ts).
import express, { type ErrorRequestHandler } from 'express';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { GraphQLError } from 'graphql';
import type { Bank } from '../bank.js';
import { authenticate, type Principal } from '../auth/principal.js';
import { BankError } from '../errors.js';
import { englishMessage, pickLanguage, type Locale } from '../errorMessages.js';
import { translateDbError } from '../db/errors.js';
import { createLoaders, type Context } from '../graphql/context.js';
import { errorLocalePlugin, formatError, toGraphQLError } from '../graphql/errors.js';
import { operationLimitsPlugin } from '../graphql/operationLimits.js';
import { anonymousContext, publicOperationsPlugin } from '../graphql/publicOperations.js';
import { loadTypeDefs, resolvers } from '../graphql/schema.js';
import { exportRoutes } from './exports.js';
import { pageRoutes } from './pages.js';
import { explorerRoutes } from './explorer.js';
import { createRateLimiter, type RateLimiter } from './rateLimit.js';
import { securityHeaders } from './securityHeaders.js';
import { requestObservationPlugin } from '../graphql/observation.js';
import { silentLogger, type LineLog, type Logger } from '../logger.js';
import { loadSqlDefinitions } from '../db/sqlDefinitions.js';
import { bearerMatches, createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { observeRequests, requestRecordOf } from './observe.js';
import { checkReadiness } from './readiness.js';

/** The rate-limit bucket of a token: its head bank, role and subject (never the subject alone). */
export function subjectKey(principal: Principal): string {
  return `sub:${principal.headId}:${principal.role}:${principal.sub}`;
}

export interface BuiltApp {
  app: express.Express;
  stop(): Promise<void>;
}

function rateLimited(retryAfterMs: number, locale: Locale): GraphQLError {
  const params = { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
  return toGraphQLError(new BankError('RATE_LIMITED', englishMessage('rate.limited', params), undefined, { id: 'rate.limited', params }), locale);
}

/** Express's own errors (body-parser's 413 and 400) as a GraphQL error body, without a stack. */
const edgeErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
  const message = status === 413 ? 'the request body is larger than the limit; send fewer awards per batch'
    : status < 500 ? `the request could not be read: ${error?.type === 'entity.parse.failed' ? 'the body is not valid JSON' : 'bad request'}`
      : 'internal error';
  res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_USER_INPUT' : 'INTERNAL' } }] });
};

/**
 * What the app reports to: the logger of its request lines (silent when not given) and its metrics
 * (a registry of its own when not given; the service passes one with the process metrics).
 */
export interface Instruments {
  logger?: Logger;
  metrics?: ServiceMetrics;
}

export async function buildApp(bank: Bank, log: LineLog = console.error, limiter?: RateLimiter, instruments: Instruments = {}): Promise<BuiltApp> {
  const { limits } = bank.config;
  const rates = limiter ?? createRateLimiter(limits.redisUrl, limits.rateLimitWindowMs, log);
  await rates.ready();
  const server = new ApolloServer<Context>({
    typeDefs: loadTypeDefs(),
    resolvers,
    formatError: formatError(log, { hideSchemaDetails: bank.config.production }),
    introspection: !bank.config.production,
    // no "Did you mean …?" in production, where introspection is off (formatError cuts them from coercion errors too)
    hideSchemaDetailsFromClientErrors: bank.config.production,
    includeStacktraceInErrorResponses: false,
    // GraphQL over HTTP allows queries by GET. Apollo's CSRF guard refuses GETs without a preflight
    // header; it protects cookie sessions, and this API has none: every request carries a bearer
    // token in Authorization, which a cross-site form or <img> cannot send.
    csrfPrevention: false,
    parseOptions: { maxTokens: limits.queryTokensMax },
    // Apollo's cache-control plugin (on by default) wraps every field's resolution to gather cache
    // hints for a Cache-Control header; every answer here is private and sent as no-store
    // (securityHeaders), so it would only add work to each field of each request.
    plugins: [ApolloServerPluginCacheControlDisabled(), requestObservationPlugin(), errorLocalePlugin(), publicOperationsPlugin(), operationLimitsPlugin({ depthMax: limits.queryDepthMax, complexityMax: limits.queryComplexityMax })],
  });
  await server.start();
  const metrics = instruments.metrics ?? createServiceMetrics(bank, log);
  // read once: /ready compares the database's record of them with these texts
  const definitions = loadSqlDefinitions();

  const consume = async (key: string, limit: number, locale: Locale) => {
    if (limit === 0) return;
    const decision = await rates.consume(key, limit);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs, locale);
  };
  /**
   * Every route that reads a token counts the request here, before any work: a valid token by its
   * head bank, role and subject (a client and a member that happen to share a `sub` are two callers),
   * anything else by address, so that guessing tokens is slow too. Null: no Authorization header.
   */
  const admit = async (req: express.Request, locale: Locale): Promise<Principal | null> => {
    const principal = await admitPrincipal(req, locale);
    const record = requestRecordOf(req.res);
    if (record && principal) record.principal = { sub: principal.sub, role: principal.role };
    return principal;
  };
  const admitPrincipal = async (req: express.Request, locale: Locale): Promise<Principal | null> => {
    if (req.headers.authorization === undefined) {
      await consume(`ip:${req.ip}`, limits.rateLimitAnonymousRequests, locale);
      return null;
    }
    let principal;
    try {
      principal = await authenticate(bank, req.headers.authorization);
    } catch (error) {
      // A database that cannot be reached while reading the token's branch is UNAVAILABLE (503), not INTERNAL.
      const translated = translateDbError(error);
      if (!(translated instanceof BankError)) throw error;
      if (translated.code !== 'UNAVAILABLE') await consume(`ip:${req.ip}`, limits.rateLimitAnonymousRequests, locale);
      throw toGraphQLError(translated, locale);
    }
    // Errors show instants in the caller's bank's time zone.
    locale.timeZone = principal.branch.timeZone;
    await consume(subjectKey(principal), limits.rateLimitRequests, locale);
    return principal;
  };
  /** The language errors are written in (Accept-Language), and until admit knows the bank, the default time zone. */
  const localeOf = (req: express.Request): Locale => ({ language: pickLanguage(req.headers['accept-language']), timeZone: bank.config.defaultTimeZone });

  const app = express();
  app.disable('x-powered-by');
  app.use(observeRequests(instruments.logger ?? silentLogger, metrics));
  app.use(securityHeaders);
  app.get('/health', async (_req, res) => {
    try {
      await bank.knex.raw('SELECT 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });
  app.get('/ready', async (_req, res) => {
    const readiness = await checkReadiness(bank.knex, definitions);
    if (readiness.ready) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'not ready', reason: readiness.reason });
  });
  app.get('/metrics', async (req, res) => {
    const token = bank.config.metricsToken;
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.set('www-authenticate', 'Bearer').status(401).json({ error: 'send the metrics token (METRICS_TOKEN) as Authorization: Bearer <token>' });
      return;
    }
    try {
      const text = await metrics.scrape();
      res.set('content-type', metrics.contentType).send(text);
    } catch (error) {
      log(`metrics: ${(error as Error).message}`, 'error');
      res.status(503).json({ error: 'metrics unavailable; see the service log' });
    }
  });
  exportRoutes(app, bank, log, (req) => admit(req, localeOf(req)));
  pageRoutes(app, log);
  // The GraphQL explorer (GraphiQL, offline) under its own Content-Security-Policy: src/http/explorer.ts.
  explorerRoutes(app, { introspection: !bank.config.production });
  // GraphQL over HTTP, checked before anything is read: GET or POST only (405), and a POST body is
  // application/json (415).
  app.all('/graphql', (req, res, next) => {
    const refuse = (status: number, message: string) => res.status(status).json({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] });
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.set('allow', 'GET, POST');
      return refuse(405, `${req.method} is not supported; use GET (queries) or POST`);
    }
    if (req.method === 'POST' && !req.is('application/json')) return refuse(415, 'send the request as Content-Type: application/json');
    next();
  });
  app.use('/graphql', express.json({ limit: limits.bodyBytesMax }), expressMiddleware(server, {
    context: async ({ req, res }) => {
      const deadline = Date.now() + limits.requestTimeBudgetMs;
      const locale = localeOf(req);
      const principal = await admit(req, locale);
      const observed = { request: requestRecordOf(res), writes: metrics.writes };
      // No token: only public operations (signIn, noticeBoard) may run.
      if (!principal) return Object.assign(anonymousContext(bank, req.ip), { deadline, locale }, observed);
      return { bank, principal, loaders: createLoaders(bank, principal), address: req.ip, deadline, locale, ...observed };
    },
  }));
  app.use(edgeErrors);
  return { app, stop: async () => { await server.stop(); if (!limiter) await rates.close(); } };
}
