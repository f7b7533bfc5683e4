// The redemption catalog (公益商城 / 积分超市): items merchants offer for points, with stock (or
// unlimited), a per-member limit per window, an active window and the branch subtree they are
// offered to. upsertCatalogItem creates or updates an item by the merchant's own code.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, type Principal } from '../auth/principal.js';
import { isWithin } from '../directory/branches.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkId } from '../directory/members.js';
import { formatAmount, parseAmount } from '../ledger/amounts.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { capWindows, type CapWindow } from '../rules/rules.js';
import { findMerchant, requireMerchantManaged } from './merchants.js';
import { decodePageCursor, encodePageCursor } from './cursors.js';

export interface CatalogItem {
  id: string;
  headId: string;
  merchantId: string;
  code: string;
  title: string;
  description: string | null;
  category: string;
  cost: string;
  stockLeft: number | null;
  limitPerMember: number | null;
  limitWindow: CapWindow | null;
  visibleBranchId: string;
  activeFrom: Date | null;
  activeTo: Date | null;
  voucherValidDays: number;
  activeNow: boolean;
  /** Whether the asking member's available POINTS cover one unit; null when the caller is not a member. */
  affordable: boolean | null;
}

const itemCode = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const titleLengthMax = 200;
export const descriptionLengthMax = 2000;
export const categoryLengthMax = 100;
/** Stock is counted in whole units; more than this on one shelf is a typo. */
export const stockMax = 1_000_000;
/** A voucher is valid 1 day to a year; a week unless the item says otherwise. */
export const voucherValidDaysMax = 365;
export const voucherValidDaysDefault = 7;
/** A per-member limit above this is no limit; ask for none instead. */
export const limitPerMemberMax = 1000;

function toItem(bank: Bank, r: Record<string, any>): CatalogItem {
  return {
    id: String(r.id), headId: String(r.head_id), merchantId: String(r.merchant_id), code: r.code, title: r.title,
    description: r.description, category: r.category, cost: formatAmount(r.cost, bank.assets.get('POINTS').scale),
    stockLeft: r.stock_left, limitPerMember: r.limit_per_member, limitWindow: r.limit_window,
    visibleBranchId: String(r.visible_branch_id), activeFrom: r.active_from, activeTo: r.active_to,
    voucherValidDays: r.voucher_valid_days, activeNow: Boolean(r.active_now),
    affordable: r.affordable === undefined || r.affordable === null ? null : Boolean(r.affordable),
  };
}

const itemColumns = `i.*, (i.active_from IS NULL OR i.active_from <= now()) AND (i.active_to IS NULL OR now() < i.active_to) AS active_now`;

/** Items by id, in one query (the dataloader's batch function). */
export async function loadCatalogItems(bank: Bank, headId: string, ids: readonly string[]): Promise<(CatalogItem | null)[]> {
  const { rows } = await bank.knex.raw(`SELECT ${itemColumns} FROM catalog_items i WHERE i.head_id = ? AND i.id = ANY(?::bigint[])`, [headId, ids as string[]]);
  const byId = new Map<string, CatalogItem>(rows.map((r: any) => [String(r.id), toItem(bank, r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

function checkText(field: string, value: unknown, max: number, required: boolean): string | null {
  if (value == null || value === '') {
    if (required) throw badInput(field, 'is required');
    return null;
  }
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max || value.includes('\u0000')) {
    throw badInput(field, `must be 1 to ${max} characters`);
  }
  return value;
}

function checkWholeNumber(field: string, value: unknown, min: number, max: number): number | null {
  if (value == null) return null;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) throw badInput(field, `must be a whole number from ${min} to ${max}`);
  return value as number;
}

export interface UpsertCatalogItemInput {
  idempotencyKey: string;
  merchant?: string | null;
  code: string;
  title: string;
  description?: string | null;
  category: string;
  cost: string;
  stock?: number | null;
  limitPerMember?: number | null;
  limitWindow?: CapWindow | null;
  visibleTo?: string | null;
  activeFrom?: Date | null;
  activeTo?: Date | null;
  voucherValidDays?: number | null;
}

/**
 * The merchant for its own items, or an admin for a merchant in its scope. `stock` sets the units
 * left to redeem now (null: unlimited); vouchers already issued keep what they reserved.
 */
export async function upsertCatalogItem(bank: Bank, principal: Principal, input: UpsertCatalogItemInput): Promise<{ item: CatalogItem; created: boolean; replayed: boolean }> {
  requireRole(principal, 'merchant', 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const merchantId = principal.role === 'merchant' ? (input.merchant ?? principal.merchantId) : input.merchant;
  if (merchantId == null) throw badInput('merchant', 'an admin names the merchant');
  const merchant = await findMerchant(bank, principal.headId, merchantId);
  await requireMerchantManaged(bank, principal, merchant);
  if (typeof input.code !== 'string' || !itemCode.test(input.code)) throw badInput('code', 'letters, digits, ".", "_" or "-", 1 to 64 characters');
  const title = checkText('title', input.title, titleLengthMax, true)!;
  const description = checkText('description', input.description, descriptionLengthMax, false);
  const category = checkText('category', input.category, categoryLengthMax, true)!;
  const cost = parseAmount('cost', input.cost, { scale: bank.assets.get('POINTS').scale, sign: 'positive' });
  const stock = checkWholeNumber('stock', input.stock, 0, stockMax);
  const limitPerMember = checkWholeNumber('limitPerMember', input.limitPerMember, 1, limitPerMemberMax);
  const limitWindow = input.limitWindow ?? null;
  if (limitWindow !== null && !capWindows.includes(limitWindow)) throw badInput('limitWindow', `must be one of ${capWindows.join(', ')}`);
  if (limitWindow !== null && limitPerMember === null) throw badInput('limitWindow', 'needs limitPerMember');
  const voucherValidDays = checkWholeNumber('voucherValidDays', input.voucherValidDays ?? voucherValidDaysDefault, 1, voucherValidDaysMax)!;
  const merchantBranch = await bank.branches.requireById(merchant.branchId);
  const visibleTo = input.visibleTo == null ? merchantBranch : await bank.branches.require(input.visibleTo, 'visibleTo');
  if (visibleTo.headId !== principal.headId) throw new BankError('NOT_FOUND', `visibleTo: no branch with code "${input.visibleTo}"`, 'visibleTo');
  if (principal.role === 'admin' && !isWithin(visibleTo, principal.branch) && !isWithin(principal.branch, visibleTo)) {
    throw new BankError('FORBIDDEN', `visibleTo: branch ${visibleTo.code} is outside your scope`);
  }
  const activeFrom = input.activeFrom ?? null;
  const activeTo = input.activeTo ?? null;
  if (activeFrom && activeTo && activeFrom >= activeTo) throw badInput('activeTo', 'must be after activeFrom');
  const row = {
    title, description, category, cost: cost.toFixed(2), stock_left: stock, limit_per_member: limitPerMember, limit_window: limitWindow,
    visible_branch_id: visibleTo.id, active_from: activeFrom, active_to: activeTo, voucher_valid_days: voucherValidDays,
  };
  const hash = requestHash('upsertCatalogItem', { merchant: merchant.id, code: input.code, ...row, active_from: activeFrom?.toISOString() ?? null, active_to: activeTo?.toISOString() ?? null });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'upsertCatalogItem', hash, async () => {
      const [written] = await trx('catalog_items')
        .insert({ head_id: principal.headId, merchant_id: merchant.id, code: input.code, ...row })
        .onConflict(['head_id', 'merchant_id', 'code'])
        .merge({ ...row, updated_at: trx.fn.now() })
        .returning(['id', trx.raw('(xmax = 0) AS created')]);
      return { id: String(written.id), created: Boolean(written.created) };
    })));
  const [item] = await loadCatalogItems(bank, principal.headId, [String(result.id)]);
  if (!item) throw new Error(`invariant broken: catalog item ${result.id} was written but cannot be read`);
  return { item, created: Boolean(result.created) && !replayed, replayed };
}

export interface CatalogFilter { merchant?: string | null; category?: string | null; includeInactive?: boolean | null }

/**
 * What the caller may browse: a member sees the items offered to its branch that are active now,
 * with whether it can afford them; a merchant its own items; an admin the items of merchants in its scope.
 */
export async function listCatalog(bank: Bank, principal: Principal, filter: CatalogFilter, first: number | null | undefined, after: string | null | undefined) {
  const size = checkPageSize(first);
  const afterId = decodePageCursor('i', after);
  const params: Knex.RawBinding[] = [principal.headId];
  const where: string[] = ['i.head_id = ?'];
  let affordable = 'NULL::boolean';
  const selectParams: Knex.RawBinding[] = [];
  if (principal.role === 'member') {
    where.push(`starts_with((SELECT b.path FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.head_id = i.head_id AND m.id = ?),
                            (SELECT vb.path FROM branches vb WHERE vb.id = i.visible_branch_id))`);
    params.push(principal.memberId);
    affordable = `(SELECT a.balance - a.held >= i.cost FROM accounts a WHERE a.head_id = i.head_id AND a.owner_type = 'MEMBER'
                     AND a.owner_id = ? AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET')`;
    selectParams.push(principal.memberId);
    where.push('(i.active_from IS NULL OR i.active_from <= now()) AND (i.active_to IS NULL OR now() < i.active_to)');
  } else if (principal.role === 'merchant') {
    where.push('i.merchant_id = ?');
    params.push(principal.merchantId);
  } else if (principal.role === 'admin') {
    where.push(`EXISTS (SELECT 1 FROM merchants mc JOIN branches b ON b.id = mc.branch_id
                         WHERE mc.head_id = i.head_id AND mc.id = i.merchant_id AND starts_with(b.path, ?))`);
    params.push(principal.branch.path);
  } else {
    throw new BankError('FORBIDDEN', 'awarding clients do not browse the catalog');
  }
  if (principal.role !== 'member' && !filter.includeInactive) {
    where.push('(i.active_from IS NULL OR i.active_from <= now()) AND (i.active_to IS NULL OR now() < i.active_to)');
  }
  if (filter.merchant != null) {
    where.push('i.merchant_id = ?');
    params.push(checkId(filter.merchant, 'merchant'));
  }
  if (filter.category != null) {
    where.push('i.category = ?');
    params.push(checkText('category', filter.category, categoryLengthMax, true));
  }
  if (afterId) {
    where.push('i.id > ?');
    params.push(afterId);
  }
  params.push(size + 1);
  const { rows } = await bank.knex.raw(
    `SELECT ${itemColumns}, ${affordable} AS affordable FROM catalog_items i WHERE ${where.join(' AND ')} ORDER BY i.id LIMIT ?`, [...selectParams, ...params]);
  const items: CatalogItem[] = rows.slice(0, size).map((r: any) => toItem(bank, r));
  return { edges: items.map((node) => ({ cursor: encodePageCursor('i', node.id), node })), pageInfo: { hasNextPage: rows.length > size, endCursor: items.length ? encodePageCursor('i', items.at(-1)!.id) : null } };
}

/** One item, if the caller may see it (members: offered to their branch). */
export async function getCatalogItem(bank: Bank, principal: Principal, id: string): Promise<CatalogItem | null> {
  const [item] = await loadCatalogItems(bank, principal.headId, [checkId(id, 'id')]);
  if (!item) return null;
  await requireItemVisible(bank, principal, item);
  return item;
}

export async function requireItemVisible(bank: Bank, principal: Principal, item: CatalogItem): Promise<void> {
  if (principal.role === 'merchant' && principal.merchantId === item.merchantId) return;
  if (principal.role === 'member') {
    const row = await bank.knex('members').where({ head_id: principal.headId, id: principal.memberId }).first('branch_id');
    if (row && isWithin(await bank.branches.requireById(String(row.branch_id)), await bank.branches.requireById(item.visibleBranchId))) return;
  }
  if (principal.role === 'admin') {
    const merchant = await findMerchant(bank, principal.headId, item.merchantId);
    if (isWithin(await bank.branches.requireById(merchant.branchId), principal.branch)) return;
  }
  throw new BankError('FORBIDDEN', `catalog item ${item.id} is not offered to you`);
}
