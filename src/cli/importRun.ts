// Importing a read sheet (importSheet.ts) through the domain functions, as the principal of a token:
// members one by one through upsertMember, awards in batches through awardPointsBatch, households
// (户) one by one through upsertHousehold (a household's rows together: its whole membership), so every
// check and scope rule of the API applies and each refusal carries the API's message. Idempotent:
// each row's key is the file's SHA-256 and its row number, so re-running a file writes nothing twice.
import fs from 'node:fs/promises';
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { checkUpsertMember, findMember, upsertMember } from '../directory/members.js';
import { upsertHousehold, type UpsertHouseholdInput } from '../households/households.js';
import { requireRole, requireScope } from '../auth/principal.js';
import { awardPointsBatch, type AwardInput } from '../ledger/awards.js';
import { BankError, badInput } from '../errors.js';
import { renderError, type Language } from '../errorMessages.js';
import { csvField, utf8Bom } from '../reports/partyScoresCsv.js';
import { instantOfWallClock } from '../wallClock.js';
import type { ImportCell, ImportField, ImportRow, ImportSheet, SheetProblem } from './importSheet.js';

/** Awards per awardPointsBatch call: half the API's batch limit, so one slow batch stays short. */
export const importBatchSize = 500;
/** Hex digits of the file's SHA-256 in each key: 128 bits, and the key stays far below its 200 characters. */
const keyHashDigits = 32;

export function importKey(sha256: string, row: number): string {
  return `import:${sha256.slice(0, keyHashDigits)}:${row}`;
}

export interface ImportOutcome {
  /** Rows written now (members created or updated, awards posted). */
  written: number;
  /** Rows written by an earlier run of the same file (their keys replayed): nothing written again. */
  replayed: number;
  errors: SheetProblem[];
}

export interface ImportOptions {
  dryRun: boolean;
  language: Language;
  /** Called after each row or batch with the rows done so far. */
  progress?: (done: number) => void;
}

const yes = new Set(['是', 'y', 'yes', 'true', '1', '√', '✓']);
const no = new Set(['否', 'n', 'no', 'false', '0', '×', '✗']);

function flag(cell: ImportCell | undefined, field: string): boolean | null {
  if (cell === undefined) return null;
  const text = String(cell).toLowerCase();
  if (yes.has(text)) return true;
  if (no.has(text)) return false;
  throw badInput(field, 'must be 是 or 否 (yes or no)');
}

function text(cell: ImportCell | undefined): string | undefined {
  return cell === undefined ? undefined : cell instanceof Date ? cell.toISOString() : cell;
}

const dateText = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * The award's occurredAt: a date (start of that day) or date and time, read as the wall clock of the
 * principal's branch (its time zone), or an ISO 8601 instant with an offset. A spreadsheet's date cell
 * holds a wall-clock time too (exceljs gives it as UTC fields).
 */
export function occurredAtOf(cell: ImportCell | undefined, timeZone: string): Date | null {
  if (cell === undefined) return null;
  if (cell instanceof Date) return instantOfWallClock(cell, timeZone);
  const m = dateText.exec(cell);
  if (m) {
    const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
    const wall = Date.UTC(year, month - 1, day, hour, minute, second);
    const check = new Date(wall);
    if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23) throw badInput('occurredAt', `"${cell}" is not a date`);
    return instantOfWallClock(new Date(wall), timeZone);
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(cell) && !Number.isNaN(Date.parse(cell))) return new Date(cell);
  throw badInput('occurredAt', `"${cell.slice(0, 40)}" is not a date: write 2026-11-30, 2026-11-30 14:05, or use a date cell`);
}

/** The column of an error's field ("awards[3].quantity" → the file's header of quantity). */
function columnOf(sheet: ImportSheet, field: string | null | undefined): string {
  if (!field) return '';
  const name = field.replace(/^awards\[\d+\]\./, '').replace(/^(memberId|member\.externalId|member)$/, 'externalId')
    .replace(/^isPartyMember$/, 'partyMember').replace(/^isVolunteer$/, 'volunteer');
  return sheet.headers[name as ImportField] ?? '';
}

function problemOf(sheet: ImportSheet, row: ImportRow, error: { code: string; message: string; field?: string | null }, language: Language, timeZone: string): SheetProblem {
  const bankError = error instanceof BankError ? error : new BankError(error.code as BankError['code'], error.message, error.field ?? undefined);
  // the row and column say where; the batch's own index ("awards[3].") would only mislead
  const message = renderError(bankError, { language, timeZone }).message.replace(/^awards\[\d+\]\./, '');
  return { row: row.row, column: columnOf(sheet, error.field), message: `${error.code}: ${message}` };
}

async function importMembers(bank: Bank, principal: Principal, sheet: ImportSheet, options: ImportOptions): Promise<ImportOutcome> {
  const outcome: ImportOutcome = { written: 0, replayed: 0, errors: [] };
  let done = 0;
  for (const row of sheet.rows) {
    try {
      const input = {
        idempotencyKey: importKey(sheet.sha256, row.row), externalId: text(row.cells.externalId) ?? '', name: text(row.cells.name) ?? '',
        branch: text(row.cells.branch) ?? '', isPartyMember: flag(row.cells.partyMember, 'isPartyMember'), isVolunteer: flag(row.cells.volunteer, 'isVolunteer'),
      };
      if (options.dryRun) {
        await checkUpsertMember(bank, principal, input);
        outcome.written++;
      } else if ((await upsertMember(bank, principal, input)).replayed) outcome.replayed++;
      else outcome.written++;
    } catch (error) {
      if (!(error instanceof BankError)) throw error;
      outcome.errors.push(problemOf(sheet, row, error, options.language, principal.branch.timeZone));
    }
    options.progress?.(++done);
  }
  return outcome;
}

async function importAwards(bank: Bank, principal: Principal, sheet: ImportSheet, options: ImportOptions): Promise<ImportOutcome> {
  const outcome: ImportOutcome = { written: 0, replayed: 0, errors: [] };
  let done = 0;
  for (let start = 0; start < sheet.rows.length; start += importBatchSize) {
    const rows = sheet.rows.slice(start, start + importBatchSize);
    const inputs: { row: ImportRow; input: AwardInput }[] = [];
    for (const row of rows) {
      try {
        inputs.push({ row, input: {
          idempotencyKey: importKey(sheet.sha256, row.row), externalId: text(row.cells.externalId) ?? '', rule: text(row.cells.rule) ?? '',
          quantity: text(row.cells.quantity) ?? null, occurredAt: occurredAtOf(row.cells.occurredAt, principal.branch.timeZone), memo: text(row.cells.memo) ?? null,
        } });
      } catch (error) {
        if (!(error instanceof BankError)) throw error;
        outcome.errors.push(problemOf(sheet, row, error, options.language, principal.branch.timeZone));
      }
    }
    if (inputs.length) {
      const results = await awardPointsBatch(bank, principal, inputs.map((i) => i.input), { dryRun: options.dryRun });
      results.forEach((result, i) => {
        if (result.error) outcome.errors.push(problemOf(sheet, inputs[i]!.row, result.error, options.language, principal.branch.timeZone));
        else if (result.result?.replayed) outcome.replayed++;
        else outcome.written++;
      });
    }
    done += rows.length;
    options.progress?.(done);
  }
  return outcome;
}

/** The one value a household's rows give for a field (the first row that gives it), refusing two different ones. */
function householdValue(rows: ImportRow[], field: 'householdName' | 'branch'): string {
  const values = [...new Set(rows.map((r) => text(r.cells[field])).filter((v): v is string => v !== undefined))];
  if (values.length > 1) throw badInput(field, `the household's rows give ${values.map((v) => `"${v}"`).join(' and ')}; give one`);
  return values[0] ?? '';
}

/** A household's rows as upsertHousehold's input: its whole current membership, the row marked 户主 its head. */
function householdInput(sheet: ImportSheet, externalId: string, rows: ImportRow[]): UpsertHouseholdInput {
  const heads = rows.filter((r, i) => flag(r.cells.head, `members[${i}].head`));
  if (heads.length > 1) throw badInput('head', `rows ${heads.map((r) => r.row).join(', ')} are each marked 户主 (head); mark one`);
  return {
    // Keyed by the file and the household's first row: re-running the file replays it.
    idempotencyKey: importKey(sheet.sha256, rows[0]!.row), externalId, branch: householdValue(rows, 'branch'), name: householdValue(rows, 'householdName'),
    head: heads[0] ? text(heads[0].cells.externalId) ?? null : null,
    members: rows.map((r, i) => {
      const adult = flag(r.cells.adult, `members[${i}].adult`);
      if (adult === null) throw badInput(`members[${i}].adult`, 'say whether the member is an adult: 是 or 否');
      return { externalId: text(r.cells.externalId) ?? '', adult };
    }),
  };
}

/** What a dry run checks of a household without writing: the role, the branch in scope, the members by externalId. */
async function checkHouseholdInput(bank: Bank, principal: Principal, input: UpsertHouseholdInput): Promise<void> {
  requireRole(principal, 'admin');
  requireScope(principal, await bank.branches.require(input.branch, 'branch'), 'branch');
  for (const [i, m] of input.members.entries()) await findMember(bank, principal.headId, { externalId: m.externalId }, `members[${i}].externalId`);
}

/** The household's row an error names (members[i]… is the household's i-th row), else its first. */
function householdRowOf(rows: ImportRow[], field: string | null | undefined): ImportRow {
  const index = /^members\[(\d+)\]/.exec(field ?? '');
  return rows[index ? Number(index[1]) : 0] ?? rows[0]!;
}

/** The error's field as the households file's column: the household's externalId is its 户编号, its name 户名. */
function householdFieldOf(field: string | null | undefined): string | undefined {
  if (!field) return undefined;
  if (field === 'externalId') return 'household';
  if (field === 'name') return 'householdName';
  return field.replace(/^members\[\d+\]\./, '');
}

async function importHouseholds(bank: Bank, principal: Principal, sheet: ImportSheet, options: ImportOptions): Promise<ImportOutcome> {
  const outcome: ImportOutcome = { written: 0, replayed: 0, errors: [] };
  const households = new Map<string, ImportRow[]>();
  for (const row of sheet.rows) {
    const externalId = text(row.cells.household);
    if (externalId === undefined) {
      outcome.errors.push({ row: row.row, column: sheet.headers.household ?? '', message: 'BAD_USER_INPUT: the row names no household' });
      continue;
    }
    households.set(externalId, [...(households.get(externalId) ?? []), row]);
  }
  let done = 0;
  for (const [externalId, rows] of households) {
    try {
      const input = householdInput(sheet, externalId, rows);
      if (options.dryRun) {
        await checkHouseholdInput(bank, principal, input);
        outcome.written += rows.length;
      } else if ((await upsertHousehold(bank, principal, input)).replayed) outcome.replayed += rows.length;
      else outcome.written += rows.length;
    } catch (error) {
      if (!(error instanceof BankError)) throw error;
      const field = householdFieldOf(error.field);
      outcome.errors.push(problemOf(sheet, householdRowOf(rows, error.field), new BankError(error.code, error.message, field, error.detail), options.language, principal.branch.timeZone));
    }
    options.progress?.(done += rows.length);
  }
  return outcome;
}

const importers = { members: importMembers, awards: importAwards, households: importHouseholds } as const;

/** Imports every row (or, with dryRun, checks it); the file's own problems come first in the errors. */
export async function importSheetRows(bank: Bank, principal: Principal, sheet: ImportSheet, options: ImportOptions): Promise<ImportOutcome> {
  const outcome = await importers[sheet.kind](bank, principal, sheet, options);
  outcome.errors = [...sheet.problems, ...outcome.errors].sort((a, b) => a.row - b.row);
  return outcome;
}

/** Where the error report of a file goes: beside it, FILE.errors.csv. */
export function errorReportPath(file: string): string {
  return `${file}.errors.csv`;
}

/**
 * Writes the error report (row, column, message; UTF-8 with a byte-order mark, for Excel), or removes
 * a report an earlier run left when this run has no errors. Returns the path written, or null.
 */
export async function writeErrorReport(file: string, errors: SheetProblem[]): Promise<string | null> {
  const target = errorReportPath(file);
  if (errors.length === 0) {
    await fs.rm(target, { force: true });
    return null;
  }
  const lines = [['row', 'column', 'message'].join(','), ...errors.map((e) => [String(e.row), csvField(e.column), csvField(e.message)].join(','))];
  await fs.writeFile(target, `${utf8Bom}${lines.join('\r\n')}\r\n`);
  return target;
}
