// Resolvers of the journal: awards, transfers, adjustments, reversals, transactions, accounts and
// the trial balance. Thin: decode, call the domain, shape the answer.
import type { Context } from '../context.js';
import { renderItemError } from '../errors.js';
import { awardPoints, awardPointsBatch } from '../../ledger/awards.js';
import { adjustBalance, reverseTransaction, transferPoints } from '../../ledger/entries.js';
import { encodeCursor, findReversal, getTransaction, listTransactions, type PostingRecord, type TransactionRecord, type WriteResult } from '../../ledger/transactions.js';
import { getAccount, requireAccountVisible, trialBalance, type AccountRecord } from '../../ledger/accounts.js';
import { requireMemberVisible } from '../../directory/members.js';
import { ifVisible } from './visibility.js';

type Args<T> = { input: T };

/** The transaction a write of this caller just wrote or replayed: it exists, or the journal is broken. */
async function writtenTransaction(ctx: Context, id: string): Promise<TransactionRecord> {
  const txn = await ctx.loaders.transaction.load(id);
  if (!txn) throw new Error(`invariant broken: written transaction ${id} cannot be read`);
  return txn;
}

export const ledgerResolvers = {
  Query: {
    transaction: (_: unknown, { id }: { id: string }, ctx: Context) => getTransaction(ctx.bank, ctx.principal, id),
    transactions: async (_: unknown, args: { filter?: any; first?: number; after?: string }, ctx: Context) => {
      const page = await listTransactions(ctx.bank, ctx.principal, args.filter ?? {}, args.first, args.after);
      const edges = page.items.map((node) => ({ cursor: encodeCursor(node.id), node }));
      return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    account: (_: unknown, { id }: { id: string }, ctx: Context) => getAccount(ctx.bank, ctx.principal, id),
    trialBalance: async (_: unknown, __: unknown, ctx: Context) => {
      const lines = await trialBalance(ctx.bank, ctx.principal);
      return { lines, balanced: lines.every((l) => l.balanced) };
    },
  },
  Mutation: {
    awardPoints: (_: unknown, { input }: Args<any>, ctx: Context) => awardPoints(ctx.bank, ctx.principal, input),
    awardPointsBatch: async (_: unknown, { input }: Args<any>, ctx: Context) => {
      const results = await awardPointsBatch(ctx.bank, ctx.principal, input.awards);
      return {
        results: results.map((r) => ({
          index: r.index, idempotencyKey: r.idempotencyKey, transactionId: r.result?.transactionId ?? null,
          replayed: r.result?.replayed ?? false, error: r.error ? renderItemError(r.error, ctx.locale) : null,
        })),
        succeeded: results.filter((r) => r.result).length,
        failed: results.filter((r) => r.error).length,
      };
    },
    transferPoints: (_: unknown, { input }: Args<any>, ctx: Context) => transferPoints(ctx.bank, ctx.principal, input),
    adjustBalance: (_: unknown, { input }: Args<any>, ctx: Context) => adjustBalance(ctx.bank, ctx.principal, input),
    reverseTransaction: (_: unknown, { input }: Args<any>, ctx: Context) => reverseTransaction(ctx.bank, ctx.principal, input),
  },
  // A single write answers with its transaction, read in the write's own round trip; a batch answers
  // with ids, and its transactions are read only if the caller asks for them, batched.
  TransactionResult: {
    transaction: (r: WriteResult, _: unknown, ctx: Context) => r.transaction ?? writtenTransaction(ctx, r.transactionId),
  },
  AwardBatchItemResult: {
    transaction: (r: { transactionId: string | null }, _: unknown, ctx: Context) =>
      (r.transactionId ? writtenTransaction(ctx, r.transactionId) : null),
  },
  Transaction: {
    branch: (t: TransactionRecord, _: unknown, ctx: Context) => ctx.loaders.branch.load(t.branchId),
    member: async (t: TransactionRecord, _: unknown, ctx: Context) =>
      t.memberId ? ifVisible(await ctx.loaders.member.load(t.memberId), (m) => requireMemberVisible(ctx.bank, ctx.principal, m)) : null,
    rule: (t: TransactionRecord, _: unknown, ctx: Context) => (t.ruleId ? ctx.loaders.rule.load(t.ruleId) : null),
    principal: (t: TransactionRecord) => t.principalSub,
    reverses: (t: TransactionRecord, _: unknown, ctx: Context) => (t.reversesId ? ctx.loaders.transaction.load(t.reversesId) : null),
    reversedBy: async (t: TransactionRecord, _: unknown, ctx: Context) => {
      const id = await findReversal(ctx.bank, t.headId, t.id);
      return id ? ctx.loaders.transaction.load(id) : null;
    },
  },
  Posting: {
    account: async (p: PostingRecord, _: unknown, ctx: Context) =>
      ifVisible(await ctx.loaders.account.load(p.accountId), (a) => requireAccountVisible(ctx.bank, ctx.principal, a)),
  },
  Account: {
    owner: (a: AccountRecord) => ({ type: a.ownerType, id: a.ownerId }),
    branch: (a: AccountRecord, _: unknown, ctx: Context) => ctx.loaders.branch.load(a.branchId),
  },
};
