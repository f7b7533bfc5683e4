// Resolvers of the event feed: the admin's read of its subtree's events (src/events/feed.ts).
import type { Context } from '../context.js';
import { readEventsOfScope } from '../../events/feed.js';

export const eventResolvers = {
  Query: {
    events: (_: unknown, args: { after?: string | null; first?: number | null; types?: string[] | null }, ctx: Context) =>
      readEventsOfScope(ctx.bank, ctx.principal, args),
  },
};
