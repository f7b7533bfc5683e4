// Resolvers of households (户): upsertHousehold, the branch's spending policy, reads, and the household
// fields of members, transactions and redemptions. Same roles and scopes as members.
import type { Context } from '../context.js';
import type { Branch } from '../../directory/branches.js';
import { requireMemberVisible, type Member } from '../../directory/members.js';
import {
  currentMemberships, findHousehold, householdOfMember, householdSpendingOf, listHouseholds, membershipHistory,
  requireHouseholdVisible, setHouseholdSpending, upsertHousehold, type Household, type HouseholdMembership,
} from '../../households/households.js';
import { visibleOrNull } from '../../auth/principal.js';
import { householdStatement } from '../../reports/reports.js';
import type { PeriodInput } from '../../reports/period.js';
import type { TransactionRecord } from '../../ledger/transactions.js';
import type { Redemption } from '../../redemption/vouchers.js';
import { formatAmount } from '../../ledger/amounts.js';
import { ifVisible } from './visibility.js';

/** A household by id if the caller may read it, else null (out of view reads like none). */
async function householdIfVisible(ctx: Context, id: string | null): Promise<Household | null> {
  if (!id) return null;
  return ifVisible(await ctx.loaders.household.load(id), (h) => requireHouseholdVisible(ctx.bank, ctx.principal, h));
}

async function memberIfVisible(ctx: Context, id: string | null): Promise<Member | null> {
  if (!id) return null;
  return ifVisible(await ctx.loaders.member.load(id), (m) => requireMemberVisible(ctx.bank, ctx.principal, m));
}

export const householdResolvers = {
  Query: {
    household: async (_: unknown, { externalId }: { externalId: string }, ctx: Context) => {
      const household = await findHousehold(ctx.bank, ctx.principal.headId, externalId);
      // outside the caller's view reads like an unknown household
      return household ? visibleOrNull(household, (h) => requireHouseholdVisible(ctx.bank, ctx.principal, h)) : null;
    },
    households: (_: unknown, args: { branch?: string; first?: number; after?: string }, ctx: Context) => listHouseholds(ctx.bank, ctx.principal, args),
  },
  Mutation: {
    upsertHousehold: (_: unknown, { input }: { input: any }, ctx: Context) => upsertHousehold(ctx.bank, ctx.principal, input),
    setHouseholdSpending: (_: unknown, { input }: { input: any }, ctx: Context) => setHouseholdSpending(ctx.bank, ctx.principal, input),
  },
  Household: {
    branch: (h: Household, _: unknown, ctx: Context) => ctx.loaders.branch.load(h.branchId),
    head: (h: Household, _: unknown, ctx: Context) => memberIfVisible(ctx, h.headMemberId),
    members: (h: Household, _: unknown, ctx: Context) => currentMemberships(ctx.bank, h),
    memberHistory: (h: Household, _: unknown, ctx: Context) => membershipHistory(ctx.bank, h),
    accounts: (h: Household, _: unknown, ctx: Context) => ctx.loaders.householdWallets.load(h.id),
    balance: async (h: Household, { asset }: { asset: string }, ctx: Context) => {
      const wallet = (await ctx.loaders.householdWallets.load(h.id)).find((a) => a.asset === asset);
      return wallet?.balance ?? formatAmount('0', ctx.bank.assets.get(asset).scale);
    },
    statement: (h: Household, { period }: { period: PeriodInput }, ctx: Context) => householdStatement(ctx.bank, ctx.principal, h, period),
  },
  HouseholdMember: {
    member: (m: HouseholdMembership, _: unknown, ctx: Context) => memberIfVisible(ctx, m.memberId),
  },
  Branch: {
    householdSpending: async (b: Branch, _: unknown, ctx: Context) => (await householdSpendingOf(ctx.bank, b)).effective,
    householdSpendingSet: async (b: Branch, _: unknown, ctx: Context) => (await householdSpendingOf(ctx.bank, b)).own,
  },
  Member: {
    household: async (m: Member, _: unknown, ctx: Context) => {
      const household = await householdOfMember(ctx.bank, m.headId, m.id);
      return household ? visibleOrNull(household, (h) => requireHouseholdVisible(ctx.bank, ctx.principal, h)) : null;
    },
  },
  Transaction: {
    household: (t: TransactionRecord, _: unknown, ctx: Context) => householdIfVisible(ctx, t.householdId),
  },
  Redemption: {
    wallet: (r: Redemption) => (r.householdId ? 'HOUSEHOLD' : 'MEMBER'),
    household: (r: Redemption, _: unknown, ctx: Context) => householdIfVisible(ctx, r.householdId),
  },
};
