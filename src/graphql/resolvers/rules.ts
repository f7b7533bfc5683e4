// Resolvers of earning rules.
import type { Context } from '../context.js';
import { defineRule, listRules, type Rule } from '../../rules/rules.js';

export const ruleResolvers = {
  Query: {
    rules: (_: unknown, args: { branch?: string; code?: string; history?: boolean }, ctx: Context) =>
      listRules(ctx.bank, ctx.principal, args.branch ?? null, { code: args.code, history: args.history }),
  },
  Mutation: {
    defineRule: (_: unknown, { input }: { input: any }, ctx: Context) => defineRule(ctx.bank, ctx.principal, input),
  },
  Rule: {
    branch: (r: Rule, _: unknown, ctx: Context) => ctx.loaders.branch.load(r.branchId),
  },
};
