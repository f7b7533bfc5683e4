// Operations that need no token: signing in (an operator has no token yet) and the public notice
// board (公示栏, read by a lobby screen). A request without an Authorization header gets an anonymous
// context; once its operation is resolved, any root field outside publicRootFields makes the whole
// request UNAUTHENTICATED (HTTP 401) before a resolver runs, exactly as a missing token did before.
// Resolvers of public fields never read the principal: the anonymous context's principal throws.
import { GraphQLError, Kind, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Bank } from '../bank.js';
import { BankError } from '../errors.js';
import { toGraphQLError } from './errors.js';
import type { Context, Loaders } from './context.js';

/** Root fields (of Query or Mutation) that answer without a token. */
export const publicRootFields: ReadonlySet<string> = new Set(['signIn', 'noticeBoard']);

export const missingTokenMessage = 'send an Authorization: Bearer <token> header (npm run token prints one, signIn returns one)';

function missingToken(): BankError {
  return new BankError('UNAUTHENTICATED', missingTokenMessage);
}

/** The context of a request without a token: reading its principal or loaders is a bug, caught loudly. */
export function anonymousContext(bank: Bank, address: string | undefined): Context {
  const context = { bank, anonymous: true, address } as Context;
  for (const name of ['principal', 'loaders'] as const) {
    Object.defineProperty(context, name, { get(): Loaders { throw missingToken(); } });
  }
  return context;
}

/** The root fields an operation selects, fragments and inline fragments followed. */
function rootFields(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): string[] {
  const names: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) names.push(...rootFields(selection.selectionSet, fragments, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      if (fragment) names.push(...rootFields(fragment.selectionSet, fragments, seen));
    }
  }
  return names;
}

/** Refuses an anonymous operation that selects anything but public root fields (and __typename). */
export function publicOperationsPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document, operation }) {
          if (!contextValue.anonymous || !operation) return;
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
          const fields = rootFields(operation.selectionSet, fragments);
          const isPublic = operation.operation !== 'subscription' && fields.every((f) => f === '__typename' || publicRootFields.has(f))
            && fields.some((f) => f !== '__typename');
          if (!isPublic) throw toGraphQLError(missingToken(), contextValue.locale) as GraphQLError;
        },
      };
    },
  };
}
