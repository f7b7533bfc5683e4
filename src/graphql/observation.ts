// What a GraphQL request tells the operator's instruments (src/http/observe.ts writes the log line and
// the metrics): its operation's name and its outcome code, recorded on the request's record by an
// Apollo plugin, and each award and transfer a write resolver made or refused, counted per award
// (a batch's items each count) through the context, never by reading the journal.
import type { ApolloServerPlugin } from '@apollo/server';
import type { Principal } from '../auth/principal.js';
import { errorCodeOf } from './errors.js';

/** One HTTP request as the log and the metrics see it; created by the HTTP edge before any work. */
export interface RequestRecord {
  id: string;
  /** The GraphQL operation's name as the document gives it (null: anonymous; undefined: not read). */
  operation?: string | null;
  /** OK, or the code of the first error the answer carries. */
  outcome?: string;
  principal?: Pick<Principal, 'sub' | 'role'>;
}

export type WriteKind = 'award' | 'transfer';

/** Counts writes by kind and outcome (OK or the refusal's code); supplied by the HTTP edge. */
export interface WriteCounter {
  count(kind: WriteKind, outcome: string, n?: number): void;
}

/** Records the operation name and the outcome of each request on context.request. */
export function requestObservationPlugin<C extends { request?: RequestRecord }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart({ contextValue }) {
      const record = contextValue.request;
      if (!record) return;
      return {
        async didResolveOperation({ operationName }) {
          record.operation = operationName;
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const code = errors?.[0]?.extensions?.code;
          record.outcome = errors?.length ? (typeof code === 'string' ? code : 'INTERNAL') : 'OK';
        },
      };
    },
  };
}

/** The root mutations counted, and as what. */
const countedWrites: Record<string, WriteKind> = { awardPoints: 'award', awardPointsBatch: 'award', transferPoints: 'transfer' };

type Resolve = (parent: unknown, args: unknown, ctx: { writes?: WriteCounter }, info: unknown) => unknown;

/**
 * Wraps the counted root mutations: one count per single write (OK or its error's code), one per
 * item of a batch (its item error's code). Without ctx.writes (no instruments), nothing is counted.
 */
export function countWrites<M extends Record<string, Record<string, unknown>>>(map: M): M {
  const mutations = map.Mutation;
  if (!mutations) return map;
  for (const [field, kind] of Object.entries(countedWrites)) {
    const resolve = mutations[field] as Resolve | undefined;
    if (!resolve) continue;
    mutations[field] = async (parent: unknown, args: unknown, ctx: { writes?: WriteCounter }, info: unknown) => {
      let result: unknown;
      try {
        result = await resolve(parent, args, ctx, info);
      } catch (error) {
        ctx.writes?.count(kind, errorCodeOf(error));
        throw error;
      }
      const items = (result as { results?: { error?: { code: string } | null }[] } | null)?.results;
      if (!ctx.writes) return result;
      if (!Array.isArray(items)) ctx.writes.count(kind, 'OK');
      else {
        let ok = 0;
        for (const item of items) if (item.error) ctx.writes.count(kind, item.error.code); else ok++;
        if (ok) ctx.writes.count(kind, 'OK', ok);
      }
      return result;
    };
  }
  return map;
}
