// The .xlsx exports (GET /exports/party-scores.xlsx, branch-stats.xlsx, member-statement.xlsx): the
// same reports as the API and the CSV, each checked for access before the first byte exactly as they
// are (reportScope; a statement by requireMemberVisible), written by exceljs's streaming writer with
// Chinese column names, a frozen header row and number formats. An amount's cell is a number for the
// spreadsheet to sum: a display copy, the nearest double to the exact decimal string of the API.
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { findMember, requireMemberVisible } from '../directory/members.js';
import { BankError, assertInvariant } from '../errors.js';
import { partyScoreExport } from './partyScoresCsv.js';
import { branchStats, memberStatement, partyScoreAsset } from './reports.js';
import type { PeriodInput } from './period.js';
import { wallClockOf } from '../wallClock.js';

export const xlsxContentType = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
/** Data rows a worksheet holds: Excel's 1,048,576 rows less the header. A larger report fails visibly; the CSV has no limit. */
export const xlsxRowsMax = 1_048_575;

export interface XlsxExport { filename: string; write(out: Writable): Promise<void> }

/** An amount's cell format at a scale: thousands separated, exactly scale decimals ("#,##0.00"). */
export function amountFormat(scale: number): string {
  return scale > 0 ? `#,##0.${'0'.repeat(scale)}` : '#,##0';
}

/**
 * The number a spreadsheet cell holds for an exact decimal string ("1234.50"): the nearest double,
 * parsed from the text (no arithmetic in floating point). Amounts up to 2^53 hundredths are exact.
 */
export function amountNumber(text: string): number {
  assertInvariant(/^-?\d+(\.\d+)?$/.test(text), `an amount from the database is not a decimal: ${text}`);
  return Number(text);
}

interface Column { header: string; width: number; numFmt?: string }

/** A worksheet with its header row frozen (and the first frozenColumns columns), bold headers and column formats. */
function addSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, name: string, columns: Column[], frozenColumns = 0): ExcelJS.Worksheet {
  const sheet = workbook.addWorksheet(name, { views: [{ state: 'frozen', xSplit: frozenColumns, ySplit: 1 }] });
  sheet.columns = columns.map((c) => ({ width: c.width, style: c.numFmt ? { numFmt: c.numFmt } : {} }));
  const header = sheet.addRow(columns.map((c) => c.header));
  header.font = { bold: true };
  header.commit();
  return sheet;
}

/** Adds a data row, with each numeric column's format on its cells (a reader sees it per cell). */
function addRow(sheet: ExcelJS.Worksheet, columns: Column[], values: (string | number | Date | null)[]): void {
  const row = sheet.addRow(values);
  columns.forEach((c, i) => { if (c.numFmt) row.getCell(i + 1).numFmt = c.numFmt; });
  row.commit();
}

function writer(out: Writable): ExcelJS.stream.xlsx.WorkbookWriter {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  workbook.creator = 'Civility Bank';
  return workbook;
}

/** Party scores of a branch-year: the CSV's rows and order, with Chinese headers. */
export async function partyScoresXlsx(bank: Bank, principal: Principal, args: { branch?: string; year?: string }): Promise<XlsxExport> {
  const report = await partyScoreExport(bank, principal, args);
  const format = amountFormat(bank.assets.get(partyScoreAsset).scale);
  const columns: Column[] = [
    { header: '支部', width: 16 }, { header: '姓名', width: 14 }, { header: '外部编号', width: 18 },
    { header: '总分', width: 10, numFmt: format }, { header: '排名', width: 8, numFmt: '0' },
    ...report.categories.map((c) => ({ header: c, width: 12, numFmt: format })),
  ];
  return {
    filename: `party-scores-${report.scope.branch.code}-${report.year}.xlsx`,
    async write(out) {
      const workbook = writer(out);
      const sheet = addSheet(workbook, `党员积分 ${report.year}`, columns, 2);
      let count = 0;
      for await (const chunk of report.rows) {
        for (const { branchCode, row } of chunk) {
          if (++count > xlsxRowsMax) throw new Error(`the party scores have more than ${xlsxRowsMax} rows, more than a worksheet holds; use the CSV`);
          const byCategory = new Map(row.breakdown.map((b) => [b.category, b.amount]));
          addRow(sheet, columns, [branchCode, row.member.name, row.member.externalId, amountNumber(row.total), row.rank,
            ...report.categories.map((c) => amountNumber(byCategory.get(c) ?? '0'))]);
        }
      }
      sheet.commit();
      await workbook.commit();
    },
  };
}

const statsHeaders = ['发放 issued', '扣减 deducted', '兑换 redeemed', '冲正 reversed', '余额 outstanding'] as const;

/** Branch statistics of a year: the branch itself (合计) and each child branch, one row per asset. */
export async function branchStatsXlsx(bank: Bank, principal: Principal, args: { branch?: string; year?: string }): Promise<XlsxExport> {
  const year = args.year !== undefined && /^\d{4}$/.test(args.year) ? Number(args.year) : NaN;
  const stats = await branchStats(bank, principal, { branch: args.branch ?? null, period: { year } });
  const columns: Column[] = [
    { header: '支部编码', width: 16 }, { header: '支部', width: 20 }, { header: '范围', width: 8 }, { header: '资产', width: 16 },
    ...statsHeaders.map((header) => ({ header, width: 14, numFmt: '#,##0.00' })), { header: '活跃储户', width: 10, numFmt: '#,##0' },
  ];
  const rows = [{ branch: stats.branch, assets: stats.assets, whole: true }, ...stats.children.map((c) => ({ ...c, whole: false }))];
  return {
    filename: `branch-stats-${stats.branch.code}-${year}.xlsx`,
    async write(out) {
      const workbook = writer(out);
      const sheet = addSheet(workbook, `支部统计 ${year}`, columns, 2);
      for (const r of rows) {
        for (const a of r.assets) {
          const format = amountFormat(bank.assets.get(a.asset).scale);
          const row = sheet.addRow([r.branch.code, r.branch.name, r.whole ? '合计' : '下级', a.asset,
            ...[a.issued, a.deducted, a.redeemed, a.reversed, a.outstanding].map(amountNumber), a.activeMembers]);
          for (let c = 5; c <= 9; c++) row.getCell(c).numFmt = format;
          row.getCell(10).numFmt = '#,##0';
          row.commit();
        }
      }
      sheet.commit();
      await workbook.commit();
    },
  };
}

/** The period of a statement export's query: year, or fromMonth and toMonth. */
export function periodOfQuery(query: Record<string, unknown>): PeriodInput {
  const text = (name: string) => (typeof query[name] === 'string' ? query[name] as string : null);
  const year = text('year');
  return { year: year !== null ? (/^\d{4}$/.test(year) ? Number(year) : NaN) : null, fromMonth: text('fromMonth'), toMonth: text('toMonth') };
}

/**
 * A member's statement: totals per asset (汇总) and the movements (明细), as Member.statement. A member
 * outside the caller's view reads as not found, as member(id) answers null over GraphQL.
 */
export async function memberStatementXlsx(bank: Bank, principal: Principal, args: { member?: string; period: PeriodInput }): Promise<XlsxExport> {
  const member = await findMember(bank, principal.headId, { id: args.member ?? '' }, 'member');
  try {
    await requireMemberVisible(bank, principal, member);
  } catch (error) {
    if (error instanceof BankError && error.code === 'FORBIDDEN' && principal.role !== 'member' && principal.role !== 'merchant') {
      throw new BankError('NOT_FOUND', `member: no member with id ${member.id}`, 'member');
    }
    throw error;
  }
  const statement = await memberStatement(bank, principal, member, args.period);
  const totalColumns: Column[] = [
    { header: '资产', width: 16 }, { header: '期初 opening', width: 14, numFmt: '#,##0.00' }, { header: '变动 net', width: 14, numFmt: '#,##0.00' },
    { header: '期末 closing', width: 14, numFmt: '#,##0.00' }, { header: '笔数', width: 8, numFmt: '#,##0' },
  ];
  const movementColumns: Column[] = [
    { header: '时间', width: 20, numFmt: 'yyyy-mm-dd hh:mm:ss' }, { header: '类型', width: 14 }, { header: '资产', width: 16 },
    { header: '金额', width: 12, numFmt: '#,##0.00' }, { header: '类别', width: 14 }, { header: '备注', width: 30 }, { header: '交易编号', width: 12 },
  ];
  // a spreadsheet date has no zone: the cell shows the wall clock of the member's branch
  const timeZone = (await bank.branches.requireById(member.branchId)).timeZone;
  return {
    filename: `statement-${member.externalId.replace(/[^\w.-]/g, '_')}-${statement.from.slice(0, 7)}-${statement.to.slice(0, 7)}.xlsx`,
    async write(out) {
      const workbook = writer(out);
      const totals = addSheet(workbook, '汇总', totalColumns, 1);
      for (const t of statement.totals) {
        const format = amountFormat(bank.assets.get(t.asset).scale);
        const row = totals.addRow([t.asset, amountNumber(t.opening), amountNumber(t.net), amountNumber(t.closing), t.postings]);
        for (let c = 2; c <= 4; c++) row.getCell(c).numFmt = format;
        row.getCell(5).numFmt = '#,##0';
        row.commit();
      }
      totals.commit();
      const movements = addSheet(workbook, '明细', movementColumns, 1);
      for (const m of statement.movements) {
        const row = movements.addRow([wallClockOf(m.occurredAt, timeZone), m.kind, m.asset, amountNumber(m.amount), m.category, m.memo, m.transactionId]);
        row.getCell(1).numFmt = 'yyyy-mm-dd hh:mm:ss';
        row.getCell(4).numFmt = amountFormat(bank.assets.get(m.asset).scale);
        row.commit();
      }
      if (statement.movementsTruncated) movements.addRow([`仅列出前 ${statement.movements.length} 笔 (first ${statement.movements.length} movements only)`]).commit();
      movements.commit();
      await workbook.commit();
    },
  };
}
