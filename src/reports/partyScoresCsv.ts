// The party-score export (GET /exports/party-scores.csv): the partyScores report of a branch-year as
// CSV, read through a database cursor and written as it is read, so a head bank of a million members
// streams in bounded memory. Columns: branch, member, external id, total, rank, one per category.
// A UTF-8 byte-order mark opens the file so that Excel reads Chinese names correctly. The rows are
// read once here for the CSV and the .xlsx (xlsxExports.ts).
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { checkYear, yearPeriod } from './period.js';
import { partyScoreCategories, partyScoreRowFrom, reportBindings, reportScope, type PartyScoreRow, type ReportScope } from './reports.js';
import { partyScoresSql } from './sql/partyScores.js';
import { periodRange } from './sql/scope.js';

/** Rows fetched from the cursor per round trip: large enough to amortise it, small enough to stream. */
export const csvFetchRows = 2000;
export const utf8Bom = '\uFEFF';

/** A CSV field: quoted when needed; text that a spreadsheet would run as a formula is defused with a quote. */
export function csvField(value: string, text = true): string {
  const safe = text && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export interface PartyScoresCsv { filename: string; lines: AsyncGenerator<string> }

/** A party-score export's rows as read: each member's row with its branch's code. */
export interface PartyScoreExport {
  scope: ReportScope;
  year: number;
  categories: string[];
  rows: AsyncGenerator<{ branchCode: string; row: PartyScoreRow }[]>;
}

/**
 * Checks access and the arguments (errors before any byte is sent), then reads the report through a
 * cursor, csvFetchRows at a time: the CSV and the .xlsx export (xlsxExports.ts) both write from here.
 */
export async function partyScoreExport(bank: Bank, principal: Principal, args: { branch?: string; year?: string }): Promise<PartyScoreExport> {
  const scope = await reportScope(bank, principal, args.branch ?? null);
  const year = checkYear(args.year !== undefined && /^\d{4}$/.test(args.year) ? Number(args.year) : NaN);
  const period = yearPeriod(year);
  const categories = await partyScoreCategories(bank, scope, period);
  const { sql, bindings } = bank.knex.raw(partyScoresSql(scope.branchIds === null, periodRange(period), false), reportBindings(scope, period)).toSQL().toNative();
  async function* rows(): AsyncGenerator<{ branchCode: string; row: PartyScoreRow }[]> {
    const client = await bank.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`DECLARE party_scores NO SCROLL CURSOR FOR ${sql}`, bindings as unknown[]);
      for (;;) {
        const { rows: fetched } = await client.query(`FETCH ${csvFetchRows} FROM party_scores`);
        const chunk: { branchCode: string; row: PartyScoreRow }[] = [];
        for (const r of fetched) {
          const row = partyScoreRowFrom(bank, r);
          chunk.push({ branchCode: (await bank.branches.requireById(row.member.branchId)).code, row });
        }
        if (chunk.length) yield chunk;
        if (fetched.length < csvFetchRows) break;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  return { scope, year, categories, rows: rows() };
}

/** Checks access and the arguments first (errors before any byte is sent), then yields the lines. */
export async function partyScoresCsv(bank: Bank, principal: Principal, args: { branch?: string; year?: string }): Promise<PartyScoresCsv> {
  const report = await partyScoreExport(bank, principal, args);
  async function* lines(): AsyncGenerator<string> {
    yield `${utf8Bom}${['branch', 'member', 'external id', 'total', 'rank', ...report.categories].map((h) => csvField(h)).join(',')}\r\n`;
    for await (const chunk of report.rows) {
      yield chunk.map(({ branchCode, row }) => {
        const byCategory = new Map(row.breakdown.map((b) => [b.category, b.amount]));
        return `${[csvField(branchCode), csvField(row.member.name), csvField(row.member.externalId), row.total, String(row.rank),
          ...report.categories.map((c) => byCategory.get(c) ?? '0.00')].join(',')}\r\n`;
      }).join('');
    }
  }
  return { filename: `party-scores-${report.scope.branch.code}-${report.year}.csv`, lines: lines() };
}
