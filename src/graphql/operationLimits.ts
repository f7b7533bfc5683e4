// Operation checks before any resolver runs. No text of the API may carry the NUL character or a
// lone UTF-16 surrogate (PostgreSQL cannot store either in text or jsonb, and no name, memo or key
// needs them): refused once here, for every field of every operation, as BAD_USER_INPUT. Query depth and complexity limits: measured on the operation about to run (fragments expanded,
// variables known) and refused with BAD_USER_INPUT (HTTP 400) before any resolver runs. Cost: every
// field counts 1, and a field with a `first` argument counts its selection `first` times (a page
// of 200 transactions with their postings costs 200 times one transaction). Introspection fields
// are not counted (introspection is off in production). Measuring stops as soon as a limit is
// passed, so a fragment bomb costs the server no more than the limit.
import { GraphQLError, Kind, visit, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';

export interface OperationLimits { depthMax: number; complexityMax: number }

/** A `first` nobody gave: the schema's default page size. */
const firstDefault = 20;

class LimitPassed extends Error {}

function firstOf(value: ValueNode | undefined, variables: Record<string, unknown>): number {
  if (!value) return firstDefault;
  if (value.kind === Kind.INT) return Math.max(1, Number(value.value));
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === 'number' && Number.isFinite(v) ? Math.max(1, v) : firstDefault;
  }
  return firstDefault;
}

export function measureOperation(
  document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>, limits: OperationLimits,
): { depth: number; cost: number } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let cost = 0;
  let deepest = 0;
  const walk = (set: SelectionSetNode, depth: number, multiplier: number): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        cost += multiplier;
        if (depth > deepest) deepest = depth;
        if (deepest > limits.depthMax || cost > limits.complexityMax) throw new LimitPassed();
        if (selection.selectionSet) {
          const first = selection.arguments?.find((a) => a.name.value === 'first');
          walk(selection.selectionSet, depth + 1, first ? multiplier * firstOf(first.value, variables) : multiplier);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, depth, multiplier);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet, depth, multiplier);
      }
    }
  };
  try {
    walk(operation.selectionSet, 1, 1);
  } catch (error) {
    if (!(error instanceof LimitPassed)) throw error;
  }
  return { depth: deepest, cost };
}

function refuse(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/** NUL, or half of a surrogate pair without its other half: text that is not storable Unicode. */
const unstorableText = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether a variable value holds unstorable text anywhere; iterative, so a deeply nested list cannot overflow the stack. */
function holdsUnstorableText(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (unstorableText.test(value)) return true;
    } else if (Array.isArray(value)) {
      pending.push(...value);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (unstorableText.test(k)) return true;
        pending.push(v);
      }
    }
  }
  return false;
}

/** Whether a string literal written in the document (escapes decoded) is unstorable text. */
function literalsHoldUnstorableText(document: DocumentNode): boolean {
  let found = false;
  visit(document, { StringValue(node) { if (unstorableText.test(node.value)) found = true; } });
  return found;
}

/** The Apollo plugin that refuses operations past the limits, and unstorable text. */
export function operationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          if (holdsUnstorableText(request.variables) || literalsHoldUnstorableText(document)) {
            throw refuse('text may not contain the NUL character (\\u0000) or a lone UTF-16 surrogate (\\ud800-\\udfff)');
          }
          const { depth, cost } = measureOperation(document, operation, request.variables ?? {}, limits);
          if (depth > limits.depthMax) throw refuse(`the query is nested deeper than ${limits.depthMax} levels; ask for less at once`);
          if (cost > limits.complexityMax) {
            throw refuse(`the query would resolve more than ${limits.complexityMax} fields (each list counted \`first\` times); ask for smaller pages or fewer fields`);
          }
        },
      };
    },
  };
}
