// Checking an operator's password against its lock: after failedAttemptsMax consecutive wrong
// passwords the account is locked for lockMs, and the answer says until when (in the bank's time
// zone) and that an admin can reset it. Each attempt is counted BEFORE its password is checked, in
// one UPDATE guarded by the lock, so concurrent guesses cannot check more than failedAttemptsMax
// passwords per lock period; a right password sets the count back to zero.
import type { Bank } from '../bank.js';
import { BankError } from '../errors.js';
import type { Operator } from './operators.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';

/** Consecutive wrong passwords that lock an account: enough for a few typos, too few to guess. */
export const failedAttemptsMax = 5;
/** How long a lock lasts: a coffee break for the person, a crawl for a guesser (5 guesses per 15 min). */
export const lockMs = 15 * 60_000;

export type Attempt = 'right' | 'wrong' | { lockedUntil: Date };

/** An instant in ISO 8601 with the offset of timeZone, e.g. 2026-12-02T22:15:00+08:00. */
export function isoInTimeZone(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    timeZoneName: 'longOffset',
  }).formatToParts(at).map((p) => [p.type, p.value]));
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName!.slice(3);
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

/** Checks password for operator, counting the attempt toward the lock. */
export async function attemptPassword(bank: Bank, operator: Operator, password: unknown): Promise<Attempt> {
  const now = bank.clock();
  if (operator.lockedUntil && operator.lockedUntil > now) return { lockedUntil: operator.lockedUntil };
  // Counts this attempt unless the account is locked; an expired lock starts a fresh count.
  const { rows } = await bank.knex.raw(`
    UPDATE operators o
       SET failed_attempts = CASE WHEN o.locked_until IS NOT NULL THEN 1 ELSE o.failed_attempts + 1 END,
           locked_until = CASE WHEN (CASE WHEN o.locked_until IS NOT NULL THEN 1 ELSE o.failed_attempts + 1 END) >= ?
                               THEN CAST(? AS timestamptz) END
     WHERE o.head_id = ? AND o.id = ? AND (o.locked_until IS NULL OR o.locked_until <= ?)
    RETURNING o.locked_until, o.password_hash`,
  [failedAttemptsMax, new Date(now.getTime() + lockMs), operator.headId, operator.id, now]);
  if (!rows[0]) {
    // Locked meanwhile by concurrent attempts.
    const row = await bank.knex('operators').where({ head_id: operator.headId, id: operator.id }).first('locked_until');
    return row?.locked_until ? { lockedUntil: row.locked_until } : 'wrong';
  }
  const stored: string = rows[0].password_hash;
  if (typeof password !== 'string' || !(await verifyPassword(password, stored))) {
    return rows[0].locked_until ? { lockedUntil: rows[0].locked_until } : 'wrong';
  }
  const rehashed = needsRehash(stored, bank.config.operators.passwordLogN) ? await hashPassword(password, bank.config.operators.passwordLogN) : null;
  await bank.knex('operators').where({ head_id: operator.headId, id: operator.id })
    .update({ failed_attempts: 0, locked_until: null, ...(rehashed ? { password_hash: rehashed } : {}) });
  return 'right';
}

/** The refusal of a locked account: until when, in the bank's time zone, and what to do. */
export async function lockedError(bank: Bank, operator: Operator, lockedUntil: Date): Promise<BankError> {
  const head = await bank.branches.requireById(operator.headId);
  return new BankError('LIMIT_EXCEEDED', `the account "${operator.username}" is locked after ${failedAttemptsMax} wrong passwords in a row, `
    + `until ${isoInTimeZone(lockedUntil, head.timeZone)} (${head.timeZone}); try again then, or ask an admin to reset the password, which also unlocks it`);
}

/** changeMyPassword's refusal of a wrong current password (or a locked account). */
export async function wrongCurrentPassword(bank: Bank, operator: Operator, outcome: Exclude<Attempt, 'right'>): Promise<BankError> {
  if (outcome !== 'wrong') return lockedError(bank, operator, outcome.lockedUntil);
  return new BankError('FORBIDDEN', `currentPassword is wrong; after ${failedAttemptsMax} wrong passwords in a row the account locks for ${lockMs / 60_000} minutes`, 'currentPassword');
}
