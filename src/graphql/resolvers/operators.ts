// Resolvers of operators and signing in. signIn is public (graphql/publicOperations.ts): it and the
// Operator fields it can reach never read the principal or the per-request loaders, which an
// anonymous context does not have.
import { GraphQLError } from 'graphql';
import type { Context } from '../context.js';
import type { Principal } from '../../auth/principal.js';
import { findMerchant } from '../../redemption/merchants.js';
import { SignInThrottled } from '../../operators/addressThrottle.js';
import {
  changeMyPassword, createOperator, disableOperator, enableOperator, listOperators, loadOperator, operatorInScope,
  resetOperatorPassword, type Operator,
} from '../../operators/operators.js';
import { signOut } from '../../operators/sessions.js';
import { signIn } from '../../operators/signIn.js';

/** The per-address refusal as HTTP 429 with Retry-After, like the edge's own rate limit. */
function throttled(error: SignInThrottled): GraphQLError {
  const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
  return new GraphQLError(error.message, {
    extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: new Map([['retry-after', String(seconds)]]) } },
  });
}

export const operatorResolvers = {
  Query: {
    operators: (_: unknown, args: { branch?: string | null; first?: number | null; after?: string | null }, ctx: Context) =>
      listOperators(ctx.bank, ctx.principal, args.branch, args.first, args.after),
    operator: (_: unknown, { id }: { id: string }, ctx: Context) => operatorInScope(ctx.bank, ctx.principal, id),
  },
  Mutation: {
    signIn: async (_: unknown, { input }: { input: { username: string; password: string } }, ctx: Context) => {
      try {
        return await signIn(ctx.bank, input, ctx.address);
      } catch (error) {
        if (error instanceof SignInThrottled) throw throttled(error);
        throw error;
      }
    },
    signOut: (_: unknown, __: unknown, ctx: Context) => signOut(ctx.bank, ctx.principal),
    createOperator: (_: unknown, { input }: { input: any }, ctx: Context) => createOperator(ctx.bank, ctx.principal, input),
    resetOperatorPassword: (_: unknown, { input }: { input: any }, ctx: Context) => resetOperatorPassword(ctx.bank, ctx.principal, input),
    disableOperator: (_: unknown, { input }: { input: any }, ctx: Context) => disableOperator(ctx.bank, ctx.principal, input),
    enableOperator: (_: unknown, { input }: { input: any }, ctx: Context) => enableOperator(ctx.bank, ctx.principal, input),
    changeMyPassword: (_: unknown, { input }: { input: any }, ctx: Context) => changeMyPassword(ctx.bank, ctx.principal, input),
  },
  Me: {
    operator: (p: Principal, _: unknown, ctx: Context) => (p.operatorId ? loadOperator(ctx.bank, p.headId, p.operatorId) : null),
  },
  Operator: {
    disabled: (o: Operator) => o.disabledAt !== null,
    // Read without the loaders: signIn answers these in an anonymous context.
    branch: (o: Operator, _: unknown, ctx: Context) => ctx.bank.branches.requireById(o.branchId),
    merchant: (o: Operator, _: unknown, ctx: Context) => {
      if (!o.merchantId) return null;
      return ctx.anonymous ? findMerchant(ctx.bank, o.headId, o.merchantId) : ctx.loaders.merchant.load(o.merchantId);
    },
  },
};
