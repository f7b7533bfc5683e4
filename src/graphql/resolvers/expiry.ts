// Resolvers of point expiry (积分有效期): the policy, a member's expiring points (on `me` and on a
// statement) and the breakage report; thin over src/expiry/.
import type { Context } from '../context.js';
import type { Member } from '../../directory/members.js';
import { getExpiryPolicy, listExpiryPolicies, setExpiryPolicy, type ExpiryPolicyInput } from '../../expiry/policy.js';
import { expiringPoints } from '../../expiry/lots.js';
import { expiryBreakage } from '../../expiry/breakage.js';
import type { PeriodInput } from '../../reports/period.js';

export const expiryResolvers = {
  Query: {
    expiryPolicy: (_: unknown, { asset }: { asset: string }, ctx: Context) => getExpiryPolicy(ctx.bank, ctx.principal, asset),
    expiryPolicies: (_: unknown, __: unknown, ctx: Context) => listExpiryPolicies(ctx.bank, ctx.principal),
    expiryBreakage: (_: unknown, args: { branch?: string; asset: string; period: PeriodInput }, ctx: Context) =>
      expiryBreakage(ctx.bank, ctx.principal, args),
  },
  Mutation: {
    setExpiryPolicy: (_: unknown, { input }: { input: ExpiryPolicyInput }, ctx: Context) => setExpiryPolicy(ctx.bank, ctx.principal, input),
  },
  Me: {
    expiring: (p: Context['principal'], _: unknown, ctx: Context) =>
      (p.role === 'member' && p.memberId ? expiringPoints(ctx.bank, p.headId, p.memberId) : []),
  },
  Statement: {
    // memberStatement checked that the caller may read the member's statement; a household's statement has no member
    expiring: (s: { member: Member | null }, _: unknown, ctx: Context) => (s.member ? expiringPoints(ctx.bank, s.member.headId, s.member.id) : []),
  },
};
