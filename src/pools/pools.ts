// Crowdfunding pools (积分众筹): "those who benefit spend points, those who take part earn them".
// An admin opens a pool with a target for a needy household or a public project; members donate
// from their own wallets, never past the target; an admin disburses a funded pool to a merchant
// for the service it buys, or closes it and every donation goes back to its donor once.
// Writes are single SQL functions (src/pools/sql/: cb_donate, cb_disburse_pool, cb_close_pool).
import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, visibleOrNull, type Principal } from '../auth/principal.js';
import { isWithin } from '../directory/branches.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { callFunction } from '../db/callFunction.js';
import { checkId } from '../directory/members.js';
import { checkWallet, type Wallet } from '../households/households.js';
import { formatAmount, parseAmount } from '../ledger/amounts.js';
import { checkMemo } from '../ledger/awards.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize, writeResultFromJson, type WriteResult } from '../ledger/transactions.js';
import { decodePageCursor, pageOf } from '../pagination.js';
import { checkName, checkText } from '../inputChecks.js';
import { findMerchant } from '../redemption/merchants.js';
import { memberBranchOf } from '../redemption/catalog.js';

export type PoolStatus = 'OPEN' | 'FUNDED' | 'DISBURSED' | 'CLOSED';
export const poolStatuses: readonly PoolStatus[] = ['OPEN', 'FUNDED', 'DISBURSED', 'CLOSED'];

export interface Pool {
  id: string;
  headId: string;
  branchId: string;
  title: string;
  beneficiary: string;
  description: string | null;
  target: string;
  raised: string;
  /** What donations may still add: target - raised while OPEN, 0 otherwise. */
  remaining: string;
  donors: number;
  deadline: Date | null;
  status: PoolStatus;
  accountId: string;
  createdAt: Date;
  fundedAt: Date | null;
  disbursedAt: Date | null;
  disbursedTo: string | null;
  closedAt: Date | null;
  closeReason: string | null;
}

export const poolTextLengthMax = 200;
export const poolDescriptionLengthMax = 2000;
export const poolReasonLengthMax = 500;

const poolColumns = `p.*, (SELECT count(DISTINCT d.member_id) FROM pool_donations d WHERE d.head_id = p.head_id AND d.pool_id = p.id)::int AS donors`;

export function toPool(bank: Bank, r: Record<string, any>): Pool {
  const scale = bank.assets.get('POINTS').scale;
  const remaining = r.status === 'OPEN' ? new Decimal(r.target).minus(r.raised) : new Decimal(0);
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), title: r.title, beneficiary: r.beneficiary,
    description: r.description, target: formatAmount(r.target, scale), raised: formatAmount(r.raised, scale),
    remaining: formatAmount(remaining, scale), donors: r.donors, deadline: r.deadline, status: r.status,
    accountId: String(r.account_id), createdAt: r.created_at, fundedAt: r.funded_at, disbursedAt: r.disbursed_at,
    disbursedTo: r.disbursed_to == null ? null : String(r.disbursed_to), closedAt: r.closed_at, closeReason: r.close_reason,
  };
}

export async function loadPools(bank: Bank, headId: string, ids: readonly string[]): Promise<(Pool | null)[]> {
  const { rows } = await bank.knex.raw(`SELECT ${poolColumns} FROM pools p WHERE p.head_id = ? AND p.id = ANY(?::bigint[])`, [headId, ids as string[]]);
  const byId = new Map<string, Pool>(rows.map((r: any) => [String(r.id), toPool(bank, r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Members see the pools open to their branch; admins the pools of their scope. */
export async function requirePoolVisible(bank: Bank, principal: Principal, pool: Pool): Promise<void> {
  const branch = await bank.branches.requireById(pool.branchId);
  if (principal.headId === pool.headId) {
    if (principal.role === 'member' && (await memberBranchOf(bank, principal)).path.startsWith(branch.path)) return;
    if (principal.role === 'admin' && isWithin(branch, principal.branch)) return;
  }
  throw new BankError('FORBIDDEN', `pool ${pool.id} is not open to you`);
}

export async function getPool(bank: Bank, principal: Principal, id: string): Promise<Pool | null> {
  requireRole(principal, 'admin', 'member');
  const [pool] = await loadPools(bank, principal.headId, [checkId(id, 'id')]);
  if (!pool) return null;
  // a pool outside the caller's view reads like an unknown id
  return visibleOrNull(pool, (p) => requirePoolVisible(bank, principal, p));
}

export async function listPools(bank: Bank, principal: Principal, filter: { branch?: string | null; status?: PoolStatus | null }, first: number | null | undefined, after: string | null | undefined) {
  const size = checkPageSize(first);
  const afterId = decodePageCursor('p', after);
  const where: string[] = ['p.head_id = ?'];
  const params: Knex.RawBinding[] = [principal.headId];
  if (principal.role === 'member') {
    where.push('starts_with(?, b.path)');
    params.push((await memberBranchOf(bank, principal)).path);
  } else if (principal.role === 'admin') {
    const scope = filter.branch == null ? principal.branch : await bank.branches.require(filter.branch, 'branch');
    requireScope(principal, scope, 'branch');
    where.push('starts_with(b.path, ?)');
    params.push(scope.path);
  } else {
    throw new BankError('FORBIDDEN', 'pools are read by members and admins');
  }
  if (filter.status != null) {
    if (!poolStatuses.includes(filter.status)) throw badInput('status', `must be one of ${poolStatuses.join(', ')}`);
    where.push('p.status = ?');
    params.push(filter.status);
  }
  if (afterId) {
    where.push('p.id < ?');
    params.push(afterId);
  }
  params.push(size + 1);
  const { rows } = await bank.knex.raw(
    `SELECT ${poolColumns} FROM pools p JOIN branches b ON b.id = p.branch_id WHERE ${where.join(' AND ')} ORDER BY p.id DESC LIMIT ?`, params);
  return pageOf('p', rows.map((r: any) => toPool(bank, r)), size);
}

export interface NewPool { title: string; beneficiary: string; description?: string | null; target: string; deadline?: Date | null; createdBy: string }

/** An OPEN pool with its POINTS account, in trx (createPool after its checks; the demo seed and the chaos harness). */
export async function insertPool(trx: Knex.Transaction | Knex, headId: string, branchId: string, pool: NewPool): Promise<string> {
  const { rows } = await trx.raw(`SELECT nextval('pools_id_seq')::text AS id`);
  const id = rows[0].id as string;
  const points = await trx('assets').where({ code: 'POINTS' }).first('scale');
  const [account] = await trx('accounts').insert({
    head_id: headId, branch_id: branchId, owner_type: 'POOL', owner_id: id, purpose: 'WALLET',
    asset_code: 'POINTS', asset_scale: points.scale, allow_negative: false, deferred_balance: false,
  }).returning('id');
  await trx('pools').insert({
    head_id: headId, id, branch_id: branchId, title: pool.title, beneficiary: pool.beneficiary, description: pool.description ?? null,
    target: pool.target, deadline: pool.deadline ?? null, status: 'OPEN', account_id: account.id, created_by: pool.createdBy,
  });
  return id;
}

export interface CreatePoolInput {
  idempotencyKey: string;
  branch?: string | null;
  title: string;
  beneficiary: string;
  description?: string | null;
  target: string;
  deadline?: Date | null;
}

export async function createPool(bank: Bank, principal: Principal, input: CreatePoolInput): Promise<{ pool: Pool; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const branch = input.branch == null ? principal.branch : await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, 'branch');
  const title = checkName('title', input.title, poolTextLengthMax, true)!;
  const beneficiary = checkName('beneficiary', input.beneficiary, poolTextLengthMax, true)!;
  const description = checkText('description', input.description, poolDescriptionLengthMax, false);
  const target = parseAmount('target', input.target, { scale: bank.assets.get('POINTS').scale, sign: 'positive' }).toFixed(bank.assets.get('POINTS').scale);
  const deadline = input.deadline ?? null;
  if (deadline && deadline.getTime() <= bank.clock().getTime()) throw badInput('deadline', 'must be in the future');
  const hash = requestHash('createPool', { branch: branch.code, title, beneficiary, description, target, deadline: deadline?.toISOString() ?? null });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'createPool', hash, async () => {
      return { id: await insertPool(trx, principal.headId, branch.id, { title, beneficiary, description, target, deadline, createdBy: principal.sub }) };
    })));
  const [pool] = await loadPools(bank, principal.headId, [String(result.id)]);
  if (!pool) throw new Error(`invariant broken: pool ${result.id} was written but cannot be read`);
  return { pool, replayed };
}

export interface DonateInput { idempotencyKey: string; pool: string; amount: string; memo?: string | null; wallet?: Wallet | null }

/**
 * A member gives from its own wallet, or from its household's (wallet HOUSEHOLD, where the branch policy
 * lets it: cb_household_spender); past the remaining target it is LIMIT_EXCEEDED.
 */
export async function donate(bank: Bank, principal: Principal, input: DonateInput): Promise<WriteResult & { poolId: string }> {
  requireRole(principal, 'member');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const pool = checkId(input.pool, 'pool');
  const amount = parseAmount('amount', input.amount, { scale: bank.assets.get('POINTS').scale, sign: 'positive' }).toFixed(bank.assets.get('POINTS').scale);
  const memo = checkMemo(input.memo);
  // The donor is part of the request: a key reused by another member's token of the same subject is a conflict.
  const wallet = checkWallet(input.wallet);
  // The wallet is in the hash only when it is the household's: a member donation hashes as it always did.
  const hash = requestHash('donate', { member: principal.memberId, pool, amount, memo, ...(wallet === 'HOUSEHOLD' ? { wallet } : {}) });
  const json = await callFunction(bank.pool, 'cb_donate',
    [principal.headId, principal.sub, principal.role, key, hash, principal.memberId, pool, amount, memo, wallet === 'HOUSEHOLD']);
  return { ...writeResultFromJson(json), poolId: pool };
}

export interface DisbursePoolInput { idempotencyKey: string; pool: string; merchant: string; memo: string }

/** An admin pays a FUNDED pool out to a merchant; the memo says what service it buys. */
export async function disbursePool(bank: Bank, principal: Principal, input: DisbursePoolInput): Promise<WriteResult & { poolId: string }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const pool = checkId(input.pool, 'pool');
  const merchant = await findMerchant(bank, principal.headId, input.merchant);
  requireScope(principal, await bank.branches.requireById(merchant.branchId), 'merchant');
  const memo = checkText('memo', input.memo, poolReasonLengthMax, true)!;
  const hash = requestHash('disbursePool', { pool, merchant: merchant.id, memo });
  const json = await callFunction(bank.pool, 'cb_disburse_pool', [principal.headId, principal.sub, principal.role, key, hash, pool, principal.branch.path, merchant.id, memo]);
  return { ...writeResultFromJson(json), poolId: pool };
}

export interface ClosePoolInput { idempotencyKey: string; pool: string; reason: string }

/** An admin closes an OPEN or FUNDED pool: every donation is reversed to its donor, once. */
export async function closePool(bank: Bank, principal: Principal, input: ClosePoolInput): Promise<{ poolId: string; refunds: number; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const pool = checkId(input.pool, 'pool');
  const reason = checkText('reason', input.reason, poolReasonLengthMax, true)!;
  const hash = requestHash('closePool', { pool, reason });
  const json = await callFunction(bank.pool, 'cb_close_pool', [principal.headId, principal.sub, principal.role, key, hash, pool, principal.branch.path, reason]);
  return { poolId: json.poolId, refunds: json.refunds, replayed: Boolean(json.replayed) };
}
