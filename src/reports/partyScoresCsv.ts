// The party-score export (GET /exports/party-scores.csv): the partyScores report of a branch-year as
// CSV, read through a database cursor and written as it is read, so a head bank of a million members
// streams in bounded memory. Columns: branch, member, external id, total, rank, one per category.
// A UTF-8 byte-order mark opens the file so that Excel reads Chinese names correctly.
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { checkYear, yearPeriod } from './period.js';
import { partyScoreCategories, partyScoreRowFrom, reportBindings, reportScope } from './reports.js';
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

/** Checks access and the arguments first (errors before any byte is sent), then yields the lines. */
export async function partyScoresCsv(bank: Bank, principal: Principal, args: { branch?: string; year?: string }): Promise<PartyScoresCsv> {
  const scope = await reportScope(bank, principal, args.branch ?? null);
  const year = checkYear(args.year !== undefined && /^\d{4}$/.test(args.year) ? Number(args.year) : NaN);
  const period = yearPeriod(year);
  const categories = await partyScoreCategories(bank, scope, period);
  const { sql, bindings } = bank.knex.raw(partyScoresSql(scope.branchIds === null, periodRange(period), false), reportBindings(scope, period)).toSQL().toNative();
  async function* lines(): AsyncGenerator<string> {
    yield `${utf8Bom}${['branch', 'member', 'external id', 'total', 'rank', ...categories].map((h) => csvField(h)).join(',')}\r\n`;
    const client = await bank.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`DECLARE party_scores NO SCROLL CURSOR FOR ${sql}`, bindings as unknown[]);
      for (;;) {
        const { rows } = await client.query(`FETCH ${csvFetchRows} FROM party_scores`);
        let chunk = '';
        for (const r of rows) {
          const row = partyScoreRowFrom(bank, r);
          const branch = await bank.branches.requireById(row.member.branchId);
          const byCategory = new Map(row.breakdown.map((b) => [b.category, b.amount]));
          chunk += `${[csvField(branch.code), csvField(row.member.name), csvField(row.member.externalId), row.total, String(row.rank),
            ...categories.map((c) => byCategory.get(c) ?? '0.00')].join(',')}\r\n`;
        }
        if (chunk) yield chunk;
        if (rows.length < csvFetchRows) break;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
  return { filename: `party-scores-${scope.branch.code}-${year}.csv`, lines: lines() };
}
