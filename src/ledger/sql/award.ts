// The hot statements: one round trip each, as named prepared statements so PostgreSQL plans them
// once per connection. The logic lives in cb_award_one, cb_award_batch and cb_post_entry (award_one.sql, award_batch.sql,
// post_entry.sql beside this file).
import type pg from 'pg';

export interface AwardScope { headId: string; sub: string; role: string; scopePath: string; timeZone: string }

/** The fields of one award as prepareAward builds them (awards.ts). */
export interface AwardItem {
  key: string; hash: string; memberId?: string | null; externalId?: string | null; householdExternalId?: string | null;
  rule: string; quantity: string; occurredAt: string; memo: string | null; metadata: object | null;
}

/**
 * One award, answered with its transaction: the award's one round trip (cb_award_one, migration
 * 040). A refusal comes back as a database error (SQLSTATE CB000) that withRetry translates.
 */
export async function callAward(pool: pg.Pool, scope: AwardScope, item: AwardItem): Promise<any> {
  const { rows } = await pool.query({
    name: 'cb_award_one',
    text: 'SELECT cb_award_one($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) AS r',
    values: [scope.headId, scope.sub, scope.role, scope.scopePath, scope.timeZone, item.key, item.hash, item.memberId ?? null,
      item.externalId ?? null, item.rule, item.quantity, item.occurredAt, item.memo, item.metadata == null ? null : JSON.stringify(item.metadata),
      item.householdExternalId ?? null],
  });
  return rows[0].r;
}

/** Awards; one result per item, in order (transaction ids: a batch's transactions are read only when asked for). */
export async function callAwardBatch(pool: pg.Pool | pg.PoolClient, scope: AwardScope, items: object[]): Promise<any[]> {
  const { rows } = await pool.query({
    name: 'cb_award_batch',
    text: 'SELECT cb_award_batch($1, $2, $3, $4, $5, $6) AS r',
    values: [scope.headId, scope.sub, scope.role, scope.scopePath, scope.timeZone, JSON.stringify(items)],
  });
  return rows[0].r;
}

/** A transfer, adjustment or reversal, answered with its transaction. */
export async function callPostEntry(pool: pg.Pool, scope: Omit<AwardScope, 'scopePath' | 'timeZone'>, key: string, operation: string, hash: string, entry: object): Promise<any> {
  const { rows } = await pool.query({
    name: 'cb_post_entry',
    text: 'SELECT cb_with_transaction($1, cb_post_entry($1, $2, $3, $4, $5, $6, $7)) AS r',
    values: [scope.headId, scope.sub, scope.role, key, operation, hash, JSON.stringify(entry)],
  });
  return rows[0].r;
}
