// File exports over HTTP (party scores as CSV and .xlsx, branch stats and a member's statement as
// .xlsx), authenticated and rate-limited like /graphql (a bearer token, the same
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
import { branchStatsXlsx, memberStatementXlsx, partyScoresXlsx, periodOfQuery, xlsxContentType, type XlsxExport } from '../reports/xlsxExports.js';
import type { LineLog } from '../logger.js';

const httpStatus: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, BAD_USER_INPUT: 400, UNAVAILABLE: 503 };

/** Answers a refusal of the edge (RATE_LIMITED, or a bad token) with its status and headers. */
function edgeRefusal(res: express.Response, error: GraphQLError): void {
  const http = error.extensions.http as { status?: number; headers?: Map<string, string> } | undefined;
  for (const [name, value] of http?.headers ?? []) res.set(name, value);
  const code = String(error.extensions.code ?? 'BAD_USER_INPUT');
  res.status(code === 'UNAUTHENTICATED' ? 401 : (http?.status ?? 400)).json({ error: { code, message: error.message } });
}

/** A file an export writes once access and arguments are checked: its name, type and body. */
interface ExportFile { filename: string; contentType: string; write(res: express.Response, started: () => void): Promise<void> }

export function exportRoutes(
  app: express.Express, bank: Bank, log: LineLog, admit: (req: express.Request) => Promise<Principal | null>,
): void {
  /** A GET route whose file is made by produce (which checks access first: its refusals answer as JSON). */
  function exportRoute(path: string, produce: (principal: Principal, query: Record<string, unknown>) => Promise<ExportFile>): void {
    app.get(path, async (req, res) => {
      let started = false;
      try {
        // counted like a GraphQL request; a request without a token is counted by address, then refused
        const principal = (await admit(req)) ?? (await authenticate(bank, undefined));
        const file = await produce(principal, req.query as Record<string, unknown>);
        res.status(200).set({ 'content-type': file.contentType, 'content-disposition': `attachment; filename="${file.filename}"` });
        await file.write(res, () => { started = true; });
        if (!res.writableEnded) res.end();
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

  const text = (query: Record<string, unknown>, name: string) => (typeof query[name] === 'string' ? query[name] as string : undefined);
  const reportArgs = (query: Record<string, unknown>) => ({ branch: text(query, 'branch'), year: text(query, 'year') });
  /** An .xlsx is written by exceljs's streaming writer into the response: once it begins, a failure cuts it short. */
  const xlsx = (made: XlsxExport): ExportFile => ({
    filename: made.filename, contentType: xlsxContentType,
    write: async (res, started) => { started(); await made.write(res); },
  });

  exportRoute('/exports/party-scores.csv', async (principal, query) => {
    const csv = await partyScoresCsv(bank, principal, reportArgs(query));
    return {
      filename: csv.filename, contentType: 'text/csv; charset=utf-8',
      async write(res, started) {
        for await (const chunk of csv.lines) {
          started();
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        }
      },
    };
  });
  exportRoute('/exports/party-scores.xlsx', async (principal, query) => xlsx(await partyScoresXlsx(bank, principal, reportArgs(query))));
  exportRoute('/exports/branch-stats.xlsx', async (principal, query) => xlsx(await branchStatsXlsx(bank, principal, reportArgs(query))));
  exportRoute('/exports/member-statement.xlsx', async (principal, query) =>
    xlsx(await memberStatementXlsx(bank, principal, { member: text(query, 'member'), period: periodOfQuery(query) })));
}
