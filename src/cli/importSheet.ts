// Reading an import file (npm run import): the first worksheet of an .xlsx (exceljs's streaming
// reader) or a UTF-8 .csv, its header row mapped to the import's columns (English or Chinese names),
// and the kind (members, awards or households) inferred from those columns. Bounded: the file's bytes, its rows
// and each cell's length are named limits, checked while reading, before anything is written.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';

/** A file larger than this is refused unread: 50 000 rows of a member list are a few megabytes. */
export const importFileBytesMax = 32 * 1024 * 1024;
/** Data rows per file: a street's members or a season's awards; split a larger file (each part is still idempotent). */
export const importRowsMax = 50_000;
/** A cell longer than this is refused: the longest field any column takes is a memo of 500 characters. */
export const importCellLengthMax = 1000;
/** Columns read from the header row: the import takes seven; a sheet wider than this is not an import file. */
export const importColumnsMax = 64;

export type ImportKind = 'members' | 'awards' | 'households';
export type ImportField = 'name' | 'externalId' | 'branch' | 'partyMember' | 'volunteer' | 'rule' | 'quantity' | 'occurredAt' | 'memo'
  | 'household' | 'householdName' | 'adult' | 'head';

/**
 * The accepted header names of each column, compared after lower-casing and removing spaces, "_",
 * "-" and "（）/()" (so "External ID", "external_id" and "外部编号/手机" all match).
 */
export const importColumns: Record<ImportField, readonly string[]> = {
  name: ['name', '姓名', '名字'],
  externalId: ['externalid', 'external id', 'phone', 'mobile', '外部编号', '手机', '手机号', '外部编号/手机', '编号'],
  branch: ['branch', 'branchcode', '支部', '网格', '支部/网格', '支部编码', '网格编码'],
  partyMember: ['partymember', 'isPartyMember', '党员'],
  volunteer: ['volunteer', 'isVolunteer', '志愿者'],
  rule: ['rule', 'rulecode', '规则', '规则编码'],
  quantity: ['quantity', 'qty', '数量'],
  occurredAt: ['date', 'occurredat', 'occurred at', '日期', '时间'],
  memo: ['memo', 'note', 'notes', '备注'],
  // Households (户): a row per member of a household, the household named on each of its rows.
  household: ['household', '户编号', 'householdid', 'household externalid', '户号'],
  householdName: ['householdname', '户名', 'household name'],
  adult: ['adult', '成年', '成年人'],
  head: ['head', '户主'],
};

function headerKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\s_\-()（）/]/g, '');
}

const byHeader = new Map<string, ImportField>(Object.entries(importColumns)
  .flatMap(([field, names]) => names.map((n) => [headerKey(n), field as ImportField] as const)));

/** One data row: its row number in the file (the header is row 1) and its cells by field. */
export interface ImportRow { row: number; cells: Partial<Record<ImportField, ImportCell>> }
/** A cell as read: text, or a Date for a date cell of a spreadsheet. */
export type ImportCell = string | Date;

/** A problem with the file or one of its rows, before any domain check (row 0: the file itself). */
export interface SheetProblem { row: number; column: string; message: string }

export interface ImportSheet {
  sha256: string;
  kind: ImportKind;
  /** The header text of each field as the file spells it (for the error report's column). */
  headers: Partial<Record<ImportField, string>>;
  rows: ImportRow[];
  problems: SheetProblem[];
}

/** Thrown for a file that cannot be imported at all (too large, no header, unknown columns). */
export class ImportFileError extends Error {}

/** The kind a header row describes: a household column means households, a rule column awards, a branch column (without either) members. */
export function inferKind(fields: ReadonlySet<ImportField>): ImportKind | null {
  if (fields.has('household')) return 'households';
  if (fields.has('rule')) return 'awards';
  if (fields.has('branch') && fields.has('name')) return 'members';
  return null;
}

const requiredFields: Record<ImportKind, ImportField[]> = {
  members: ['externalId', 'name', 'branch'], awards: ['externalId', 'rule'], households: ['household', 'householdName', 'branch', 'externalId', 'adult'],
};
const kindFields: Record<ImportKind, ReadonlySet<ImportField>> = {
  members: new Set(['externalId', 'name', 'branch', 'partyMember', 'volunteer']),
  // A name column in an awards file is for the person reading it; awards go by externalId.
  awards: new Set(['externalId', 'name', 'branch', 'rule', 'quantity', 'occurredAt', 'memo']),
  // A households file: the member's name is for the person reading it; members go by externalId.
  households: new Set(['household', 'householdName', 'branch', 'externalId', 'name', 'adult', 'head']),
};

/** Text of an exceljs cell value: rich text joined, a formula's result, a hyperlink's text. */
function cellText(value: ExcelJS.CellValue): ImportCell | null {
  if (value == null) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((r) => r.text).join('');
    if ('result' in value) return cellText((value as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
    if ('text' in value) return cellText((value as ExcelJS.CellHyperlinkValue).text);
    if ('error' in value) return String((value as ExcelJS.CellErrorValue).error);
  }
  return String(value);
}

/** RFC 4180 records of a CSV text (quoted fields, doubled quotes, CRLF or LF), at most rowsMax + 1 of them. */
export function parseCsv(text: string, rowsMax: number): { records: string[][]; more: boolean } {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') { record.push(field); field = ''; } else if (c === '\r') continue;
    else if (c === '\n') {
      record.push(field); records.push(record); record = []; field = '';
      if (records.length > rowsMax) return { records, more: true };
    } else field += c;
  }
  if (field || record.length) { record.push(field); records.push(record); }
  return { records, more: false };
}

/** The records of a file: arrays of cells, the first being the header row; row numbers are 1-based. */
async function readRecords(file: string): Promise<{ records: { row: number; cells: (ImportCell | null)[] }[]; more: boolean }> {
  const records: { row: number; cells: (ImportCell | null)[] }[] = [];
  const limit = importRowsMax + 1;
  if (/\.csv$/i.test(file)) {
    const parsed = parseCsv(await fs.readFile(file, 'utf8'), limit);
    return { records: parsed.records.slice(0, limit).map((cells, i) => ({ row: i + 1, cells })), more: parsed.more };
  }
  if (!/\.xlsx$/i.test(file)) throw new ImportFileError(`${path.basename(file)}: the import reads .xlsx and .csv files`);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit', entries: 'emit' });
  for await (const sheet of reader) {
    for await (const row of sheet as AsyncIterable<ExcelJS.Row>) {
      const cells: (ImportCell | null)[] = [];
      const values = row.values as ExcelJS.CellValue[];
      for (let c = 1; c < Math.min(values.length, importColumnsMax + 1); c++) cells.push(cellText(values[c] ?? null));
      records.push({ row: row.number, cells });
      if (records.length > limit) return { records, more: true };
    }
    break; // the first worksheet only
  }
  return { records, more: false };
}

/** Reads, hashes and maps a file; a row-level problem (a cell too long) is reported, not thrown. */
export async function readImportSheet(file: string, kindGiven: ImportKind | null): Promise<ImportSheet> {
  const stat = await fs.stat(file).catch(() => null);
  if (!stat?.isFile()) throw new ImportFileError(`${file}: no such file`);
  if (stat.size > importFileBytesMax) throw new ImportFileError(`${path.basename(file)} has ${stat.size} bytes; the import reads at most ${importFileBytesMax}: split it`);
  const sha256 = createHash('sha256').update(await fs.readFile(file)).digest('hex');
  const { records, more } = await readRecords(file);
  if (more) throw new ImportFileError(`${path.basename(file)} has more than ${importRowsMax} rows; split it into files of at most ${importRowsMax} rows`);
  const header = records[0];
  if (!header) throw new ImportFileError(`${path.basename(file)} is empty: the first row must name the columns`);
  const columns: { index: number; field: ImportField }[] = [];
  const headers: Partial<Record<ImportField, string>> = {};
  const unknown: string[] = [];
  header.cells.forEach((cell, index) => {
    const text = typeof cell === 'string' ? cell.trim() : '';
    if (!text) return;
    const field = byHeader.get(headerKey(text));
    if (!field) unknown.push(text);
    else if (headers[field]) throw new ImportFileError(`columns "${headers[field]}" and "${text}" are the same column (${field}); keep one`);
    else { headers[field] = text; columns.push({ index, field }); }
  });
  const fields = new Set(columns.map((c) => c.field));
  const kind = kindGiven ?? inferKind(fields);
  if (!kind) throw new ImportFileError('cannot tell members, awards or households by the header row: an awards file has a 规则/rule column, a households file 户编号/household, a members file 姓名/name and 支部/网格/branch; or pass --kind');
  const missing = requiredFields[kind].filter((f) => !fields.has(f));
  if (missing.length) throw new ImportFileError(`a ${kind} file needs the columns ${missing.map((f) => `${importColumns[f][1]}/${importColumns[f][0]}`).join(', ')}`);
  const foreign = [...unknown, ...columns.filter((c) => !kindFields[kind].has(c.field)).map((c) => headers[c.field]!)];
  if (foreign.length) throw new ImportFileError(`unknown column(s) for a ${kind} file: ${foreign.map((f) => `"${f}"`).join(', ')} (the README's import section lists the columns)`);
  const rows: ImportRow[] = [];
  const problems: SheetProblem[] = [];
  for (const record of records.slice(1)) {
    const cells: ImportRow['cells'] = {};
    let empty = true;
    let tooLong = false;
    for (const { index, field } of columns) {
      const raw = record.cells[index] ?? null;
      const value = typeof raw === 'string' ? raw.trim() : raw;
      if (value === null || value === '') continue;
      empty = false;
      if (typeof value === 'string' && value.length > importCellLengthMax) {
        problems.push({ row: record.row, column: headers[field]!, message: `${field}: a cell holds at most ${importCellLengthMax} characters` });
        tooLong = true;
      }
      cells[field] = value;
    }
    // a row with a cell too long is reported and skipped whole: never written without that cell
    if (!empty && !tooLong) rows.push({ row: record.row, cells });
  }
  return { sha256, kind, headers, rows, problems };
}
