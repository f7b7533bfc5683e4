// Rollups (member_rollups by month, migration 010; member_year_rollups by year, migration 030): what
// period reports read instead of raw postings, kept by triggers in the same transaction as the
// postings. This file holds the rollups' own invariant — every rollup row, monthly and yearly,
// equals the sum of its POSTED member postings — as a check anyone can run.
import type { Bank } from '../bank.js';

export interface RollupMismatch {
  /** Which rollup: member_rollups or member_year_rollups. */
  rollup: string;
  memberId: string;
  asset: string;
  /** The first day of the month (member_rollups) or of the year (member_year_rollups). */
  period: string;
  kind: string;
  category: string;
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

/** Rollup rows of a head bank, monthly and yearly, that differ from the direct computation from postings (empty when exact). */
export async function findRollupMismatches(bank: Bank, headId: string): Promise<RollupMismatch[]> {
  const checks = rollupTables.map(({ table, column, grain }) => `
    SELECT '${table}' AS rollup, coalesce(d.member_id, r.member_id)::text AS member_id, coalesce(d.asset_code, r.asset_code) AS asset,
           coalesce(d.period, r.${column})::text AS period, coalesce(d.kind, r.kind) AS kind, coalesce(d.category, r.category) AS category,
           r.amount::text AS rolled_up, d.amount::text AS from_postings
      FROM (SELECT x.member_id, x.asset_code, date_trunc('${grain}', x.month)::date AS period, x.kind, x.category,
                   sum(x.amount) AS amount, sum(x.postings) AS postings
              FROM direct x GROUP BY 1, 2, 3, 4, 5) d
      FULL JOIN (SELECT * FROM ${table} WHERE head_id = :head) r
        ON r.member_id = d.member_id AND r.asset_code = d.asset_code AND r.${column} = d.period AND r.kind = d.kind AND r.category = d.category
     WHERE d.amount IS DISTINCT FROM r.amount OR d.postings IS DISTINCT FROM r.postings`);
  const { rows } = await bank.knex.raw(`WITH direct AS (${rollupsFromPostingsSql}) ${checks.join(' UNION ALL ')}`, { head: headId });
  return rows.map((r: any) => ({
    rollup: r.rollup, memberId: r.member_id, asset: r.asset, period: r.period, kind: r.kind, category: r.category,
    rolledUp: r.rolled_up, fromPostings: r.from_postings,
  }));
}
