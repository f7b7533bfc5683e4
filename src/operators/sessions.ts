// Operator sessions: a signed-in token carries its session id (`sid`), and every request with it is
// checked here in one indexed statement (auth/principal.ts): the session is neither revoked nor
// expired and its operator is not disabled. Signing out, disabling the operator and resetting its
// password revoke sessions, so the very next request with their tokens is refused.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { BankError } from '../errors.js';
import type { Principal } from '../auth/principal.js';

/** Live sessions one operator may hold: the till phone and a spare, a desk and a phone; signing in past it ends the oldest. */
export const liveSessionsPerOperatorMax = 10;
/** Ended sessions are kept this long (when and from where an operator signed in), then pruned at its next sign-in. */
export const sessionRetentionDays = 30;
/** The longest address kept (an IPv6 address with a zone is under 64 characters). */
const addressLengthMax = 100;

export const sessionEndedMessage = 'your session has ended: signed out, expired or the operator was disabled; sign in again';

export interface LiveSession { role: string; branchId: string; merchantId: string | null }

/** The session's operator as it is now, if the session is live; null when it has ended (for whatever reason). */
export async function findLiveSession(bank: Bank, headId: string, sessionId: string, operatorId: string, now: Date): Promise<LiveSession | null> {
  const { rows } = await bank.pool.query({
    name: 'cb_operator_session',
    text: `SELECT o.role, o.branch_id::text AS branch_id, o.merchant_id::text AS merchant_id
             FROM operator_sessions s JOIN operators o ON o.head_id = s.head_id AND o.id = s.operator_id
            WHERE s.head_id = $1 AND s.id = $2 AND s.operator_id = $3
              AND s.revoked_at IS NULL AND s.expires_at > $4 AND o.disabled_at IS NULL`,
    values: [headId, sessionId, operatorId, now],
  });
  const row = rows[0];
  return row ? { role: row.role, branchId: row.branch_id, merchantId: row.merchant_id } : null;
}

/** Opens a session for a signed-in operator, ending its oldest live ones past the limit and pruning long-ended ones. */
export async function openSession(trx: Knex.Transaction, headId: string, operatorId: string, now: Date, expiresAt: Date, address: string | undefined): Promise<string> {
  await trx('operator_sessions').where({ head_id: headId, operator_id: operatorId })
    .where('expires_at', '<', new Date(now.getTime() - sessionRetentionDays * 86_400_000)).delete();
  await trx.raw(`
    UPDATE operator_sessions SET revoked_at = ?
     WHERE head_id = ? AND id IN (SELECT id FROM operator_sessions
                                   WHERE head_id = ? AND operator_id = ? AND revoked_at IS NULL AND expires_at > ?
                                   ORDER BY created_at DESC OFFSET ?)`,
  [now, headId, headId, operatorId, now, liveSessionsPerOperatorMax - 1]);
  const [row] = await trx('operator_sessions').insert({
    head_id: headId, operator_id: operatorId, created_at: now, expires_at: expiresAt, address: address?.slice(0, addressLengthMax) ?? null,
  }).returning('id');
  return String(row.id);
}

/** Ends an operator's live sessions (all, or all but one). */
export async function revokeSessions(db: Knex | Knex.Transaction, headId: string, operatorId: string, now: Date, except?: string): Promise<number> {
  const q = db('operator_sessions').where({ head_id: headId, operator_id: operatorId }).whereNull('revoked_at').where('expires_at', '>', now);
  if (except) q.whereNot({ id: except });
  return q.update({ revoked_at: now });
}

/** Ends the session of the caller's token; a token not made by signIn has none. */
export async function signOut(bank: Bank, principal: Principal): Promise<{ endedAt: Date }> {
  if (!principal.sessionId) {
    throw new BankError('INVALID_STATE', 'this token was not made by signIn, so it has no session to end; it stays valid until it expires');
  }
  const now = bank.clock();
  // authenticate() found the session live a moment ago; if a concurrent sign-out ended it since, the outcome is the same.
  await bank.knex('operator_sessions').where({ head_id: principal.headId, id: principal.sessionId }).whereNull('revoked_at')
    .update({ revoked_at: now });
  return { endedAt: now };
}
