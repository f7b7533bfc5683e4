// File exports over HTTP, authenticated and rate-limited like /graphql (a bearer token, the same
// limiter and buckets: app.ts's admit). Errors before the first
// byte answer with the GraphQL error's code as JSON and an HTTP status; once streaming has begun,
// a failure cuts the response short (a truncated CSV is visibly incomplete: no final line break).
import type express from 'express';
import { GraphQLError } from 'graphql';
import type { Bank } from '../bank.js';
import { authenticate, type Principal } from '../auth/principal.js';
import { BankError, unavailableRetryAfterSeconds, type ErrorCode } from '../errors.js';
import { pickLanguage, renderError } from '../errorMessages.js';
import { translateDbError } from '../db/errors.js';
import { partyScoresCsv } from '../reports/partyScoresCsv.js';
import type { LineLog } from '../logger.js';

const httpStatus: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400, UNAVAILABLE: 503 };

/** Answers a refusal of the edge (RATE_LIMITED, or a bad token) with its status and headers. */
function edgeRefusal(res: express.Response, error: GraphQLError): void {
  const http = error.extensions.http as { status?: number; headers?: Map<string, string> } | undefined;
  for (const [name, value] of http?.headers ?? []) res.set(name, value);
  const code = String(error.extensions.code ?? 'BAD_USER_INPUT');
  res.status(code === 'UNAUTHENTICATED' ? 401 : (http?.status ?? 400)).json({ error: { code, message: error.message } });
}

export function exportRoutes(
  app: express.Express, bank: Bank, log: LineLog, admit: (req: express.Request) => Promise<Principal | null>,
): void {
  app.get('/exports/party-scores.csv', async (req, res) => {
    let started = false;
    try {
      // counted like a GraphQL request; a request without a token is counted by address, then refused
      const principal = (await admit(req)) ?? (await authenticate(bank, undefined));
      const query = req.query as Record<string, unknown>;
      const csv = await partyScoresCsv(bank, principal, {
        branch: typeof query.branch === 'string' ? query.branch : undefined, year: typeof query.year === 'string' ? query.year : undefined,
      });
      res.status(200).set({ 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${csv.filename}"` });
      for await (const chunk of csv.lines) {
        started = true;
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    } catch (raw) {
      // A database outage is UNAVAILABLE (503 with Retry-After), as on /graphql.
      const error = translateDbError(raw);
      if (started) {
        log(`export cut short: ${(error as Error).stack ?? error}`, 'error');
        res.destroy();
      } else if (error instanceof GraphQLError && typeof error.extensions.code === 'string') {
        edgeRefusal(res, error);
      } else if (error instanceof BankError) {
        if (error.code === 'UNAVAILABLE') res.set('retry-after', String(unavailableRetryAfterSeconds));
        const { message, params } = renderError(error, { language: pickLanguage(req.headers['accept-language']), timeZone: bank.config.defaultTimeZone });
        res.status(httpStatus[error.code] ?? 400).json({ error: { ...params, code: error.code, message } });
      } else {
        log(`export failed: ${(error as Error).stack ?? error}`, 'error');
        res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
      }
    }
  });
}
