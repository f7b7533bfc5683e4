// Journal entries other than awards: transfers between members (gifts, or an admin moving points),
// balance adjustments, and reversals. Each is checked and built here, then posted by one SQL call
// (cb_post_entry) that claims the idempotency key and moves balances under their guards.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { checkId, findMember, type Member, type MemberRef } from '../directory/members.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { parseAmount } from './amounts.js';
import { checkMemo } from './awards.js';
import { checkIdempotencyKey, requestHash } from './idempotency.js';
import { callPostEntry } from './sql/award.js';
import { loadAccounts } from './accounts.js';
import { isWithin } from '../directory/branches.js';
import { loadTransaction, writeResultWithTransaction, requireTransactionVisible, type WriteResult } from './transactions.js';

export const reasonLengthMax = 500;

interface Line { accountId: string; amount: string }

interface Entry {
  kind: 'TRANSFER' | 'ADJUST' | 'REVERSAL';
  branchId: string;
  memberId: string | null;
  /** The household whose wallet the entry moves (a reversal of a household's transaction names it as the original did). */
  householdId?: string | null;
  memo: string | null;
  reason?: string | null;
  reversesId?: string;
  forced?: boolean;
  occurredAt?: string;
  lines: Line[];
}

async function postEntry(bank: Bank, principal: Principal, key: string, operation: string, meaning: unknown, entry: Entry): Promise<WriteResult> {
  const hash = requestHash(operation, meaning);
  const json = await withRetry(() => callPostEntry(bank.pool, { headId: principal.headId, sub: principal.sub, role: principal.role }, key, operation, hash, entry));
  return writeResultWithTransaction(bank, principal.headId, json);
}

async function walletOf(bank: Bank, member: Member, asset: string): Promise<string> {
  const row = await bank.knex('accounts')
    .where({ head_id: member.headId, owner_type: 'MEMBER', owner_id: member.id, asset_code: asset, purpose: 'WALLET' }).first('id');
  if (!row) throw new Error(`invariant broken: member ${member.id} has no ${asset} wallet`);
  return String(row.id);
}

async function systemAccountOf(bank: Bank, headId: string, branchId: string, asset: string, purpose: string): Promise<string> {
  const row = await bank.knex('accounts')
    .where({ head_id: headId, owner_type: 'SYSTEM', owner_id: branchId, asset_code: asset, purpose }).first('id');
  if (!row) throw new Error(`invariant broken: branch ${branchId} has no ${purpose} account for ${asset}`);
  return String(row.id);
}

export function checkReason(reason: unknown, required: boolean): string | null {
  if (reason == null || reason === '') {
    if (required) throw badInput('reason', 'is required: say why, for the audit trail');
    return null;
  }
  if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > reasonLengthMax) throw badInput('reason', `must be 1 to ${reasonLengthMax} characters`);
  return reason;
}

export interface TransferInput {
  idempotencyKey: string;
  from?: MemberRef | null;
  to: MemberRef;
  asset?: string | null;
  amount: string;
  memo?: string | null;
}

/**
 * A member gifts from its own wallet where its branch allows gifting; an admin moves points between
 * two members of its scope. The sender's available balance never goes below zero (invariant 3).
 */
export async function transferPoints(bank: Bank, principal: Principal, input: TransferInput): Promise<WriteResult> {
  requireRole(principal, 'member', 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const asset = bank.assets.get(input.asset ?? 'POINTS');
  if (!asset.transferable) throw badInput('asset', `${asset.code} cannot be transferred`);
  const amount = parseAmount('amount', input.amount, { scale: asset.scale, sign: 'positive' });
  const memo = checkMemo(input.memo);
  let from: Member;
  if (principal.role === 'member') {
    if (input.from && (input.from.id ?? null) !== principal.memberId && input.from.id != null) {
      throw new BankError('FORBIDDEN', 'a member transfers only from its own wallet');
    }
    from = await findMember(bank, principal.headId, { id: principal.memberId }, 'from');
    if (input.from?.externalId != null && input.from.externalId !== from.externalId) {
      throw new BankError('FORBIDDEN', 'a member transfers only from its own wallet');
    }
    const branch = await bank.branches.requireById(from.branchId);
    if (!branch.allowGifting) throw new BankError('FORBIDDEN', `branch ${branch.code} does not allow gifting points between members`);
  } else {
    if (!input.from) throw badInput('from', 'an admin names the member to transfer from');
    from = await findMember(bank, principal.headId, input.from, 'from');
    requireScope(principal, await bank.branches.requireById(from.branchId), 'member');
  }
  if (!input.to) throw badInput('to', 'name the receiving member');
  const to = await findMember(bank, principal.headId, input.to, 'to');
  if (principal.role === 'admin') requireScope(principal, await bank.branches.requireById(to.branchId), 'member');
  if (to.id === from.id) throw badInput('to', 'cannot transfer to the same member');
  const [fromWallet, toWallet] = await Promise.all([walletOf(bank, from, asset.code), walletOf(bank, to, asset.code)]);
  const value = amount.toFixed(asset.scale);
  return postEntry(bank, principal, key, 'transferPoints', { from: from.id, to: to.id, asset: asset.code, amount: value, memo }, {
    kind: 'TRANSFER', branchId: from.branchId, memberId: from.id, memo,
    lines: [{ accountId: fromWallet, amount: `-${value}` }, { accountId: toWallet, amount: value }],
  });
}

export interface AdjustInput {
  idempotencyKey: string;
  member: MemberRef;
  asset: string;
  amount: string;
  reason: string;
  memo?: string | null;
}

/** An admin corrects a balance by a signed amount against its branch's adjustment account. */
export async function adjustBalance(bank: Bank, principal: Principal, input: AdjustInput): Promise<WriteResult> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const asset = bank.assets.get(input.asset);
  const amount = parseAmount('amount', input.amount, { scale: asset.scale, sign: 'nonzero' });
  const reason = checkReason(input.reason, true);
  const memo = checkMemo(input.memo);
  const member = await findMember(bank, principal.headId, input.member);
  requireScope(principal, await bank.branches.requireById(member.branchId), 'member');
  const wallet = await walletOf(bank, member, asset.code);
  const adjustment = await systemAccountOf(bank, member.headId, member.branchId, asset.code, 'ADJUSTMENT');
  const value = amount.toFixed(asset.scale);
  return postEntry(bank, principal, key, 'adjustBalance', { member: member.id, asset: asset.code, amount: value, reason, memo }, {
    kind: 'ADJUST', branchId: member.branchId, memberId: member.id, memo, reason,
    lines: [{ accountId: wallet, amount: value }, { accountId: adjustment, amount: amount.negated().toFixed(asset.scale) }],
  });
}

/** Kinds whose undoing belongs to another operation, and what to do instead. */
const undoneOnlyBy: Record<string, string> = {
  REDEEM: 'undo it with refundRedemption (cancelRedemption while the voucher is pending)',
  DONATE: 'donations come back with closePool, which returns every donation of the pool',
  DISBURSE: 'a disbursed pool is paid out for good',
};

export interface ReverseInput {
  idempotencyKey: string;
  transaction: string;
  reason?: string | null;
  force?: boolean | null;
}

/** Every member wallet among accounts is, today, inside the caller's branch scope; FORBIDDEN otherwise (naming no one). */
async function requireMembersInScope(bank: Bank, principal: Principal, accountIds: string[]): Promise<void> {
  const accounts = await loadAccounts(bank, principal.headId, [...new Set(accountIds)]);
  for (const account of accounts) {
    if (account?.ownerType !== 'MEMBER') continue;
    if (!isWithin(await bank.branches.requireById(account.branchId), principal.branch)) {
      throw new BankError('FORBIDDEN', `a member this transaction touches is now outside your scope (${principal.branch.code}); an admin of its current branch may reverse it`);
    }
  }
}

/**
 * Undoes a posted transaction with one that posts the opposite amounts and points back at it; a
 * transaction is reversed at most once (the database holds that: transactions_reversed_once).
 * Where the points were already spent it is INSUFFICIENT_FUNDS, unless an admin forces it (the
 * clawback of a fraudulent award): the wallet then goes negative and later earnings repay it.
 * A client may reverse what it wrote itself, without force.
 */
export async function reverseTransaction(bank: Bank, principal: Principal, input: ReverseInput): Promise<WriteResult> {
  requireRole(principal, 'admin', 'client');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const id = checkId(input.transaction, 'transaction');
  const force = input.force ?? false;
  if (force && principal.role !== 'admin') throw new BankError('FORBIDDEN', 'only an admin may force a reversal');
  const reason = checkReason(input.reason, force);
  const original = await loadTransaction(bank, principal.headId, id);
  if (!original) throw new BankError('NOT_FOUND', `transaction: no transaction ${id}`, 'transaction');
  await requireTransactionVisible(bank, principal, original);
  // The transaction's branch is where it was written; the members it touches may have moved since.
  // A write answers to the members' CURRENT branch (wallets follow their member: migration 032), so
  // the old branch's admin cannot undo (and read the new balances of) a member that left its scope.
  await requireMembersInScope(bank, principal, original.postings.map((p) => p.accountId));
  // "It wrote it" is the same head bank (loaded from it), role and sub: a member or an admin whose
  // token happens to carry the client's sub did not write as that client.
  if (principal.role === 'client' && (original.principalRole !== 'client' || original.principalSub !== principal.sub)) {
    throw new BankError('FORBIDDEN', `a client reverses only transactions it wrote itself; transaction ${id} was written by another caller`);
  }
  const meaning = { transaction: id, reason, force };
  // A replay must answer even though the original is now reversed: let SQL look at the key first.
  const keyClaimed = async () => Boolean(await bank.knex('idempotency_keys').where({ head_id: principal.headId, subject: principal.sub, key }).first('key'));
  if (!(await keyClaimed())) {
    if (original.kind === 'REVERSAL') throw new BankError('INVALID_STATE', `transaction ${id} is itself a reversal; post a new transaction instead`);
    // These carry state outside the journal (a voucher, a pool's raised amount and status): only
    // their own operations may undo them, so that the two never disagree.
    const undoneBy = undoneOnlyBy[original.kind];
    if (undoneBy) throw new BankError('INVALID_STATE', `transaction ${id} is a ${original.kind} and cannot be reversed directly: ${undoneBy}`);
    if (original.status !== 'POSTED') throw new BankError('INVALID_STATE', `transaction ${id} is ${original.status}; only a POSTED transaction can be reversed`);
    const existing = await bank.knex('transactions').where({ head_id: principal.headId, reverses_id: id }).first('id');
    // The reversal found may be this very request's, committed since the key was read (a retry racing
    // its original after a lost answer): then the key is claimed now, and SQL replays it.
    if (existing && !(await keyClaimed())) throw new BankError('INVALID_STATE', `transaction ${id} was already reversed by transaction ${existing.id}`);
  }
  const lines = original.postings.map((p) => ({ accountId: p.accountId, amount: new Decimal(p.amount).negated().toFixed(bank.assets.get(p.asset).scale) }));
  return postEntry(bank, principal, key, 'reverseTransaction', meaning, {
    kind: 'REVERSAL', branchId: original.branchId, memberId: original.memberId, householdId: original.householdId, memo: null, reason,
    reversesId: id, forced: force, lines,
  });
}
