// Operator accounts: people who sign in to the pages, an `admin` of a branch subtree or `merchant`
// staff of one merchant. Admins manage the operators of their own subtree (create, reset a password,
// disable, enable), exactly as the API scopes admins; an operator outside the caller's scope reads
// as not found. Disabling an operator or resetting its password ends its sessions at once.
// Passwords go through passwords.ts and nothing here selects, logs or returns a hash.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { checkId } from '../directory/members.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { decodePageCursor, pageOf } from '../pagination.js';
import { findMerchant, type Merchant } from '../redemption/merchants.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import { attemptPassword, wrongCurrentPassword } from './attempts.js';
import { revokeSessions } from './sessions.js';

export type OperatorRole = 'admin' | 'merchant';
export const operatorRoles: readonly OperatorRole[] = ['admin', 'merchant'];

export interface Operator {
  id: string;
  headId: string;
  username: string;
  displayName: string;
  role: OperatorRole;
  /** An admin's scope; merchant staff: the merchant's branch. */
  branchId: string;
  merchantId: string | null;
  disabledAt: Date | null;
  failedAttempts: number;
  lockedUntil: Date | null;
  createdBy: string;
  createdAt: Date;
  passwordChangedAt: Date;
}

/** Usernames: the pattern of the operators_username_normalised constraint (migration 060). */
const usernamePattern = /^[a-z0-9][a-z0-9._@-]{2,63}$/;
/** A name for people: a person's name, or "Counter 2, Caring Grocery". */
export const displayNameLengthMax = 100;

/** Every column but password_hash: the hash is read only where a password is checked (signIn.ts). */
export const operatorColumns = ['head_id', 'id', 'username', 'display_name', 'role', 'branch_id', 'merchant_id', 'disabled_at',
  'failed_attempts', 'locked_until', 'created_by', 'created_at', 'password_changed_at'].map((c) => `o.${c}`).join(', ');

export function toOperator(r: Record<string, any>): Operator {
  return {
    id: String(r.id), headId: String(r.head_id), username: r.username, displayName: r.display_name, role: r.role,
    branchId: String(r.branch_id), merchantId: r.merchant_id == null ? null : String(r.merchant_id), disabledAt: r.disabled_at,
    failedAttempts: r.failed_attempts, lockedUntil: r.locked_until, createdBy: r.created_by, createdAt: r.created_at,
    passwordChangedAt: r.password_changed_at,
  };
}

/**
 * A username as stored: NFKC (full-width letters typed with a Chinese input method become ASCII),
 * trimmed, lower case. Null when it cannot be a username at all.
 */
export function normaliseUsername(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 200) return null;
  const username = raw.normalize('NFKC').trim().toLowerCase();
  return usernamePattern.test(username) ? username : null;
}

export function checkUsername(raw: unknown, field = 'username'): string {
  const username = normaliseUsername(raw);
  if (!username) throw badInput(field, '3 to 64 characters: letters, digits, ".", "_", "@" or "-", starting with a letter or digit (stored in lower case)');
  return username;
}

function checkDisplayName(raw: unknown, field = 'displayName'): string {
  if (typeof raw !== 'string' || raw.trim().length === 0 || [...raw].length > displayNameLengthMax || /[\u0000-\u001f\u007f-\u009f]/.test(raw)) {
    throw badInput(field, `must be 1 to ${displayNameLengthMax} characters without control characters`);
  }
  return raw.trim();
}

export async function loadOperator(bank: Bank, headId: string, id: string): Promise<Operator | null> {
  const { rows } = await bank.knex.raw(`SELECT ${operatorColumns} FROM operators o WHERE o.head_id = ? AND o.id = ?`, [headId, id]);
  return rows[0] ? toOperator(rows[0]) : null;
}

export async function findOperatorByUsername(bank: Bank, username: string): Promise<Operator | null> {
  const { rows } = await bank.knex.raw(`SELECT ${operatorColumns} FROM operators o WHERE o.username = ?`, [username]);
  return rows[0] ? toOperator(rows[0]) : null;
}

/** Where a new operator sits: the branch (an admin's scope, or its merchant's branch) and, for staff, the merchant. */
export interface Placement { branch: Branch; merchant: Merchant | null }

/**
 * Resolves role, branch and merchant of a new operator in a head bank. An admin needs a branch and no
 * merchant; merchant staff need a merchant (branch optional: when given, the merchant must be inside it).
 */
export async function placeOperator(bank: Bank, headId: string, role: unknown, branchCode: unknown, merchantId: unknown): Promise<Placement> {
  if (!operatorRoles.includes(role as OperatorRole)) throw badInput('role', `must be one of ${operatorRoles.join(', ')}`);
  const given = branchCode == null || branchCode === '' ? null : await bank.branches.require(String(branchCode), 'branch');
  if (given && given.headId !== headId) throw new BankError('NOT_FOUND', `branch: no branch with code "${String(branchCode)}" in this bank`, 'branch');
  if (role === 'admin') {
    if (merchantId != null) throw badInput('merchant', 'an admin is not staff of a merchant; leave merchant out (or choose role merchant)');
    if (!given) throw badInput('branch', 'an admin needs the branch whose subtree it manages');
    return { branch: given, merchant: null };
  }
  if (merchantId == null) throw badInput('merchant', 'merchant staff need the merchant they work for');
  const merchant = await findMerchant(bank, headId, merchantId, 'merchant');
  const branch = await bank.branches.requireById(merchant.branchId);
  if (given && !isWithin(branch, given)) throw badInput('branch', `merchant ${merchant.id} belongs to branch ${branch.code}, not inside ${given.code}; leave branch out`);
  return { branch, merchant };
}

export interface NewOperator {
  headId: string;
  username: string;
  displayName: string;
  role: OperatorRole;
  placement: Placement;
  passwordHash: string;
  createdBy: string;
}

/** Inserts an operator unless its username is taken (then null); concurrent inserts of one username create one. */
export async function insertOperator(db: Knex | Knex.Transaction, op: NewOperator): Promise<string | null> {
  const { rows } = await db.raw(`
    INSERT INTO operators (head_id, username, display_name, role, branch_id, merchant_id, password_hash, created_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING RETURNING id`,
  [op.headId, op.username, op.displayName, op.role, op.placement.branch.id, op.placement.merchant?.id ?? null, op.passwordHash, op.createdBy]);
  return rows[0] ? String(rows[0].id) : null;
}

function usernameTaken(username: string): BankError {
  return new BankError('INVALID_STATE', `username "${username}" is taken; choose another`, 'username');
}

export interface CreateOperatorInput {
  idempotencyKey?: string | null;
  username: string;
  password: string;
  displayName: string;
  role: OperatorRole;
  branch?: string | null;
  merchant?: string | null;
}

/**
 * An admin creates an operator inside its scope: an admin of a branch of its subtree, or staff of a
 * merchant of its subtree. With an idempotencyKey a retry replays; without, a second request for the
 * same username is refused as taken. The password is not part of the request's hash (a fast hash of
 * a password must not be stored), so a replay with another password replays the first request.
 */
export async function createOperator(bank: Bank, principal: Principal, input: CreateOperatorInput): Promise<{ operator: Operator; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = input.idempotencyKey == null ? null : checkIdempotencyKey(input.idempotencyKey);
  const username = checkUsername(input.username);
  const displayName = checkDisplayName(input.displayName);
  const password = checkPasswordPolicy(input.password, 'password', username);
  const placement = await placeOperator(bank, principal.headId, input.role, input.branch, input.merchant);
  requireScope(principal, placement.branch, placement.merchant ? `merchant ${placement.merchant.id}` : `branch ${placement.branch.code}`);
  const passwordHash = await hashPassword(password, bank.config.operators.passwordLogN);
  const create = async (trx: Knex.Transaction) => {
    const id = await insertOperator(trx, {
      headId: principal.headId, username, displayName, role: input.role, placement, passwordHash, createdBy: principal.sub,
    });
    if (!id) throw usernameTaken(username);
    return { id };
  };
  const hash = requestHash('createOperator', { username, displayName, role: input.role, branch: placement.branch.code, merchant: placement.merchant?.id ?? null });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    (key ? runIdempotent(trx, principal, key, 'createOperator', hash, () => create(trx)) : create(trx).then((result) => ({ result, replayed: false })))));
  const operator = await loadOperator(bank, principal.headId, String(result.id));
  if (!operator) throw new Error(`invariant broken: operator ${String(result.id)} was created but cannot be read`);
  return { operator, replayed };
}

/** An operator the admin may manage; out of scope (or of another head bank) it reads as not found. */
export async function operatorInScope(bank: Bank, principal: Principal, id: unknown, field = 'id'): Promise<Operator | null> {
  requireRole(principal, 'admin');
  const operator = await loadOperator(bank, principal.headId, checkId(id, field));
  if (!operator) return null;
  const branch = await bank.branches.requireById(operator.branchId);
  return isWithin(branch, principal.branch) ? operator : null;
}

async function requireOperatorInScope(bank: Bank, principal: Principal, id: unknown): Promise<Operator> {
  const operator = await operatorInScope(bank, principal, id);
  if (!operator) throw new BankError('NOT_FOUND', `id: no operator ${String(id)} in your scope (${principal.branch.code})`, 'id');
  return operator;
}

/** Operators of a branch subtree (default: the admin's scope), oldest first. */
export async function listOperators(bank: Bank, principal: Principal, branchCode: string | null | undefined, first: number | null | undefined, after: string | null | undefined) {
  requireRole(principal, 'admin');
  const size = checkPageSize(first);
  const afterId = decodePageCursor('o', after);
  const scope = branchCode == null ? principal.branch : await bank.branches.require(branchCode, 'branch');
  requireScope(principal, scope, `branch ${scope.code}`);
  const { rows } = await bank.knex.raw(`
    SELECT ${operatorColumns} FROM operators o JOIN branches b ON b.id = o.branch_id
     WHERE o.head_id = ? AND starts_with(b.path, ?) ${afterId ? 'AND o.id > ?' : ''}
     ORDER BY o.id LIMIT ?`, [principal.headId, scope.path, ...(afterId ? [afterId] : []), size + 1]);
  return pageOf('o', rows.map(toOperator), size);
}

/**
 * Sets an operator's password (already hashed): clears its lock and ends its sessions, except keep
 * (the session of an operator changing its own password). Shared by the API and `npm run operator`.
 */
export async function setOperatorPassword(bank: Bank, operator: Operator, passwordHash: string, keep?: string): Promise<Operator> {
  const now = bank.clock();
  await bank.knex.transaction(async (trx) => {
    await trx('operators').where({ head_id: operator.headId, id: operator.id })
      .update({ password_hash: passwordHash, password_changed_at: now, failed_attempts: 0, locked_until: null });
    await revokeSessions(trx, operator.headId, operator.id, now, keep);
  });
  return (await loadOperator(bank, operator.headId, operator.id))!;
}

/** Disables (its sessions end at once; enabling later does not bring them back) or enables an operator. */
export async function setOperatorDisabled(bank: Bank, operator: Operator, disabled: boolean): Promise<Operator> {
  const now = bank.clock();
  await bank.knex.transaction(async (trx) => {
    const q = trx('operators').where({ head_id: operator.headId, id: operator.id });
    if (disabled) {
      await q.whereNull('disabled_at').update({ disabled_at: now });
      await revokeSessions(trx, operator.headId, operator.id, now);
    } else {
      await q.update({ disabled_at: null });
    }
  });
  return (await loadOperator(bank, operator.headId, operator.id))!;
}

/** An admin sets a new password for an operator of its scope; this also clears a lock and ends the operator's sessions. */
export async function resetOperatorPassword(bank: Bank, principal: Principal, input: { id: string; password: string }): Promise<Operator> {
  const operator = await requireOperatorInScope(bank, principal, input.id);
  if (operator.id === principal.operatorId) {
    throw new BankError('FORBIDDEN', 'you cannot reset your own password here; use changeMyPassword, which asks for the current one');
  }
  return setOperatorPassword(bank, operator, await hashPassword(checkPasswordPolicy(input.password, 'password', operator.username), bank.config.operators.passwordLogN));
}

/** Disables an operator of the admin's scope: its sessions end at once and it cannot sign in until enabled. */
export async function disableOperator(bank: Bank, principal: Principal, input: { id: string }): Promise<Operator> {
  const operator = await requireOperatorInScope(bank, principal, input.id);
  if (operator.id === principal.operatorId) throw new BankError('INVALID_STATE', 'you cannot disable yourself; ask another admin of your branch or above');
  return setOperatorDisabled(bank, operator, true);
}

/** Enables a disabled operator of the admin's scope; it signs in afresh (its old sessions stay ended). */
export async function enableOperator(bank: Bank, principal: Principal, input: { id: string }): Promise<Operator> {
  return setOperatorDisabled(bank, await requireOperatorInScope(bank, principal, input.id), false);
}

/**
 * The signed-in operator changes its own password, giving the current one (a wrong one counts toward
 * the lock, as at sign-in). Its other sessions end; the one it is using stays.
 */
export async function changeMyPassword(bank: Bank, principal: Principal, input: { currentPassword: string; newPassword: string }): Promise<Operator> {
  if (!principal.operatorId || !principal.sessionId) {
    throw new BankError('FORBIDDEN', 'changeMyPassword is for operators signed in with signIn; this token has no operator');
  }
  const operator = await loadOperator(bank, principal.headId, principal.operatorId);
  if (!operator) throw new Error(`invariant broken: the session's operator ${principal.operatorId} is missing`);
  const outcome = await attemptPassword(bank, operator, input.currentPassword);
  if (outcome !== 'right') throw await wrongCurrentPassword(bank, operator, outcome);
  const password = checkPasswordPolicy(input.newPassword, 'newPassword', operator.username);
  if (password === input.currentPassword.normalize('NFKC')) throw badInput('newPassword', 'must differ from the current password');
  return setOperatorPassword(bank, operator, await hashPassword(password, bank.config.operators.passwordLogN), principal.sessionId);
}
