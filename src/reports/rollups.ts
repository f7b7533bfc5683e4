// Rollups (member_rollups, migration 010): what period reports read instead of raw postings, kept
// by triggers in the same transaction as the postings. This file holds the rollups' own invariant —
// every rollup row equals the sum of its POSTED member postings — as a check anyone can run.
import type { Bank } from '../bank.js';

export interface RollupMismatch {
  memberId: string;
  asset: string;
  month: string;
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

/** Rollup rows of a head bank that differ from the direct computation from postings (empty when exact). */
export async function findRollupMismatches(bank: Bank, headId: string): Promise<RollupMismatch[]> {
  const { rows } = await bank.knex.raw(`
    WITH direct AS (${rollupsFromPostingsSql}),
         rolled AS (SELECT member_id, asset_code, month, kind, category, amount, postings FROM member_rollups WHERE head_id = :head)
    SELECT coalesce(d.member_id, r.member_id)::text AS member_id, coalesce(d.asset_code, r.asset_code) AS asset,
           coalesce(d.month, r.month)::text AS month, coalesce(d.kind, r.kind) AS kind, coalesce(d.category, r.category) AS category,
           r.amount::text AS rolled_up, d.amount::text AS from_postings
      FROM direct d FULL JOIN rolled r
        ON r.member_id = d.member_id AND r.asset_code = d.asset_code AND r.month = d.month AND r.kind = d.kind AND r.category = d.category
     WHERE d.amount IS DISTINCT FROM r.amount OR d.postings IS DISTINCT FROM r.postings`, { head: headId });
  return rows.map((r: any) => ({
    memberId: r.member_id, asset: r.asset, month: r.month, kind: r.kind, category: r.category, rolledUp: r.rolled_up, fromPostings: r.from_postings,
  }));
}
