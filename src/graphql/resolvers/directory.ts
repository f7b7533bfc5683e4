// Resolvers of branches, members and the caller itself.
import type { Context } from '../context.js';
import { listSubtree, type Branch } from '../../directory/branches.js';
import { findMember, requireMemberVisible, upsertMember, type Member } from '../../directory/members.js';
import { createBranch } from '../../directory/createBranch.js';
import { requireRole, requireScope, visibleOrNull } from '../../auth/principal.js';
import { BankError } from '../../errors.js';
import { formatAmount } from '../../ledger/amounts.js';

export const directoryResolvers = {
  Query: {
    branches: (_: unknown, { under }: { under?: string | null }, ctx: Context) => listSubtree(ctx.bank, ctx.principal, under),
    me: (_: unknown, __: unknown, ctx: Context) => ctx.principal,
    branch: async (_: unknown, { code }: { code: string }, ctx: Context) => {
      const branch = await ctx.bank.branches.byCodeOrNull(code);
      if (!branch) return null;
      requireScope(ctx.principal, branch, 'branch');
      return branch;
    },
    member: async (_: unknown, args: { id?: string; externalId?: string }, ctx: Context) => {
      // merchants read no member at all: refused as such, whether the id exists or not
      requireRole(ctx.principal, 'admin', 'client', 'member');
      let member: Member;
      try {
        member = await findMember(ctx.bank, ctx.principal.headId, { id: args.id, externalId: args.externalId });
      } catch (error) {
        if (error instanceof BankError && error.code === 'NOT_FOUND') return null;
        throw error;
      }
      // outside the caller's scope reads like an unknown member (null), never "belongs to branch …"
      return visibleOrNull(member, (m) => requireMemberVisible(ctx.bank, ctx.principal, m));
    },
  },
  Mutation: {
    createBranch: (_: unknown, { input }: { input: any }, ctx: Context) => createBranch(ctx.bank, ctx.principal, input),
    upsertMember: (_: unknown, { input }: { input: any }, ctx: Context) => upsertMember(ctx.bank, ctx.principal, input),
  },
  Me: {
    member: (p: Context['principal'], _: unknown, ctx: Context) => (p.memberId ? ctx.loaders.member.load(p.memberId) : null),
    rules: (p: Context['principal']) => (p.rules === '*' ? ['*'] : [...p.rules]),
  },
  Branch: {
    parent: (b: Branch, _: unknown, ctx: Context) => (b.parentId ? ctx.loaders.branch.load(b.parentId) : null),
    children: (b: Branch, _: unknown, ctx: Context) => ctx.bank.branches.children(b),
  },
  Member: {
    branch: (m: Member, _: unknown, ctx: Context) => ctx.loaders.branch.load(m.branchId),
    accounts: (m: Member, _: unknown, ctx: Context) => ctx.loaders.wallets.load(m.id),
    balance: async (m: Member, { asset }: { asset: string }, ctx: Context) => {
      const wallet = (await ctx.loaders.wallets.load(m.id)).find((a) => a.asset === asset);
      return wallet?.balance ?? formatAmount('0', ctx.bank.assets.get(asset).scale);
    },
  },
};
