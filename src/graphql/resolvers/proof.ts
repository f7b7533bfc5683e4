// Resolvers of the proof of the books: the latest sealed digest and the verification report.
import type { Context } from '../context.js';
import { ledgerDigest, verifyLedger, type PublishedDigest } from '../../ledger/verify.js';

export const proofResolvers = {
  Query: {
    ledgerDigest: (_: unknown, __: unknown, ctx: Context) => ledgerDigest(ctx.bank, ctx.principal),
    verifyLedger: (_: unknown, args: { published?: PublishedDigest | null; since?: PublishedDigest | null }, ctx: Context) =>
      verifyLedger(ctx.bank, ctx.principal, args.published ?? undefined, args.since ?? undefined),
  },
};
