// File exports over HTTP, authenticated like /graphql (a bearer token). Errors before the first
// byte answer with the GraphQL error's code as JSON and an HTTP status; once streaming has begun,
// a failure cuts the response short (a truncated CSV is visibly incomplete: no final line break).
import type express from 'express';
import type { Bank } from '../bank.js';
import { authenticate } from '../auth/principal.js';
import { BankError, unavailableRetryAfterSeconds, type ErrorCode } from '../errors.js';
import { pickLanguage, renderError } from '../errorMessages.js';
import { translateDbError } from '../db/errors.js';
import { partyScoresCsv } from '../reports/partyScoresCsv.js';

const httpStatus: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400, UNAVAILABLE: 503 };

export function exportRoutes(app: express.Express, bank: Bank, log: (line: string) => void): void {
  app.get('/exports/party-scores.csv', async (req, res) => {
    let started = false;
    try {
      const principal = await authenticate(bank, req.headers.authorization);
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
        log(`export cut short: ${(error as Error).stack ?? error}`);
        res.destroy();
      } else if (error instanceof BankError) {
        if (error.code === 'UNAVAILABLE') res.set('retry-after', String(unavailableRetryAfterSeconds));
        const { message, params } = renderError(error, { language: pickLanguage(req.headers['accept-language']), timeZone: bank.config.defaultTimeZone });
        res.status(httpStatus[error.code] ?? 400).json({ error: { ...params, code: error.code, message } });
      } else {
        log(`export failed: ${(error as Error).stack ?? error}`);
        res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
      }
    }
  });
}
