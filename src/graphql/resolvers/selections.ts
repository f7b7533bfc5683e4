// Resolvers of selections (评选): thin over src/selections; nested members and transactions go
// through the request's dataloaders, masked names for everyone, members only where visible.
import type { Context } from '../context.js';
import { requireMemberVisible } from '../../directory/members.js';
import {
  extendSelection, fileObjection, listCandidates, listHistory, listObjections, listSelections, nominate, openSelection, publishSelection,
  readSelection, resolveObjection, withdrawSelection, type Candidate, type Selection,
} from '../../selections/selections.js';
import { maskName } from '../../reports/noticeBoard.js';
import { encodePageCursor } from '../../pagination.js';
import { ifVisible } from './visibility.js';

type Args<T> = { input: T };

export const selectionResolvers = {
  Query: {
    selections: async (_: unknown, args: any, ctx: Context) => {
      const page = await listSelections(ctx.bank, ctx.principal, args);
      const edges = page.items.map((node) => ({ cursor: encodePageCursor('s', node.id), node }));
      return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    selection: (_: unknown, { id }: { id: string }, ctx: Context) => readSelection(ctx.bank, ctx.principal, id),
  },
  Mutation: {
    openSelection: (_: unknown, { input }: Args<any>, ctx: Context) => openSelection(ctx.bank, ctx.principal, input),
    nominate: (_: unknown, { input }: Args<any>, ctx: Context) => nominate(ctx.bank, ctx.principal, input),
    publishSelection: (_: unknown, { input }: Args<any>, ctx: Context) => publishSelection(ctx.bank, ctx.principal, input),
    fileObjection: (_: unknown, { input }: Args<any>, ctx: Context) => fileObjection(ctx.bank, ctx.principal, input),
    resolveObjection: (_: unknown, { input }: Args<any>, ctx: Context) => resolveObjection(ctx.bank, ctx.principal, input),
    withdrawSelection: (_: unknown, { input }: Args<any>, ctx: Context) => withdrawSelection(ctx.bank, ctx.principal, input),
    extendSelection: (_: unknown, { input }: Args<any>, ctx: Context) => extendSelection(ctx.bank, ctx.principal, input),
  },
  Selection: {
    branch: (s: Selection, _: unknown, ctx: Context) => ctx.loaders.branch.load(s.branchId),
    candidates: (s: Selection, _: unknown, ctx: Context) => listCandidates(ctx.bank, s),
    objections: (s: Selection, _: unknown, ctx: Context) => listObjections(ctx.bank, ctx.principal, s),
    history: (s: Selection, _: unknown, ctx: Context) => listHistory(ctx.bank, ctx.principal, s),
  },
  SelectionCandidate: {
    member: async (c: Candidate, _: unknown, ctx: Context) =>
      (c.memberId ? ifVisible(await ctx.loaders.member.load(c.memberId), (m) => requireMemberVisible(ctx.bank, ctx.principal, m)) : null),
    maskedName: (c: Candidate) => maskName(c.name),
    transaction: (c: Candidate, _: unknown, ctx: Context) => (c.transactionId && ctx.principal.role === 'admin' ? ctx.loaders.transaction.load(c.transactionId) : null),
    awardError: (c: Candidate, _: unknown, ctx: Context) => (ctx.principal.role === 'admin' ? c.awardError : null),
  },
};
