// Invariant 4 on the Node side: the request hash that a key is bound to, and idempotent
// administration writes (createBranch, upsertMember, defineRule) whose result is an entity id
// rather than a journal transaction. Ledger writes claim their key inside SQL (cb_claim_key).
import { hash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Principal } from '../auth/principal.js';
import { BankError, badInput } from '../errors.js';

/** Keys are chosen by clients (a UUID is typical); longer ones are refused. */
export const idempotencyKeyLengthMax = 200;

export function checkIdempotencyKey(key: unknown, field = 'idempotencyKey'): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > idempotencyKeyLengthMax || /[\u0000-\u001f\u007f]/.test(key)) {
    throw badInput(field, `must be 1 to ${idempotencyKeyLengthMax} printable characters`);
  }
  return key;
}

/** Canonical JSON: keys sorted, undefined dropped, so equal requests hash equal. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/** The hash of a request's meaning (normalized input without its key). */
export function requestHash(operation: string, normalizedInput: unknown): string {
  return hashCanonical(operation, canonical(normalizedInput));
}

/** The hash of a request whose canonical JSON the caller wrote itself (a hot path's fixed shape; equal to requestHash's). */
export function hashCanonical(operation: string, canonicalText: string): string {
  return hash('sha256', `${operation}\n${canonicalText}`, 'base64url');
}

/**
 * Runs an administration write once per key: inside trx, claims (principal, key) for this request;
 * a replay returns the stored result, a different request with the key is IDEMPOTENCY_CONFLICT.
 */
export async function runIdempotent<T extends Record<string, unknown>>(
  trx: Knex.Transaction, principal: Principal, key: string, operation: string, hash: string,
  write: () => Promise<T>,
): Promise<{ result: T; replayed: boolean }> {
  const claimed = await trx.raw(
    `INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, result)
     VALUES (?, ?, ?, ?, ?, '{}'::jsonb) ON CONFLICT DO NOTHING RETURNING 1`,
    [principal.headId, principal.sub, key, operation, hash],
  );
  if (claimed.rowCount === 0) {
    const existing = await trx('idempotency_keys').where({ head_id: principal.headId, subject: principal.sub, key }).first();
    if (!existing || existing.operation !== operation || existing.request_hash !== hash || existing.result === null) {
      throw new BankError('IDEMPOTENCY_CONFLICT',
        `idempotencyKey "${key}" was already used for a different ${existing?.operation ?? ''} request; send a new key for a new request`);
    }
    return { result: existing.result as T, replayed: true };
  }
  const result = await write();
  await trx('idempotency_keys').where({ head_id: principal.headId, subject: principal.sub, key }).update({ result });
  return { result, replayed: false };
}
