// Resolvers of the public notice board (公示栏) and the console's reads. noticeBoard runs without a
// token: it reads only ctx.bank (never ctx.principal or ctx.loaders, which throw for anonymous
// requests). The rest are thin over their domain functions, scoped by the token as every read.
import type { Context } from '../context.js';
import type { Branch } from '../../directory/branches.js';
import { searchMembers } from '../../directory/memberSearch.js';
import { listMerchants } from '../../redemption/merchants.js';
import { noticeBoard, setNoticeBoard } from '../../reports/noticeBoard.js';
import { branchMonths, topRules } from '../../reports/branchMonths.js';
import type { PeriodInput } from '../../reports/period.js';
import { encodePageCursor } from '../../pagination.js';

function connection<T extends { id: string }>(kind: string, page: { items: T[]; hasNextPage: boolean }) {
  const edges = page.items.map((node) => ({ cursor: encodePageCursor(kind, node.id), node }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}

export const boardResolvers = {
  Query: {
    noticeBoard: (_: unknown, { branch }: { branch: string }, ctx: Context) => noticeBoard(ctx.bank, branch),
    members: async (_: unknown, args: { branch?: string; search?: string; first?: number; after?: string }, ctx: Context) => {
      const page = await searchMembers(ctx.bank, ctx.principal, args);
      for (const m of page.items) ctx.loaders.member.prime(m.id, m);
      return connection('m', page);
    },
    merchants: async (_: unknown, args: { branch?: string; first?: number; after?: string }, ctx: Context) => {
      const page = await listMerchants(ctx.bank, ctx.principal, args);
      for (const m of page.items) ctx.loaders.merchant.prime(m.id, m);
      return connection('c', page);
    },
    branchMonths: (_: unknown, args: { branch: string; period: PeriodInput }, ctx: Context) => branchMonths(ctx.bank, ctx.principal, args),
    topRules: (_: unknown, args: { branch: string; period: PeriodInput; first?: number }, ctx: Context) => topRules(ctx.bank, ctx.principal, args),
  },
  Mutation: {
    setNoticeBoard: (_: unknown, { input }: { input: { branch: string; enabled: boolean } }, ctx: Context) => setNoticeBoard(ctx.bank, ctx.principal, input),
  },
  Branch: {
    noticeBoard: (b: Branch, _: unknown, ctx: Context) => ctx.loaders.noticeBoard.load(b.id),
  },
  ClaimConnection: {
    totalCount: (c: { count: () => Promise<number> }) => c.count(),
  },
};
