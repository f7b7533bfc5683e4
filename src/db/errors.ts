// Database errors become domain errors here, once, at the database edge.
// SQL functions raise SQLSTATE CB000 with the SPEC code in HINT (migrations/..._002_write_path.ts)
// and, when cb_fail is given one, the input field in COLUMN (migrations/..._040_single_award.ts).
import { BankError, errorCodes, type ErrorCode } from '../errors.js';

interface PgError { code?: string; hint?: string; message: string; constraint?: string; detail?: string; column?: string }

/** Constraint names that mean the caller asked for something the data forbids. */
const constraintErrors: Record<string, [ErrorCode, string]> = {
  transactions_reversed_once: ['INVALID_STATE', 'this transaction has already been reversed'],
  members_external_id_unique: ['INVALID_STATE', 'a member with this externalId already exists'],
  branches_code_key: ['INVALID_STATE', 'a branch with this code already exists'],
  rules_version_unique: ['INVALID_STATE', 'this rule version was defined concurrently; retry'],
};

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
  if (e?.code === 'CB000' && e.hint && errorCodes.has(e.hint)) return new BankError(e.hint as ErrorCode, e.message, e.column || undefined);
  if (e?.code === '23505' && e.constraint && constraintErrors[e.constraint]) {
    const [code, message] = constraintErrors[e.constraint]!;
    return new BankError(code, message);
  }
  // statement_timeout: the request's time budget (config.limits.requestTimeBudgetMs) ran out
  if (isStatementTimeout(e)) return statementTimedOut();
  if (e?.code === '55P03' || e?.code === '57014') {
    return new BankError('INTERNAL', 'the database was too busy to answer in time; retry with the same idempotencyKey');
  }
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
