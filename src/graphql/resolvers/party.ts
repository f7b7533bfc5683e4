// Resolvers of claims, party-score years and period reports. Thin: decode, call the domain, shape
// the answer; nested members, branches and transactions go through the request's dataloaders.
import type { Context } from '../context.js';
import type { Member } from '../../directory/members.js';
import { requireMemberVisible } from '../../directory/members.js';
import { approveClaim, countClaims, encodeClaimCursor, listClaims, loadClaim, rejectClaim, requireClaimVisible, submitClaim, type Claim } from '../../claims/claims.js';
import { checkId } from '../../directory/members.js';
import { branchStats, encodeOffsetCursor, leaderboard, memberStatement, partyScores } from '../../reports/reports.js';
import { partyHouseholdContextLoader } from '../../reports/householdReports.js';
import { closeScoreYear, listScoreYearClosures, reopenScoreYear, type ScoreYearClosure } from '../../reports/scoreYears.js';
import type { PeriodInput } from '../../reports/period.js';
import { ifVisible } from './visibility.js';
import { requireRole, visibleOrNull } from '../../auth/principal.js';

type Args<T> = { input: T };

export const partyResolvers = {
  Query: {
    claims: async (_: unknown, args: any, ctx: Context) => {
      const page = await listClaims(ctx.bank, ctx.principal, args);
      const edges = page.items.map((node) => ({ cursor: encodeClaimCursor(node.id), node }));
      // totalCount (board.ts) counts only when asked for.
      return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, count: () => countClaims(ctx.bank, ctx.principal, args) };
    },
    claim: async (_: unknown, { id }: { id: string }, ctx: Context) => {
      requireRole(ctx.principal, 'admin', 'member');
      const claim = await loadClaim(ctx.bank, ctx.principal.headId, checkId(id, 'id'));
      if (!claim) return null;
      // a claim outside the caller's scope reads like an unknown id (no member's externalId in a refusal)
      return visibleOrNull(claim, (c) => requireClaimVisible(ctx.bank, ctx.principal, c));
    },
    partyScores: async (_: unknown, args: { branch: string; period: PeriodInput; first?: number; after?: string }, ctx: Context) => {
      const page = await partyScores(ctx.bank, ctx.principal, args);
      for (const row of page.rows) ctx.loaders.member.prime(row.member.id, row.member);
      // The party members' households (党员包户) as context, read once for the page if asked for.
      const householdContext = partyHouseholdContextLoader(ctx.bank, ctx.principal.headId, page.rows.map((r) => r.member.id), page.period);
      const edges = page.rows.map((row, i) => ({ cursor: encodeOffsetCursor(page.offset + i), node: { ...row, householdContext } }));
      return { edges, totalCount: page.members, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    leaderboard: async (_: unknown, args: { branch: string; asset: string; period: PeriodInput; first?: number }, ctx: Context) => {
      const rows = await leaderboard(ctx.bank, ctx.principal, args);
      for (const row of rows) ctx.loaders.member.prime(row.member.id, row.member);
      return rows;
    },
    branchStats: (_: unknown, args: { branch: string; period: PeriodInput }, ctx: Context) => branchStats(ctx.bank, ctx.principal, args),
    scoreYearClosures: (_: unknown, { branch }: { branch: string }, ctx: Context) => listScoreYearClosures(ctx.bank, ctx.principal, branch),
  },
  Mutation: {
    submitClaim: (_: unknown, { input }: Args<any>, ctx: Context) => submitClaim(ctx.bank, ctx.principal, input),
    approveClaim: (_: unknown, { input }: Args<any>, ctx: Context) => approveClaim(ctx.bank, ctx.principal, input),
    rejectClaim: (_: unknown, { input }: Args<any>, ctx: Context) => rejectClaim(ctx.bank, ctx.principal, input),
    closeScoreYear: (_: unknown, { input }: Args<any>, ctx: Context) => closeScoreYear(ctx.bank, ctx.principal, input),
    reopenScoreYear: (_: unknown, { input }: Args<any>, ctx: Context) => reopenScoreYear(ctx.bank, ctx.principal, input),
  },
  Claim: {
    member: async (c: Claim, _: unknown, ctx: Context) =>
      ifVisible(await ctx.loaders.member.load(c.memberId), (m) => requireMemberVisible(ctx.bank, ctx.principal, m)),
    transaction: (c: Claim, _: unknown, ctx: Context) => (c.transactionId ? ctx.loaders.transaction.load(c.transactionId) : null),
  },
  ScoreYearClosure: {
    branch: (c: ScoreYearClosure, _: unknown, ctx: Context) => ctx.loaders.branch.load(c.branchId),
  },
  Member: {
    statement: (m: Member, { period }: { period: PeriodInput }, ctx: Context) => memberStatement(ctx.bank, ctx.principal, m, period),
  },
};
