// Resolvers of spending: merchants, the catalog, vouchers, pools and the merchants' honour board.
// Thin: decode, call the domain, shape the answer; nested objects come through per-request loaders.
import type { Context } from '../context.js';
import { requireMemberVisible } from '../../directory/members.js';
import { requireAccountVisible } from '../../ledger/accounts.js';
import { createMerchant, findMerchant, type Merchant } from '../../redemption/merchants.js';
import { getCatalogItem, listCatalog, upsertCatalogItem, type CatalogItem } from '../../redemption/catalog.js';
import {
  cancelRedemption, fulfillRedemption, getRedemptionByCode, listRedemptions, redeem, refundRedemption,
  requireRedemptionVisible, type Redemption, type RedemptionWrite,
} from '../../redemption/vouchers.js';
import { requireTransactionVisible } from '../../ledger/transactions.js';
import { closePool, createPool, disbursePool, donate, getPool, listPools, type Pool } from '../../pools/pools.js';
import { merchantLeaderboard, type MerchantLeaderboardLine } from '../../reports/merchantLeaderboard.js';
import type { PeriodInput } from '../../reports/period.js';
import { BankError } from '../../errors.js';
import { ifVisible } from './visibility.js';

type Args<T> = { input: T };

/** What a write just wrote: it exists, or the store is broken. */
async function written<T>(load: Promise<T | null>, what: string): Promise<T> {
  const value = await load;
  if (!value) throw new Error(`invariant broken: ${what} was written but cannot be read`);
  return value;
}

/** A voucher write's answer; the redemption is checked like any read of it (a pair to the write's own checks). */
async function redemptionResult(ctx: Context, w: RedemptionWrite) {
  const redemption = await written(ctx.loaders.redemption.load(w.redemptionId), `redemption ${w.redemptionId}`);
  await requireRedemptionVisible(ctx.bank, ctx.principal, redemption);
  return { redemption, transactionId: w.transactionId, replayed: w.replayed };
}

async function transactionIfVisible(ctx: Context, id: string | null) {
  return id ? ifVisible(await ctx.loaders.transaction.load(id), (t) => requireTransactionVisible(ctx.bank, ctx.principal, t)) : null;
}

async function accountIfVisible(ctx: Context, id: string) {
  return ifVisible(await ctx.loaders.account.load(id), (a) => requireAccountVisible(ctx.bank, ctx.principal, a));
}

export const spendingResolvers = {
  Query: {
    merchant: async (_: unknown, { id }: { id: string }, ctx: Context) => {
      try {
        return await findMerchant(ctx.bank, ctx.principal.headId, id, 'id');
      } catch (error) {
        if (error instanceof BankError && error.code === 'NOT_FOUND') return null;
        throw error;
      }
    },
    catalog: (_: unknown, a: { merchant?: string; category?: string; includeInactive?: boolean; first?: number; after?: string }, ctx: Context) =>
      listCatalog(ctx.bank, ctx.principal, a, a.first, a.after),
    catalogItem: (_: unknown, { id }: { id: string }, ctx: Context) => getCatalogItem(ctx.bank, ctx.principal, id),
    redemption: (_: unknown, { code }: { code: string }, ctx: Context) => getRedemptionByCode(ctx.bank, ctx.principal, code),
    redemptions: (_: unknown, a: { merchant?: string; status?: any; from?: Date; to?: Date; first?: number; after?: string }, ctx: Context) =>
      listRedemptions(ctx.bank, ctx.principal, a, a.first, a.after),
    pools: (_: unknown, a: { branch?: string; status?: any; first?: number; after?: string }, ctx: Context) =>
      listPools(ctx.bank, ctx.principal, a, a.first, a.after),
    pool: (_: unknown, { id }: { id: string }, ctx: Context) => getPool(ctx.bank, ctx.principal, id),
    merchantLeaderboard: (_: unknown, a: { branch?: string; period: PeriodInput; first?: number }, ctx: Context) =>
      merchantLeaderboard(ctx.bank, ctx.principal, a.branch ?? null, a.period, a.first),
  },
  Mutation: {
    createMerchant: (_: unknown, { input }: Args<any>, ctx: Context) => createMerchant(ctx.bank, ctx.principal, input),
    upsertCatalogItem: (_: unknown, { input }: Args<any>, ctx: Context) => upsertCatalogItem(ctx.bank, ctx.principal, input),
    redeem: async (_: unknown, { input }: Args<any>, ctx: Context) => redemptionResult(ctx, await redeem(ctx.bank, ctx.principal, input)),
    fulfillRedemption: async (_: unknown, { input }: Args<any>, ctx: Context) => redemptionResult(ctx, await fulfillRedemption(ctx.bank, ctx.principal, input)),
    cancelRedemption: async (_: unknown, { input }: Args<any>, ctx: Context) => redemptionResult(ctx, await cancelRedemption(ctx.bank, ctx.principal, input)),
    refundRedemption: async (_: unknown, { input }: Args<any>, ctx: Context) => redemptionResult(ctx, await refundRedemption(ctx.bank, ctx.principal, input)),
    createPool: (_: unknown, { input }: Args<any>, ctx: Context) => createPool(ctx.bank, ctx.principal, input),
    donate: (_: unknown, { input }: Args<any>, ctx: Context) => donate(ctx.bank, ctx.principal, input),
    disbursePool: (_: unknown, { input }: Args<any>, ctx: Context) => disbursePool(ctx.bank, ctx.principal, input),
    closePool: async (_: unknown, { input }: Args<any>, ctx: Context) => {
      const r = await closePool(ctx.bank, ctx.principal, input);
      return { pool: await written(ctx.loaders.pool.load(r.poolId), `pool ${r.poolId}`), refunds: r.refunds, replayed: r.replayed };
    },
  },
  Merchant: {
    branch: (m: Merchant, _: unknown, ctx: Context) => ctx.loaders.branch.load(m.branchId),
    account: (m: Merchant, _: unknown, ctx: Context) => accountIfVisible(ctx, m.accountId),
  },
  CatalogItem: {
    merchant: (i: CatalogItem, _: unknown, ctx: Context) => ctx.loaders.merchant.load(i.merchantId),
    visibleTo: (i: CatalogItem, _: unknown, ctx: Context) => ctx.loaders.branch.load(i.visibleBranchId),
  },
  Redemption: {
    item: (r: Redemption, _: unknown, ctx: Context) => ctx.loaders.catalogItem.load(r.itemId),
    merchant: (r: Redemption, _: unknown, ctx: Context) => ctx.loaders.merchant.load(r.merchantId),
    member: async (r: Redemption, _: unknown, ctx: Context) =>
      ifVisible(await ctx.loaders.member.load(r.memberId), (m) => requireMemberVisible(ctx.bank, ctx.principal, m)),
    transaction: (r: Redemption, _: unknown, ctx: Context) => transactionIfVisible(ctx, r.transactionId),
    refundTransaction: (r: Redemption, _: unknown, ctx: Context) => transactionIfVisible(ctx, r.refundTransactionId),
  },
  Pool: {
    branch: (p: Pool, _: unknown, ctx: Context) => ctx.loaders.branch.load(p.branchId),
    account: (p: Pool, _: unknown, ctx: Context) => accountIfVisible(ctx, p.accountId),
    disbursedTo: (p: Pool, _: unknown, ctx: Context) => (p.disbursedTo ? ctx.loaders.merchant.load(p.disbursedTo) : null),
  },
  PoolTransactionResult: {
    transaction: (r: { transactionId: string }, _: unknown, ctx: Context) => written(ctx.loaders.transaction.load(r.transactionId), `transaction ${r.transactionId}`),
    pool: (r: { poolId: string }, _: unknown, ctx: Context) => written(ctx.loaders.pool.load(r.poolId), `pool ${r.poolId}`),
  },
  MerchantLeaderboardLine: {
    merchant: (l: MerchantLeaderboardLine, _: unknown, ctx: Context) => ctx.loaders.merchant.load(l.merchantId),
  },
};
