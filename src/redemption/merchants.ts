// Merchants (爱心商户): businesses of a branch that donate goods and services and receive the points
// of the vouchers they fulfil, in their own POINTS account. Admins create them in their scope; a
// merchant token (role merchant, claim `merchant`) acts for one merchant.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkId } from '../directory/members.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { decodePageCursor } from '../pagination.js';
import { checkName } from '../inputChecks.js';

export interface Merchant { id: string; headId: string; branchId: string; name: string; createdAt: Date; accountId: string }

export const merchantNameLengthMax = 200;

function toMerchant(r: Record<string, any>): Merchant {
  return { id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), name: r.name, createdAt: r.created_at, accountId: String(r.account_id) };
}

/** Merchants by id, in one query (the dataloader's batch function). */
export async function loadMerchants(bank: Bank, headId: string, ids: readonly string[]): Promise<(Merchant | null)[]> {
  // with its POINTS account's id, so that Merchant.account costs no query per merchant
  const { rows } = await bank.knex.raw(`
    SELECT m.*, a.id AS account_id FROM merchants m
      JOIN accounts a ON a.head_id = m.head_id AND a.owner_type = 'MERCHANT' AND a.owner_id = m.id AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
     WHERE m.head_id = ? AND m.id = ANY(?::bigint[])`, [headId, ids as string[]]);
  const byId = new Map<string, Merchant>(rows.map((r: any) => [String(r.id), toMerchant(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

export async function findMerchant(bank: Bank, headId: string, id: unknown, field = 'merchant'): Promise<Merchant> {
  const [merchant] = await loadMerchants(bank, headId, [checkId(id, field)]);
  if (!merchant) throw new BankError('NOT_FOUND', `${field}: no merchant ${String(id)}`, field);
  return merchant;
}

/** Merchants are public within their head bank (the catalog names them); managing one needs scope or being it. */
export async function requireMerchantManaged(bank: Bank, principal: Principal, merchant: Merchant): Promise<void> {
  if (principal.role === 'merchant' && principal.merchantId === merchant.id && principal.headId === merchant.headId) return;
  if (principal.role === 'admin') {
    requireScope(principal, await bank.branches.requireById(merchant.branchId), 'merchant');
    return;
  }
  throw new BankError('FORBIDDEN', principal.role === 'merchant' ? 'a merchant manages only itself' : `this needs an admin or the merchant itself`);
}

/** A merchant's POINTS account, opened with it. */
export async function openMerchantAccount(trx: Knex.Transaction | Knex, headId: string, branchId: string, merchantId: string): Promise<void> {
  const points = await trx('assets').where({ code: 'POINTS' }).first('scale');
  await trx('accounts').insert({
    head_id: headId, branch_id: branchId, owner_type: 'MERCHANT', owner_id: merchantId, purpose: 'WALLET',
    asset_code: 'POINTS', asset_scale: points.scale, allow_negative: false, deferred_balance: false,
  });
}

export async function insertMerchant(trx: Knex.Transaction, headId: string, branchId: string, name: string): Promise<string> {
  const [row] = await trx('merchants').insert({ head_id: headId, branch_id: branchId, name }).returning('id');
  await openMerchantAccount(trx, headId, branchId, String(row.id));
  return String(row.id);
}

export interface CreateMerchantInput { idempotencyKey: string; branch: string; name: string }

export async function createMerchant(bank: Bank, principal: Principal, input: CreateMerchantInput): Promise<{ merchant: Merchant; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const name = checkName('name', input.name, merchantNameLengthMax)!;
  const branch = await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, 'branch');
  const hash = requestHash('createMerchant', { branch: branch.code, name });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'createMerchant', hash, async () => ({ id: await insertMerchant(trx, principal.headId, branch.id, name) }))));
  return { merchant: await findMerchant(bank, principal.headId, String(result.id)), replayed };
}

/**
 * Merchants in id order, a page at a time (and one row more): an admin's of a branch subtree in its
 * scope (default its scope), a merchant token's only itself (if inside the branch asked for).
 */
export async function listMerchants(
  bank: Bank, principal: Principal, args: { branch?: string | null; first?: number | null; after?: string | null },
): Promise<{ items: Merchant[]; hasNextPage: boolean }> {
  requireRole(principal, 'admin', 'merchant');
  const size = checkPageSize(args.first);
  const afterId = decodePageCursor('c', args.after);
  const branch = args.branch ? await bank.branches.require(args.branch) : principal.branch;
  if (principal.role === 'admin') requireScope(principal, branch, `branch ${branch.code}`);
  else if (branch.headId !== principal.headId) throw new BankError('FORBIDDEN', `branch ${branch.code} belongs to another bank`);
  const { rows } = await bank.knex.raw(`
    SELECT m.*, a.id AS account_id FROM merchants m
      JOIN accounts a ON a.head_id = m.head_id AND a.owner_type = 'MERCHANT' AND a.owner_id = m.id AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
     WHERE m.head_id = :head AND (:branches::bigint[] IS NULL OR m.branch_id = ANY (:branches::bigint[]))
       AND (:merchant::bigint IS NULL OR m.id = :merchant::bigint) AND (:after::bigint IS NULL OR m.id > :after::bigint)
     ORDER BY m.id LIMIT :limit`, {
    head: branch.headId, after: afterId, limit: size + 1,
    // A head bank's merchants need no list of branches; a merchant token sees only itself.
    branches: branch.parentId === null ? null : (await bank.branches.subtree(branch)).map((b) => b.id),
    merchant: principal.role === 'merchant' ? principal.merchantId : null,
  });
  return { items: rows.slice(0, size).map(toMerchant), hasNextPage: rows.length > size };
}
