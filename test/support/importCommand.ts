// npm run import as a test runs it (a child process through tsx, against the test database), and its
// error report read back: shared by the import tests of members, awards and households.
import { execFile } from 'node:child_process';
import ExcelJS from 'exceljs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { inject } from 'vitest';
import { projectRoot } from '../../src/config.js';

export interface Run { code: number; stdout: string; stderr: string }

export function runImport(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/cli/import.ts'), ...args],
      { cwd: projectRoot, env: { ...process.env, DATABASE_URL: inject('databaseUrl'), LANG: 'C', ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
  });
}

/** The error report as [row, column, message] triples (a small RFC 4180 reader: no line breaks in these fields). */
export async function readReport(file: string): Promise<string[][]> {
  const text = (await fs.readFile(`${file}.errors.csv`, 'utf8')).replace(/^\uFEFF/, '');
  return text.trim().split('\r\n').slice(1).map((line) => {
    const cells: string[] = [];
    const re = /("((?:[^"]|"")*)"|[^,]*)(,|$)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line)) && m[0] !== '') {
      cells.push(m[2] !== undefined ? m[2].replaceAll('""', '"') : m[1]!);
      if (m[3] === '') break;
    }
    return cells;
  });
}

/** Writes rows (the first the header) as an .xlsx's first worksheet, in dir; the file's path. */
export async function writeXlsx(dir: string, file: string, rows: unknown[][], sheetName = '导入'): Promise<string> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet(sheetName);
  for (const row of rows) sheet.addRow(row);
  const target = path.join(dir, file);
  await workbook.xlsx.writeFile(target);
  return target;
}
