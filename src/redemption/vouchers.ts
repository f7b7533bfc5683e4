// The voucher lifecycle: redeem (hold points, reserve stock, issue a voucher code), fulfil at the
// counter (核销: the hold posts to the merchant), cancel (hold and stock released), expiry (the
// same, by the sweeper), refund (a reversal after fulfilment). Each write is one SQL function
// (src/redemption/sql/*.sql) that holds invariants 3, 4 and 6; this file checks input and who may ask.
import { randomInt } from 'node:crypto';
import type { Bank } from '../bank.js';
import { requireRole, visibleOrNull, type Principal } from '../auth/principal.js';
import { BankError, badInput } from '../errors.js';
import { callFunction } from '../db/callFunction.js';
import { checkId } from '../directory/members.js';
import { checkWallet, type Wallet } from '../households/households.js';
import { formatAmount } from '../ledger/amounts.js';
import { checkIdempotencyKey, requestHash } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { findMerchant, requireMerchantManaged } from './merchants.js';
import { decodePageCursor, pageOf } from '../pagination.js';

export type RedemptionStatus = 'PENDING' | 'FULFILLED' | 'CANCELLED' | 'EXPIRED' | 'REFUNDED';
export const redemptionStatuses: readonly RedemptionStatus[] = ['PENDING', 'FULFILLED', 'CANCELLED', 'EXPIRED', 'REFUNDED'];

export interface Redemption {
  id: string;
  headId: string;
  code: string;
  itemId: string;
  merchantId: string;
  memberId: string;
  /** The household whose wallet the voucher spent from; null: the member's own (migration 072). */
  householdId: string | null;
  quantity: number;
  cost: string;
  /** As of now: a PENDING voucher past its expiry reads EXPIRED, swept or not. */
  status: RedemptionStatus;
  transactionId: string;
  refundTransactionId: string | null;
  expiresAt: Date;
  createdAt: Date;
  fulfilledAt: Date | null;
  releasedAt: Date | null;
  refundedAt: Date | null;
  restocked: boolean;
}

export interface RedemptionWrite { redemptionId: string; transactionId: string | null; replayed: boolean }

/** One redemption takes at most this many units: a counter sale, not a wholesale order. */
export const redeemQuantityMax = 100;
/** Crockford base32: no I, L, O or U, so a code read aloud cannot be misheard as another. */
const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 10 characters × 5 bits = 50 random bits: guessing one live voucher takes ~10^14 tries. */
export const voucherCodeLength = 10;
/** A fresh code collides with an existing one about never; a bounded retry covers it. */
const codeAttemptsMax = 3;

export function newVoucherCode(): string {
  let code = '';
  for (let i = 0; i < voucherCodeLength; i++) code += crockford[randomInt(32)];
  return code;
}

/** Codes as people type them: any case, with dashes or spaces, O for 0, I or L for 1. */
export function normalizeVoucherCode(raw: unknown, field = 'code'): string {
  if (typeof raw !== 'string' || raw.length > 40) throw badInput(field, `must be a ${voucherCodeLength}-character voucher code`);
  const code = raw.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (code.length !== voucherCodeLength || [...code].some((c) => !crockford.includes(c))) {
    throw badInput(field, `"${raw.slice(0, 40)}" is not a voucher code (${voucherCodeLength} characters of 0-9 and A-Z without I, L, O, U)`);
  }
  return code;
}

export function toRedemption(bank: Bank, r: Record<string, any>): Redemption {
  return {
    id: String(r.id), headId: String(r.head_id), code: r.code, itemId: String(r.item_id), merchantId: String(r.merchant_id),
    memberId: String(r.member_id), householdId: r.household_id == null ? null : String(r.household_id), quantity: r.quantity, cost: formatAmount(r.cost, bank.assets.get('POINTS').scale),
    status: r.effective_status, transactionId: String(r.transaction_id),
    refundTransactionId: r.refund_transaction_id == null ? null : String(r.refund_transaction_id),
    expiresAt: r.expires_at, createdAt: r.created_at, fulfilledAt: r.fulfilled_at, releasedAt: r.released_at,
    refundedAt: r.refunded_at, restocked: r.restocked,
  };
}

const redemptionColumns = 'r.*, cb_redemption_status(r.status, r.expires_at) AS effective_status';

export async function loadRedemptions(bank: Bank, headId: string, ids: readonly string[]): Promise<(Redemption | null)[]> {
  const { rows } = await bank.knex.raw(`SELECT ${redemptionColumns} FROM redemptions r WHERE r.head_id = ? AND r.id = ANY(?::bigint[])`, [headId, ids as string[]]);
  const byId = new Map<string, Redemption>(rows.map((r: any) => [String(r.id), toRedemption(bank, r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

function writeFrom(json: any): RedemptionWrite {
  if (typeof json?.redemptionId !== 'string') throw new Error('invariant broken: a voucher write answered without a redemption id');
  return { redemptionId: json.redemptionId, transactionId: json.transactionId ?? null, replayed: Boolean(json.replayed) };
}

export interface RedeemInput { idempotencyKey: string; item: string; quantity?: number | null; wallet?: Wallet | null }

/**
 * A member redeems from its own wallet, or from its household's (wallet HOUSEHOLD, where the branch
 * policy lets it: cb_household_spender): points held, stock reserved, a voucher issued.
 */
export async function redeem(bank: Bank, principal: Principal, input: RedeemInput): Promise<RedemptionWrite> {
  requireRole(principal, 'member');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const item = checkId(input.item, 'item');
  const quantity = input.quantity ?? 1;
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > redeemQuantityMax) throw badInput('quantity', `must be a whole number from 1 to ${redeemQuantityMax}`);
  // Who acts is part of the request: a key reused under one subject for another member is a conflict, not a replay.
  const wallet = checkWallet(input.wallet);
  // The wallet is in the hash only when it is the household's: a member redeem hashes as it always did.
  const hash = requestHash('redeem', { member: principal.memberId, item, quantity, ...(wallet === 'HOUSEHOLD' ? { wallet } : {}) });
  for (let attempt = 1; ; attempt++) {
    try {
      return writeFrom(await callFunction(bank.pool, 'cb_redeem', [principal.headId, principal.sub, principal.role, key, hash, principal.memberId, item, quantity, newVoucherCode(), wallet === 'HOUSEHOLD']));
    } catch (error) {
      if (attempt < codeAttemptsMax && (error as { constraint?: string }).constraint === 'redemptions_code_unique') continue;
      throw error;
    }
  }
}

export interface VoucherInput { idempotencyKey: string; code: string }

/** 核销: only the merchant that owns the item; a repeat with the same key replays the success. */
export async function fulfillRedemption(bank: Bank, principal: Principal, input: VoucherInput): Promise<RedemptionWrite> {
  requireRole(principal, 'merchant');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const code = normalizeVoucherCode(input.code);
  const hash = requestHash('fulfillRedemption', { merchant: principal.merchantId, code });
  return writeFrom(await callFunction(bank.pool, 'cb_fulfill_redemption', [principal.headId, principal.sub, key, hash, code, principal.merchantId]));
}

/** The member that redeemed, or the merchant, before fulfilment: hold and stock released. */
export async function cancelRedemption(bank: Bank, principal: Principal, input: VoucherInput): Promise<RedemptionWrite> {
  requireRole(principal, 'member', 'merchant');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const code = normalizeVoucherCode(input.code);
  // Each role acts only as itself: a member token's merchant claim (or the reverse) means nothing here.
  const member = principal.role === 'member' ? principal.memberId : null;
  const merchant = principal.role === 'merchant' ? principal.merchantId : null;
  const hash = requestHash('cancelRedemption', { member, merchant, code });
  return writeFrom(await callFunction(bank.pool, 'cb_cancel_redemption', [principal.headId, principal.sub, key, hash, code, member, merchant]));
}

export interface RefundInput extends VoucherInput { restock?: boolean | null; reason?: string | null }
export const refundReasonLengthMax = 500;

/** The merchant or an admin in scope, after fulfilment: a reversal back to the member, once. */
export async function refundRedemption(bank: Bank, principal: Principal, input: RefundInput): Promise<RedemptionWrite> {
  requireRole(principal, 'merchant', 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const code = normalizeVoucherCode(input.code);
  const restock = input.restock ?? false;
  const reason = input.reason ?? null;
  if (reason !== null && (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > refundReasonLengthMax)) {
    throw badInput('reason', `must be 1 to ${refundReasonLengthMax} characters`);
  }
  const hash = requestHash('refundRedemption', { merchant: principal.role === 'merchant' ? principal.merchantId : null, code, restock, reason });
  return writeFrom(await callFunction(bank.pool, 'cb_refund_redemption', [
    principal.headId, principal.sub, principal.role, key, hash, code,
    principal.role === 'merchant' ? principal.merchantId : null, principal.branch.path, restock, reason]));
}

/** Who may read a redemption: its member, its merchant, and admins whose scope covers the member. */
export async function requireRedemptionVisible(bank: Bank, principal: Principal, r: Redemption): Promise<void> {
  if (r.headId === principal.headId) {
    if (principal.role === 'member' && principal.memberId === r.memberId) return;
    if (principal.role === 'merchant' && principal.merchantId === r.merchantId) return;
    if (principal.role === 'admin') {
      const row = await bank.knex('members').where({ head_id: r.headId, id: r.memberId }).first('branch_id');
      if (row && (await bank.branches.requireById(String(row.branch_id))).path.startsWith(principal.branch.path)) return;
    }
  }
  throw new BankError('FORBIDDEN', `voucher ${r.code} is not yours to see`);
}

export async function getRedemptionByCode(bank: Bank, principal: Principal, rawCode: string): Promise<Redemption | null> {
  requireRole(principal, 'admin', 'member', 'merchant');
  const code = normalizeVoucherCode(rawCode);
  const { rows } = await bank.knex.raw(`SELECT ${redemptionColumns} FROM redemptions r WHERE r.head_id = ? AND r.code = ?`, [principal.headId, code]);
  if (!rows.length) return null;
  // another merchant's or member's voucher reads like an unknown code: a code cannot be probed
  return visibleOrNull(toRedemption(bank, rows[0]), (r) => requireRedemptionVisible(bank, principal, r));
}

export interface RedemptionFilter { merchant?: string | null; status?: RedemptionStatus | null; from?: Date | null; to?: Date | null }

/**
 * Newest first: a merchant's own redemptions, a member's own, or (admins) one merchant's in scope.
 * A status filter means the status as of now (PENDING excludes vouchers past their expiry).
 */
export async function listRedemptions(bank: Bank, principal: Principal, filter: RedemptionFilter, first: number | null | undefined, after: string | null | undefined) {
  const size = checkPageSize(first);
  const afterId = decodePageCursor('r', after);
  const q = bank.knex('redemptions as r').where('r.head_id', principal.headId);
  if (principal.role === 'merchant') {
    if (filter.merchant != null && filter.merchant !== principal.merchantId) throw new BankError('FORBIDDEN', 'a merchant lists only its own redemptions');
    q.andWhere('r.merchant_id', principal.merchantId);
  } else if (principal.role === 'member') {
    q.andWhere('r.member_id', principal.memberId);
    if (filter.merchant != null) q.andWhere('r.merchant_id', checkId(filter.merchant, 'merchant'));
  } else if (principal.role === 'admin') {
    if (filter.merchant == null) throw badInput('merchant', 'an admin lists one merchant\'s redemptions: name it');
    const merchant = await findMerchant(bank, principal.headId, filter.merchant);
    await requireMerchantManaged(bank, principal, merchant);
    q.andWhere('r.merchant_id', merchant.id);
  } else {
    throw new BankError('FORBIDDEN', 'awarding clients do not read redemptions');
  }
  if (filter.status != null) {
    if (!redemptionStatuses.includes(filter.status)) throw badInput('status', `must be one of ${redemptionStatuses.join(', ')}`);
    // The status as of now, written so that redemptions_merchant_status serves it.
    if (filter.status === 'PENDING') q.andWhere('r.status', 'PENDING').andWhereRaw('r.expires_at > now()');
    else if (filter.status === 'EXPIRED') q.andWhere((w) => w.where('r.status', 'EXPIRED').orWhere((p) => p.where('r.status', 'PENDING').andWhereRaw('r.expires_at <= now()')));
    else q.andWhere('r.status', filter.status);
  }
  if (filter.from && filter.to && filter.from >= filter.to) throw badInput('to', 'must be after from');
  if (filter.from) q.andWhere('r.created_at', '>=', filter.from);
  if (filter.to) q.andWhere('r.created_at', '<', filter.to);
  if (afterId) q.andWhere('r.id', '<', afterId);
  const rows = await q.orderBy('r.id', 'desc').limit(size + 1).select(bank.knex.raw(redemptionColumns));
  return pageOf('r', rows.map((r: any) => toRedemption(bank, r)), size);
}
