// Every HTTP request gets an id (a sane X-Request-Id from the caller, or a new one, echoed back) and,
// when it ends, one log line — id, GraphQL operation, principal sub and role, duration, status and
// outcome code — and for /graphql a sample of the request metrics. Lines of the API (/graphql,
// /exports) are at level info; probes, scrapes and pages at debug. Nothing of the request's body,
// variables or headers is written (src/logger.ts).
import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { RequestRecord } from '../graphql/observation.js';
import type { Logger } from '../logger.js';
import { operationNamePattern, type ServiceMetrics } from './metrics.js';

/** A caller's request id is kept when it is this plain and short (it goes into log lines as it is). */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/** The outcome code of an answer that GraphQL did not give (the edge's refusals, a failed context). */
function outcomeOfStatus(status: number): string {
  if (status < 400) return 'OK';
  const byStatus: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 429: 'RATE_LIMITED', 503: 'UNAVAILABLE' };
  return byStatus[status] ?? (status < 500 ? 'BAD_USER_INPUT' : 'INTERNAL');
}

/** The request's record (created by observeRequests before anything else ran). */
export function requestRecordOf(res: express.Response | undefined): RequestRecord | undefined {
  return res?.locals.request as RequestRecord | undefined;
}

export function observeRequests(logger: Logger, metrics: ServiceMetrics): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const path = req.path;
    const given = req.headers['x-request-id'];
    const record: RequestRecord = { id: typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID() };
    res.locals.request = record;
    res.setHeader('x-request-id', record.id);
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const outcome = record.outcome ?? outcomeOfStatus(res.statusCode);
      const graphql = path === '/graphql';
      if (graphql && record.operation === undefined) {
        // refused before GraphQL read the document (a bad token, a rate limit, a body too large)
        const named = (req.body as { operationName?: unknown } | undefined)?.operationName ?? req.query.operationName;
        record.operation = typeof named === 'string' && operationNamePattern.test(named) ? named : null;
      }
      if (graphql) metrics.observeRequest(record.operation, outcome, seconds);
      const level = graphql || path.startsWith('/exports') ? 'info' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      logger[level]({
        requestId: record.id, method: req.method, path, status: res.statusCode,
        ...(graphql ? { operation: record.operation ?? null } : {}),
        sub: record.principal?.sub ?? null, role: record.principal?.role ?? null,
        durationMs: Math.round(seconds * 1e4) / 10, outcome,
      }, 'request');
    });
    next();
  };
}
