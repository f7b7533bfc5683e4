// The rollup rows a report reads, for a date range and the report's members. A range is read as
// whole calendar years from member_year_rollups and the months around them from member_rollups
// (period.ts rollupSlices), so a year report reads at most one row per member, asset, kind and
// category however many postings the year had. For a branch, rows are probed member by member (both
// rollups' primary keys lead with the member): a 5,000-member branch reads its own rows, not a scan
// of the head bank's period filtered down (measured: 1,000 rows read instead of 200,000, ~700 ms →
// a few ms at 2 M postings). For a whole head bank, one scan of the period (the rollups' period
// indexes, by asset and month or year) is cheaper than a million probes.
// The rollups hold what the settler has folded (migration 062); every read adds the journal's
// unfolded tail (cb_unfolded_postings: a settler's interval of writes, read through the index on
// transactions.txid), in the same statement, so in the same snapshot as the rows and the fold's cursor:
// a report includes every write acknowledged before it, exactly once.
// Bindings: head, branches (bigint[]; null for the whole head bank), and those of rangeBindings.
import { branchFigures } from '../../../migrations/20261125_050_branch_year_rollups.js';
import { rollupSlices, sinceSlices, type Period, type RollupSlice } from '../period.js';

/** A date range's slices and the prefix of their binding names (`${name}${i}From`, `${name}${i}To`). */
export interface RollupRange { name: string; slices: RollupSlice[] }

export function rollupRange(name: string, from: string, to: string | null): RollupRange {
  return { name, slices: rollupSlices(from, to) };
}

/** A report's period (bindings named period…). */
export const periodRange = (period: Period) => rollupRange('period', period.from, period.to);

/** Everything dated from a report period's start on (bindings named since…), in slices that do not straddle its end. */
export const sinceRange = (period: Period): RollupRange => ({ name: 'since', slices: sinceSlices(period.from, period.to) });

/** The values of a range's bindings. */
export function rangeBindings(range: RollupRange): Record<string, string> {
  return Object.fromEntries(range.slices.flatMap((s, i) => [
    ...(s.from === null ? [] : [[`${range.name}${i}From`, s.from]]), ...(s.to === null ? [] : [[`${range.name}${i}To`, s.to]])]));
}

const tableOf = { month: { table: 'member_rollups', column: 'month' }, year: { table: 'member_year_rollups', column: 'year' } } as const;

/**
 * Rows (member_id, asset_code, starts: the first day of the row's month or year, kind, category,
 * amount) of the range's rollups matching `where` (on r), e.g. of one member.
 */
export function rangeRows(range: RollupRange, where: string): string {
  return range.slices.map((s, i) => {
    const { table, column } = tableOf[s.grain];
    const start = s.from === null ? '' : ` AND r.${column} >= :${range.name}${i}From::date`;
    const end = s.to === null ? '' : ` AND r.${column} < :${range.name}${i}To::date`;
    return `SELECT r.member_id, r.asset_code, r.${column} AS starts, r.kind, r.category, r.amount FROM ${table} r
             WHERE r.head_id = :head AND ${where}${start}${end}`;
  }).join(' UNION ALL ');
}

/** The bounds of a range's slice i on a row's month or year column (r.month, r.year), as a condition. */
function sliceBounds(range: RollupRange, i: number, column: string): string {
  const s = range.slices[i]!;
  return [`true`, s.from === null ? '' : `r.${column} >= :${range.name}${i}From::date`, s.to === null ? '' : `r.${column} < :${range.name}${i}To::date`]
    .filter(Boolean).join(' AND ');
}

/**
 * The unfolded tail's rows (member_id, asset_code, starts, kind, category, amount) over `range`
 * matching `where` (on r): as rangeRows would read them once folded, each starting at its slice's grain.
 */
export function tailRows(range: RollupRange, where: string): string {
  const slices = range.slices.map((s, i) => ({ column: tableOf[s.grain].column, bounds: sliceBounds(range, i, tableOf[s.grain].column) }));
  return `SELECT r.member_id, r.asset_code, CASE ${slices.map((s) => `WHEN ${s.bounds} THEN r.${s.column}`).join(' ')} END AS starts,
                 r.kind, r.category, r.amount
            FROM cb_unfolded_postings(:head) r
           WHERE ${where} AND (${slices.map((s) => `(${s.bounds})`).join(' OR ')})`;
}

/** Rollup rows and the unfolded tail's over `range` matching `where` (on r): what rangeRows will read once everything is folded. */
export const liveRows = (range: RollupRange, where: string) => `${rangeRows(range, where)} UNION ALL ${tailRows(range, where)}`;

/**
 * Rollup rows (member_id, asset_code, starts, kind, category, amount) over `range` matching `where`,
 * with the unfolded tail's, for the report's members (`members` selects their ids as id); for a
 * branch, each row also carries the columns of `carried` (on s, the member's row of `members`), e.g.
 * its branch_id. For a branch the folded rows are probed member by member and the tail (a few rows)
 * is read once and joined to the members.
 */
export function scopedRollups(wholeBank: boolean, range: RollupRange, where: string, members = inBranches, carried = ''): string {
  return wholeBank
    ? liveRows(range, where)
    : `SELECT ${carried}r.* FROM (${members}) s CROSS JOIN LATERAL (${rangeRows(range, `r.member_id = s.id AND ${where}`)} OFFSET 0) r
       UNION ALL
       SELECT ${carried}r.* FROM (${members}) s JOIN (${tailRows(range, where)}) r ON r.member_id = s.id`;
}

/**
 * The unfolded tail as branch rows (branch_id: the member wallet's branch now, asset_code, year, then
 * the figures of branch_year_rollups): a member is active in a year for an asset here when it has no
 * yearly rollup row of them yet (the fold makes it active when it writes that row). `where` on u.
 */
export const unfoldedBranchRows = (where = 'true') => `
  SELECT u.branch_id, u.asset_code, u.year, ${branchFigures('u', `count(DISTINCT u.member_id) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM member_year_rollups y WHERE y.head_id = :head AND y.member_id = u.member_id AND y.asset_code = u.asset_code AND y.year = u.year))`)}
    FROM cb_unfolded_postings(:head) u WHERE ${where}
   GROUP BY 1, 2, 3`;

/** The members of the report's branches. */
export const inBranches = `SELECT m.id FROM members m WHERE m.head_id = :head AND m.branch_id = ANY (:branches::bigint[])`;
