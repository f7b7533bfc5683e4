// Report periods: whole months of the bank's calendar (occurredAt in the head bank's time zone),
// because rollups count by month (and by year). A period is a year, or a first and last month
// ("2026-01".."2026-06"). A period is read as whole calendar years from the yearly rollups and the
// months around them from the monthly rollups (rollupSlices).
import { badInput } from '../errors.js';

export interface PeriodInput { year?: number | null; fromMonth?: string | null; toMonth?: string | null }

export interface Period {
  /** The first day of the first month, 'YYYY-MM-01'. */
  from: string;
  /** The first day of the month after the last, 'YYYY-MM-01' (exclusive). */
  to: string;
}

/** Years a report may name: no civility bank ran before 2000; 2200 is a typo, not a plan. */
export const periodYearMin = 2000;
export const periodYearMax = 2200;
/** A period spans at most this many months: ten years of assessments, a bounded rollup scan. */
export const periodMonthsMax = 120;

const monthPattern = /^(\d{4})-(0[1-9]|1[0-2])$/;

function monthIndex(field: string, value: unknown): number {
  const match = typeof value === 'string' ? monthPattern.exec(value) : null;
  if (!match) throw badInput(field, 'must be a month such as "2026-03"');
  const year = Number(match[1]);
  if (year < periodYearMin || year > periodYearMax) throw badInput(field, `year must be between ${periodYearMin} and ${periodYearMax}`);
  return year * 12 + Number(match[2]) - 1;
}

function monthStart(index: number): string {
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}-01`;
}

export function checkYear(value: unknown, field = 'year'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < periodYearMin || value > periodYearMax) {
    throw badInput(field, `must be a year between ${periodYearMin} and ${periodYearMax}`);
  }
  return value;
}

export function checkPeriod(input: PeriodInput | null | undefined, field = 'period'): Period {
  const hasYear = input?.year != null;
  const hasRange = input?.fromMonth != null || input?.toMonth != null;
  if (hasYear === hasRange) throw badInput(field, 'give either year or fromMonth and toMonth');
  if (hasYear) {
    const year = checkYear(input!.year, `${field}.year`);
    return { from: monthStart(year * 12), to: monthStart((year + 1) * 12) };
  }
  const first = monthIndex(`${field}.fromMonth`, input!.fromMonth);
  const last = monthIndex(`${field}.toMonth`, input!.toMonth);
  if (last < first) throw badInput(`${field}.toMonth`, 'must not be before fromMonth');
  if (last - first + 1 > periodMonthsMax) throw badInput(field, `spans at most ${periodMonthsMax} months`);
  return { from: monthStart(first), to: monthStart(last + 1) };
}

/** A year's period. */
export function yearPeriod(year: number): Period {
  return checkPeriod({ year });
}

/** The first day of the calendar year that a period is exactly (a year, or its January to December), else null. */
export function calendarYearOf(period: Period): string | null {
  return period.from.endsWith('-01-01') && nextYearStartOf(period.from) === period.to ? period.from : null;
}

/** A part of a date range and the rollup that holds it: whole calendar years, or months. null: no start, or no end. */
export interface RollupSlice { grain: 'year' | 'month'; from: string | null; to: string | null }

const yearStartOf = (day: string) => `${day.slice(0, 4)}-01-01`;
const nextYearStartOf = (day: string) => `${String(Number(day.slice(0, 4)) + 1).padStart(4, '0')}-01-01`;

/**
 * [from, to) (first days of months; null for "from the beginning" or "from then on") as the whole
 * calendar years in it, read from the yearly rollups, and the months before and after them, read
 * from the monthly rollups: a year reads one slice of yearly rows, "2025-04".."2026-12" the months
 * 2025-04..2025-12 and the year 2026, a range inside one year its months. No yearly slice has
 * `from` or `to` strictly inside one of its years.
 */
export function rollupSlices(from: string | null, to: string | null): RollupSlice[] {
  const yearsFrom = from === null || from.endsWith('-01-01') ? from : nextYearStartOf(from);
  const yearsTo = to === null ? null : yearStartOf(to);
  if (yearsFrom !== null && yearsTo !== null && yearsFrom >= yearsTo) return [{ grain: 'month', from, to }];
  const slices: RollupSlice[] = [];
  if (from !== null && from < yearsFrom!) slices.push({ grain: 'month', from, to: yearsFrom });
  slices.push({ grain: 'year', from: yearsFrom, to: yearsTo });
  if (yearsTo !== null && yearsTo < to!) slices.push({ grain: 'month', from: yearsTo, to });
  return slices;
}

/**
 * Everything dated on or after `from`, sliced so that no slice straddles `to`: a row's period start
 * (month or year) is then before `to` exactly when the row is in [from, to), and on or after it when
 * it is dated later. Adjacent slices of one grain are read as one: a year and the years after it are
 * one probe of yearly rows.
 */
export function sinceSlices(from: string, to: string): RollupSlice[] {
  const merged: RollupSlice[] = [];
  for (const slice of [...rollupSlices(from, to), ...rollupSlices(to, null)]) {
    const last = merged[merged.length - 1];
    if (last && last.grain === slice.grain && last.to === slice.from) last.to = slice.to;
    else merged.push({ ...slice });
  }
  return merged;
}
