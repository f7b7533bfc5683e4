// Database errors become domain errors here, once, at the database edge.
// SQL functions raise SQLSTATE CB000 with the SPEC code in HINT (migrations/..._002_write_path.ts)
// and, when cb_fail is given one, the input field in COLUMN (migrations/..._040_single_award.ts);
// their text is matched against the message catalogue (errorMessages.ts) for its id and parameters.
// A database that cannot be reached or is going away (connection refused or lost, no free
// connection, shutdown, recovery, failover to a read-only standby) is UNAVAILABLE: a retryable 503.
import { BankError, errorCodes, unavailableRetryAfterSeconds, type ErrorCode } from '../errors.js';
import { englishMessage, matchMessage } from '../errorMessages.js';

interface PgError { code?: string; hint?: string; message: string; constraint?: string; detail?: string; column?: string; name?: string }

/** Constraint names that mean the caller asked for something the data forbids. */
const constraintErrors: Record<string, [ErrorCode, string]> = {
  transactions_reversed_once: ['INVALID_STATE', 'this transaction has already been reversed'],
  members_external_id_unique: ['INVALID_STATE', 'a member with this externalId already exists'],
  branches_code_key: ['INVALID_STATE', 'a branch with this code already exists'],
  rules_version_unique: ['INVALID_STATE', 'this rule version was defined concurrently; retry'],
};

/**
 * SQLSTATEs of a database that is not there for now: class 08 (connection exceptions), 57P01-57P03
 * (admin or crash shutdown, cannot connect now: starting up or in recovery), 53300 (too many
 * connections) and 25006 (a read-only transaction: a write that reached a standby during failover).
 */
const outageStates: ReadonlySet<string> = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300', '25006']);
/** Node's socket errors when the server's address does not answer or the connection drops. */
const outageSocketCodes: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** What node-postgres and knex say when a connection ends, cannot be made in time, or none is free. */
const outageMessages = [
  /^Connection terminated/, /timeout exceeded when trying to connect/, /Client has encountered a connection error and is not queryable/,
  /^Knex: Timeout acquiring a connection/, /Cannot use a pool after calling end on the pool/, /the database system is (starting up|shutting down|in recovery mode)/,
];

/** Whether an error means the database cannot be reached for now (rather than a bug or a refusal). */
export function isOutage(error: unknown): boolean {
  const e = error as PgError | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.code && (outageStates.has(e.code) || outageSocketCodes.has(e.code))) return true;
  if (e.name === 'KnexTimeoutError') return true;
  return typeof e.message === 'string' && outageMessages.some((m) => m.test(e.message));
}

export function unavailable(id: 'database.unavailable' | 'database.busy' = 'database.unavailable'): BankError {
  const params = { retryAfter: unavailableRetryAfterSeconds };
  return new BankError('UNAVAILABLE', englishMessage(id, params), undefined, { id, params });
}

/** PostgreSQL cancelled a statement at statement_timeout (not a cancel for another reason). */
export function isStatementTimeout(error: unknown): boolean {
  const e = error as PgError | undefined;
  return e?.code === '57014' && /statement timeout/.test(String(e.message));
}

export function statementTimedOut(): BankError {
  return new BankError('LIMIT_EXCEEDED', 'the request ran past its time budget and was stopped (nothing it was writing was kept); ask for less at once (smaller pages, fewer fields), or retry later with the same idempotencyKey');
}

export function isRetryable(error: unknown): boolean {
  const code = (error as PgError | undefined)?.code;
  return code === '40P01' || code === '40001';
}

export function translateDbError(error: unknown): unknown {
  if (error instanceof BankError) return error;
  const e = error as PgError;
  // cb_fail's three-argument form names the input field in the error's COLUMN (empty: none).
  if (e?.code === 'CB000' && e.hint && errorCodes.has(e.hint)) {
    return new BankError(e.hint as ErrorCode, e.message, e.column || undefined, matchMessage(e.hint, e.message));
  }
  if (e?.code === '23505' && e.constraint && constraintErrors[e.constraint]) {
    const [code, message] = constraintErrors[e.constraint]!;
    return new BankError(code, message, undefined, matchMessage(code, message));
  }
  if (isOutage(error)) return unavailable();
  // statement_timeout: the request's time budget (config.limits.requestTimeBudgetMs) ran out
  if (isStatementTimeout(e)) return statementTimedOut();
  // A lock not granted in lock_timeout, or a statement cancelled for another reason: the rows or the
  // server are busy now, and the same request will pass later.
  if (e?.code === '55P03' || e?.code === '57014') return unavailable('database.busy');
  return error;
}

/** Bounded retries of a whole database transaction on deadlock or serialization failure. */
const retryAttemptsMax = 5;

export async function withRetry<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt < retryAttemptsMax && isRetryable(error)) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      throw translateDbError(error);
    }
  }
}
