// Rollups (member_rollups by month, migration 010; member_year_rollups by year, migration 030;
// branch_year_rollups by branch and year, with the branch_year_deltas not yet folded into them,
// migration 050): what period reports read instead of raw postings, folded from the journal by the
// settler (migration 062), a report adding the tail not folded yet. This file holds the rollups' own
// invariant — every rollup row, monthly, yearly and per branch, with the unfolded tail, equals the sum
// of its POSTED member postings; and once everything is folded, the rows alone do — as a check anyone
// can run. The household rollups (household_rollups, migration 073: household wallets by month and
// kind, folded in the same fold) are checked alike against the household wallets' postings.
import type { Bank } from '../bank.js';
import { branchFigureColumns, branchFigures } from '../../migrations/20261125_050_branch_year_rollups.js';
import { unfoldedBranchRows } from './sql/scope.js';

export interface RollupMismatch {
  /** Which rollup: member_rollups, member_year_rollups or branch_year_rollups. */
  rollup: string;
  /** The member's row (null for a branch row). */
  memberId: string | null;
  asset: string;
  /** The first day of the month (member_rollups) or of the year. */
  period: string;
  /** The member row's kind and category (null for a branch row). */
  kind: string | null;
  category: string | null;
  /** The branch row's branch (null for a member row). */
  branchId: string | null;
  /** The household row's household (household_rollups only). */
  householdId: string | null;
  /** A member row's amount; a branch row's figures (earned, deducted, redeemed, reversed, net, postings, active members). */
  rolledUp: string | null;
  fromPostings: string | null;
}

/**
 * The direct computation from postings, grouped as the rollups are (member, asset, month of
 * occurredAt in the bank's time zone, kind, category). Shared by the check below and by tests.
 */
export const rollupsFromPostingsSql = `
  SELECT a.owner_id AS member_id, p.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month,
         t.kind, cb_transaction_category(t.head_id, t.rule_id, t.kind, t.reverses_id) AS category,
         sum(p.amount) AS amount, count(*) AS postings
    FROM postings p
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
    JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
    JOIN branches hb ON hb.id = p.head_id
   WHERE p.head_id = :head AND t.status = 'POSTED'
   GROUP BY 1, 2, 3, 4, 5`;

/** The rollup tables and the grain of each (the truncation of the month computed from postings). */
const rollupTables = [
  { table: 'member_rollups', column: 'month', grain: 'month' },
  { table: 'member_year_rollups', column: 'year', grain: 'year' },
] as const;

/** The figures of a branch row (alias), none null: compared as numbers (0 and 0.00 are equal), shown as one text. */
const figuresOf = (alias: string) => branchFigureColumns.map((c) => `coalesce(${alias}.${c}, 0)`).join(', ');
const figureText = (alias: string) => `concat_ws(' ', ${figuresOf(alias)})`;

/** A head bank's branch rows, its deltas not yet folded and (with tail) the journal's tail as branch rows (branch_id, asset_code, year and the figures). */
const branchRowsOfHead = (tail: boolean) => [
  ...['branch_year_rollups', 'branch_year_deltas'].map((t) => `SELECT branch_id, asset_code, year, ${branchFigureColumns.join(', ')} FROM ${t} WHERE head_id = :head`),
  ...(tail ? [unfoldedBranchRows()] : []),
].join(' UNION ALL ');

/** A head bank's member rows of one rollup table, with (tail) the unfolded tail's at the table's grain, summed per row key. */
const memberRowsOfHead = (table: string, column: string, tail: boolean) => `
  SELECT member_id, asset_code, ${column}, kind, category, sum(amount) AS amount, sum(postings) AS postings
    FROM (SELECT member_id, asset_code, ${column}, kind, category, amount, postings FROM ${table} WHERE head_id = :head
          ${tail ? `UNION ALL SELECT member_id, asset_code, ${column}, kind, category, amount, postings FROM cb_unfolded_postings(:head)` : ''}) u
   GROUP BY 1, 2, 3, 4, 5`;

/**
 * Branch rows, with their deltas not yet folded, that differ from the direct computation: each
 * member's postings in its branch now, an active member per member, asset and year.
 */
const branchCheck = (tail: boolean) => `
  SELECT 'branch_year_rollups' AS rollup, NULL AS member_id, coalesce(d.asset_code, r.asset_code) AS asset, coalesce(d.year, r.year)::text AS period,
         NULL AS kind, NULL AS category, coalesce(d.branch_id, r.branch_id)::text AS branch_id, NULL AS household_id,
         CASE WHEN r.branch_id IS NOT NULL THEN ${figureText('r')} END AS rolled_up,
         CASE WHEN d.branch_id IS NOT NULL THEN ${figureText('d')} END AS from_postings
    FROM (SELECT m.branch_id, x.asset_code, date_trunc('year', x.month)::date AS year, ${branchFigures('x', 'count(DISTINCT x.member_id)')}
            FROM direct x JOIN members m ON m.head_id = :head AND m.id = x.member_id
           GROUP BY 1, 2, 3) d (branch_id, asset_code, year, ${branchFigureColumns.join(', ')})
    FULL JOIN (SELECT u.branch_id, u.asset_code, u.year, ${branchFigureColumns.map((c) => `sum(u.${c}) AS ${c}`).join(', ')}
                 FROM (${branchRowsOfHead(tail)}) u
                GROUP BY 1, 2, 3) r
      ON r.branch_id = d.branch_id AND r.asset_code = d.asset_code AND r.year = d.year
   -- A row a member moved out of is all zeros: as no row.
   WHERE (${figuresOf('d')}) <> (${figuresOf('r')})`;

/**
 * Household rows (with the tail cb_unfolded_household_postings) that differ from the household wallets'
 * POSTED postings by household, asset, month of occurredAt in the bank's time zone and kind.
 */
const householdCheck = (tail: boolean) => `
  SELECT 'household_rollups' AS rollup, NULL AS member_id, coalesce(d.asset_code, r.asset_code) AS asset, coalesce(d.month, r.month)::text AS period,
         coalesce(d.kind, r.kind) AS kind, NULL AS category, NULL AS branch_id, coalesce(d.household_id, r.household_id)::text AS household_id,
         r.amount::text AS rolled_up, d.amount::text AS from_postings
    FROM (SELECT a.owner_id AS household_id, p.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month, t.kind,
                 sum(p.amount) AS amount, count(*) AS postings
            FROM postings p
            JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
            JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'HOUSEHOLD'
            JOIN branches hb ON hb.id = p.head_id
           WHERE p.head_id = :head AND t.status = 'POSTED'
           GROUP BY 1, 2, 3, 4) d
    FULL JOIN (SELECT u.household_id, u.asset_code, u.month, u.kind, sum(u.amount) AS amount, sum(u.postings) AS postings
                 FROM (SELECT household_id, asset_code, month, kind, amount, postings FROM household_rollups WHERE head_id = :head
                       ${tail ? 'UNION ALL SELECT household_id, asset_code, month, kind, amount, postings FROM cb_unfolded_household_postings(:head)' : ''}) u
                GROUP BY 1, 2, 3, 4) r
      ON r.household_id = d.household_id AND r.asset_code = d.asset_code AND r.month = d.month AND r.kind = d.kind
   WHERE d.amount IS DISTINCT FROM r.amount OR d.postings IS DISTINCT FROM r.postings`;

/**
 * Rollup rows of a head bank, monthly, yearly and per branch, with the journal's tail not folded yet
 * (as reports read them), that differ from the direct computation from postings (empty when exact).
 * With `folded`, the rows alone (and the branch deltas): exact only once the whole tail is folded.
 */
export async function findRollupMismatches(bank: Bank, headId: string, options: { folded?: boolean } = {}): Promise<RollupMismatch[]> {
  const tail = !options.folded;
  const checks = rollupTables.map(({ table, column, grain }) => `
    SELECT '${table}' AS rollup, coalesce(d.member_id, r.member_id)::text AS member_id, coalesce(d.asset_code, r.asset_code) AS asset,
           coalesce(d.period, r.${column})::text AS period, coalesce(d.kind, r.kind) AS kind, coalesce(d.category, r.category) AS category,
           NULL AS branch_id, NULL AS household_id, r.amount::text AS rolled_up, d.amount::text AS from_postings
      FROM (SELECT x.member_id, x.asset_code, date_trunc('${grain}', x.month)::date AS period, x.kind, x.category,
                   sum(x.amount) AS amount, sum(x.postings) AS postings
              FROM direct x GROUP BY 1, 2, 3, 4, 5) d
      FULL JOIN (${memberRowsOfHead(table, column, tail)}) r
        ON r.member_id = d.member_id AND r.asset_code = d.asset_code AND r.${column} = d.period AND r.kind = d.kind AND r.category = d.category
     WHERE d.amount IS DISTINCT FROM r.amount OR d.postings IS DISTINCT FROM r.postings`);
  const { rows } = await bank.knex.raw(`WITH direct AS (${rollupsFromPostingsSql}) ${[...checks, branchCheck(tail), householdCheck(tail)].join(' UNION ALL ')}`, { head: headId });
  return rows.map((r: any) => ({
    rollup: r.rollup, memberId: r.member_id, asset: r.asset, period: r.period, kind: r.kind, category: r.category,
    branchId: r.branch_id, householdId: r.household_id, rolledUp: r.rolled_up, fromPostings: r.from_postings,
  }));
}
