// Signing in: a username and a password give a short-lived token of the kind the API already accepts
// (role admin of the operator's branch, or merchant for its merchant), bound to a new session (`sid`).
// A wrong password and an unknown username answer the same message after the same work (a dummy
// hash); repeated failures lock the account (attempts.ts) and slow down the address (addressThrottle.ts).
import type { Bank } from '../bank.js';
import { signToken, type TokenClaims } from '../auth/tokens.js';
import { BankError } from '../errors.js';
import { AddressThrottle } from './addressThrottle.js';
import { attemptPassword, failedAttemptsMax, lockedError, lockMs } from './attempts.js';
import { findOperatorByUsername, normaliseUsername, type Operator } from './operators.js';
import { dummyHash, verifyPassword } from './passwords.js';
import { openSession } from './sessions.js';

export interface SignInResult { token: string; expiresAt: Date; operator: Operator }

export const wrongCredentialsMessage = `wrong username or password; after ${failedAttemptsMax} wrong passwords in a row an account locks for ${lockMs / 60_000} minutes`;

const throttles = new WeakMap<Bank, AddressThrottle>();

/** The address throttle of this bank (one per process and bank, as the bank is). */
export function addressThrottle(bank: Bank): AddressThrottle {
  let throttle = throttles.get(bank);
  if (!throttle) {
    throttle = new AddressThrottle(bank.config.operators.signInFailuresPerAddressMax, () => bank.clock().getTime());
    throttles.set(bank, throttle);
  }
  return throttle;
}

/** The claims of an operator's token: the same claims `npm run token` would give that person. */
async function claimsOf(bank: Bank, operator: Operator, sessionId: string): Promise<TokenClaims & { sid: string }> {
  const sub = `operator:${operator.id}`;
  if (operator.role === 'admin') {
    const branch = await bank.branches.requireById(operator.branchId);
    return { sub, role: 'admin', branch: branch.code, sid: sessionId };
  }
  // Merchant tokens are scoped to the head bank, as `npm run token` makes them: a merchant's rights come from its merchant claim.
  const head = await bank.branches.requireById(operator.headId);
  return { sub, role: 'merchant', branch: head.code, merchant: operator.merchantId!, sid: sessionId };
}

export async function signIn(bank: Bank, input: { username: unknown; password: unknown }, address: string | undefined): Promise<SignInResult> {
  const throttle = addressThrottle(bank);
  const from = address ?? 'unknown';
  throttle.check(from);
  const username = normaliseUsername(input.username);
  const operator = username ? await findOperatorByUsername(bank, username) : null;
  if (!operator) {
    // The same work as a known username's wrong password, so that neither time nor message tells them apart.
    await verifyPassword(typeof input.password === 'string' ? input.password : '', await dummyHash(bank.config.operators.passwordLogN));
    throttle.recordFailure(from);
    throw new BankError('UNAUTHENTICATED', wrongCredentialsMessage);
  }
  const outcome = await attemptPassword(bank, operator, input.password);
  if (outcome !== 'right') {
    throttle.recordFailure(from);
    if (outcome === 'wrong') throw new BankError('UNAUTHENTICATED', wrongCredentialsMessage);
    throw await lockedError(bank, operator, outcome.lockedUntil);
  }
  // Only someone who knows the password learns that the account is disabled.
  if (operator.disabledAt) {
    throw new BankError('UNAUTHENTICATED', `the operator "${operator.username}" is disabled; an admin of its branch can enable it`);
  }
  const now = bank.clock();
  const expiresAt = new Date(now.getTime() + bank.config.operators.sessionMinutes * 60_000);
  const sessionId = await bank.knex.transaction((trx) => openSession(trx, operator.headId, operator.id, now, expiresAt, address));
  const token = signToken(bank.config, await claimsOf(bank, operator, sessionId), bank.config.operators.sessionMinutes * 60);
  throttle.recordSuccess(from);
  return { token, expiresAt, operator: { ...operator, failedAttempts: 0, lockedUntil: null } };
}
