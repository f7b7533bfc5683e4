// The redemption catalog (公益商城 / 积分超市): items merchants offer for points, with stock (or
// unlimited), a per-member limit per window, an active window and the branch subtree they are
// offered to. upsertCatalogItem creates or updates an item by the merchant's own code.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, visibleOrNull, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { BankError, assertInvariant, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkId } from '../directory/members.js';
import { formatAmount, parseAmount } from '../ledger/amounts.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { capWindows, type CapWindow } from '../rules/rules.js';
import { findMerchant, requireMerchantManaged } from './merchants.js';
import { decodePageCursor, pageOf } from '../pagination.js';
import { checkName, checkText, checkWholeNumber } from '../inputChecks.js';

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

export interface UpsertCatalogItemInput {
  idempotencyKey: string;
  merchant?: string | null;
  code: string;
  title?: string | null;
  description?: string | null;
  category?: string | null;
  cost?: string | null;
  stock?: number | null;
  addStock?: number | null;
  limitPerMember?: number | null;
  limitWindow?: CapWindow | null;
  visibleTo?: string | null;
  activeFrom?: Date | null;
  activeTo?: Date | null;
  voucherValidDays?: number | null;
}

/**
 * The merchant for its own items, or an admin for a merchant in its scope; by (merchant, code).
 * On an update, a field left out keeps its value and an explicit null clears it. `stock` sets the
 * units left now (null: unlimited); `addStock` adds to (or, negative, takes from) what is left,
 * under the item's row lock, so a restock never overwrites redemptions made meanwhile.
 */
/** What a new item must be given; an update may leave any of them out. */
const createRequired = ['title', 'category', 'cost'] as const;

export async function upsertCatalogItem(bank: Bank, principal: Principal, input: UpsertCatalogItemInput): Promise<{ item: CatalogItem; created: boolean; replayed: boolean }> {
  requireRole(principal, 'merchant', 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const merchantId = principal.role === 'merchant' ? (input.merchant ?? principal.merchantId) : input.merchant;
  if (merchantId == null) throw badInput('merchant', 'an admin names the merchant');
  const merchant = await findMerchant(bank, principal.headId, merchantId);
  await requireMerchantManaged(bank, principal, merchant);
  if (typeof input.code !== 'string' || !itemCode.test(input.code)) throw badInput('code', 'letters, digits, ".", "_" or "-", 1 to 64 characters');
  // Only the fields given: undefined (left out) keeps the stored value on an update.
  // title, category and cost are required to create an item (checked below, once we know it is new)
  // and may be left out of an update such as a restock (code + addStock); they cannot be cleared.
  const given: Record<string, unknown> = {};
  if (input.title !== undefined) given.title = checkName('title', input.title, titleLengthMax, true);
  if (input.category !== undefined) given.category = checkName('category', input.category, categoryLengthMax, true);
  if (input.cost !== undefined) given.cost = parseAmount('cost', input.cost, { scale: bank.assets.get('POINTS').scale, sign: 'positive' }).toFixed(bank.assets.get('POINTS').scale);
  if (input.description !== undefined) given.description = checkText('description', input.description, descriptionLengthMax, false);
  if (input.stock !== undefined && input.addStock != null) throw badInput('addStock', 'give stock or addStock, not both');
  if (input.stock !== undefined) given.stock_left = checkWholeNumber('stock', input.stock, 0, stockMax);
  const addStock = checkWholeNumber('addStock', input.addStock, -stockMax, stockMax);
  if (input.limitPerMember !== undefined) given.limit_per_member = checkWholeNumber('limitPerMember', input.limitPerMember, 1, limitPerMemberMax);
  if (input.limitWindow !== undefined) {
    if (input.limitWindow !== null && !capWindows.includes(input.limitWindow)) throw badInput('limitWindow', `must be one of ${capWindows.join(', ')}`);
    given.limit_window = input.limitWindow;
  }
  if (input.voucherValidDays !== undefined) {
    given.voucher_valid_days = checkWholeNumber('voucherValidDays', input.voucherValidDays ?? voucherValidDaysDefault, 1, voucherValidDaysMax);
  }
  if (input.activeFrom !== undefined) given.active_from = input.activeFrom;
  if (input.activeTo !== undefined) given.active_to = input.activeTo;
  if (input.visibleTo !== undefined) {
    const visibleTo = input.visibleTo === null ? await bank.branches.requireById(merchant.branchId) : await bank.branches.require(input.visibleTo, 'visibleTo');
    // A merchant may offer to any branch of its head bank (a town-wide 爱心商户); an admin only inside its scope.
    if (visibleTo.headId !== principal.headId) throw new BankError('NOT_FOUND', `visibleTo: no branch with code "${input.visibleTo}"`, 'visibleTo');
    if (principal.role === 'admin' && !isWithin(visibleTo, principal.branch)) throw new BankError('FORBIDDEN', `visibleTo: branch ${visibleTo.code} is outside your scope`);
    given.visible_branch_id = visibleTo.id;
  }
  const hash = requestHash('upsertCatalogItem', { merchant: merchant.id, code: input.code, addStock, ...given });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'upsertCatalogItem', hash, async () => {
      const where = { head_id: principal.headId, merchant_id: merchant.id, code: input.code };
      const lock = () => trx('catalog_items').where(where).forUpdate().first();
      let current = await lock();
      if (!current) {
        for (const field of createRequired) {
          if (given[field] === undefined) throw badInput(field, `is required to create item ${input.code} (no item of this merchant has that code yet)`);
        }
        const row: Record<string, any> = { ...where, visible_branch_id: merchant.branchId, voucher_valid_days: voucherValidDaysDefault, ...given };
        if (addStock !== null) {
          if (addStock < 0) throw badInput('addStock', `item ${input.code} is new: give it stock, not a negative addStock`);
          row.stock_left = addStock;
        }
        checkItemRow(row);
        // A concurrent first upsert of the same code (with another key) waits here, then updates what it made.
        const inserted = await trx('catalog_items').insert(row).onConflict(['head_id', 'merchant_id', 'code']).ignore().returning('id');
        if (inserted.length) return { id: String(inserted[0].id), created: true };
        current = await lock();
        assertInvariant(current, `catalog item ${input.code} conflicted on insert but cannot be read`);
      }
      const update: Record<string, unknown> = { ...given, updated_at: trx.fn.now() };
      if (addStock !== null) {
        if (current.stock_left === null) throw badInput('addStock', `item ${input.code} is unlimited; set stock instead`);
        if (current.stock_left + addStock < 0) throw badInput('addStock', `item ${input.code} has ${current.stock_left} left; cannot take ${-addStock}`);
        update.stock_left = current.stock_left + addStock;
      }
      checkItemRow({ ...current, ...update });
      await trx('catalog_items').where(where).update(update);
      return { id: String(current.id), created: false };
    })));
  const [item] = await loadCatalogItems(bank, principal.headId, [String(result.id)]);
  if (!item) throw new Error(`invariant broken: catalog item ${result.id} was written but cannot be read`);
  return { item, created: Boolean(result.created) && !replayed, replayed };
}

/** What the table's CHECKs hold, refused first with the field named (the row as it would be written). */
function checkItemRow(row: Record<string, any>): void {
  if (row.limit_window != null && row.limit_per_member == null) throw badInput('limitWindow', 'needs limitPerMember');
  if (row.active_from && row.active_to && row.active_from >= row.active_to) throw badInput('activeTo', 'must be after activeFrom');
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
    const memberBranch = await memberBranchOf(bank, principal);
    // Items offered to the member's branch or any branch above it: its path lists those ids.
    where.push('i.visible_branch_id = ANY(?::bigint[])');
    params.push(memberBranch.path.split('/').filter(Boolean) as unknown as Knex.RawBinding);
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
    params.push(checkName('category', filter.category, categoryLengthMax, true));
  }
  if (afterId) {
    where.push('i.id > ?');
    params.push(afterId);
  }
  params.push(size + 1);
  const { rows } = await bank.knex.raw(
    `SELECT ${itemColumns}, ${affordable} AS affordable FROM catalog_items i WHERE ${where.join(' AND ')} ORDER BY i.id LIMIT ?`, [...selectParams, ...params]);
  return pageOf('i', rows.map((r: any) => toItem(bank, r)), size);
}

/** One item, if the caller may see it (members: offered to their branch). */
export async function getCatalogItem(bank: Bank, principal: Principal, id: string): Promise<CatalogItem | null> {
  requireRole(principal, 'admin', 'member', 'merchant');
  const [item] = await loadCatalogItems(bank, principal.headId, [checkId(id, 'id')]);
  if (!item) return null;
  // not offered to the caller reads like an unknown id
  return visibleOrNull(item, (i) => requireItemVisible(bank, principal, i));
}

export async function requireItemVisible(bank: Bank, principal: Principal, item: CatalogItem): Promise<void> {
  if (principal.role === 'merchant' && principal.merchantId === item.merchantId) return;
  if (principal.role === 'member' && isWithin(await memberBranchOf(bank, principal), await bank.branches.requireById(item.visibleBranchId))) return;
  if (principal.role === 'admin') {
    const merchant = await findMerchant(bank, principal.headId, item.merchantId);
    if (isWithin(await bank.branches.requireById(merchant.branchId), principal.branch)) return;
  }
  throw new BankError('FORBIDDEN', `catalog item ${item.id} is not offered to you`);
}

/** The branch of a member token's member; a token naming no member of this bank is refused. */
export async function memberBranchOf(bank: Bank, principal: Principal): Promise<Branch> {
  const row = await bank.knex('members').where({ head_id: principal.headId, id: principal.memberId }).first('branch_id');
  if (!row) throw new BankError('UNAUTHENTICATED', `token rejected: no member ${principal.memberId} in this bank`);
  return bank.branches.requireById(String(row.branch_id));
}
