// Resolvers of household reports (户): the household leaderboard, the households of branchStats,
// party members' households (党员包户: links, and context beside party scores). Thin: decode, call
// the domain, shape the answer; households and members go through the request's dataloaders.
import type { Context } from '../context.js';
import { requireMemberVisible, type Member } from '../../directory/members.js';
import { requireHouseholdVisible, type Household } from '../../households/households.js';
import {
  householdPartyLinks, linkPartyMemberHouseholds, partyHouseholdLinks, unlinkPartyMemberHouseholds, type PartyHouseholdLink,
} from '../../households/partyLinks.js';
import { householdBranchStats, householdLeaderboard, type PartyHouseholdContext } from '../../reports/householdReports.js';
import type { BranchStats } from '../../reports/reports.js';
import type { PeriodInput } from '../../reports/period.js';
import { ifVisible } from './visibility.js';

type PartyScoreNode = { member: Member; householdContext: (memberId: string, asset: string) => Promise<PartyHouseholdContext> };

export const householdReportResolvers = {
  Query: {
    householdLeaderboard: async (_: unknown, args: { branch: string; asset: string; period: PeriodInput; first?: number }, ctx: Context) => {
      const rows = await householdLeaderboard(ctx.bank, ctx.principal, args);
      for (const row of rows) ctx.loaders.household.prime(row.household.id, row.household);
      return rows;
    },
  },
  Mutation: {
    linkPartyMemberHouseholds: (_: unknown, { input }: { input: any }, ctx: Context) => linkPartyMemberHouseholds(ctx.bank, ctx.principal, input),
    unlinkPartyMemberHouseholds: (_: unknown, { input }: { input: any }, ctx: Context) => unlinkPartyMemberHouseholds(ctx.bank, ctx.principal, input),
  },
  BranchStats: {
    households: (s: BranchStats, _: unknown, ctx: Context) => householdBranchStats(ctx.bank, s.scope, s.period),
  },
  PartyScore: {
    households: (s: PartyScoreNode, { asset }: { asset: string }, ctx: Context) => s.householdContext(s.member.id, asset),
  },
  PartyHouseholdLink: {
    household: async (l: PartyHouseholdLink, _: unknown, ctx: Context) =>
      ifVisible(await ctx.loaders.household.load(l.householdId), (h: Household) => requireHouseholdVisible(ctx.bank, ctx.principal, h)),
    member: async (l: PartyHouseholdLink, _: unknown, ctx: Context) =>
      ifVisible(await ctx.loaders.member.load(l.memberId), (m: Member) => requireMemberVisible(ctx.bank, ctx.principal, m)),
  },
  Member: {
    householdLinks: async (m: Member, { history }: { history?: boolean }, ctx: Context) => {
      await requireMemberVisible(ctx.bank, ctx.principal, m);
      return partyHouseholdLinks(ctx.bank, m, history ?? false);
    },
  },
  Household: {
    partyMemberLinks: async (h: Household, { history }: { history?: boolean }, ctx: Context) => {
      await requireHouseholdVisible(ctx.bank, ctx.principal, h);
      return householdPartyLinks(ctx.bank, h, history ?? false);
    },
  },
};
