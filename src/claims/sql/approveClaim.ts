// Approving a claim: one round trip to cb_approve_claim (approve_claim.sql beside this file), which locks the claim and
// awards it through cb_award_batch, as a named prepared statement.
import type pg from 'pg';
import type { AwardScope } from '../../ledger/sql/award.js';

/** {replayed, transactionId} or {error: {code, message, field}}. */
export async function callApproveClaim(pool: pg.Pool, scope: AwardScope, claimId: string, key: string, hash: string): Promise<any> {
  const { rows } = await pool.query({
    name: 'cb_approve_claim',
    text: 'SELECT cb_approve_claim($1, $2, $3, $4, $5, $6, $7, $8) AS r',
    values: [scope.headId, scope.sub, scope.role, scope.scopePath, scope.timeZone, claimId, key, hash],
  });
  return rows[0].r;
}
