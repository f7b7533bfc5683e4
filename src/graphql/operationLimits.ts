// Operation checks before any resolver runs. No text of the API may carry the NUL character or a
// lone UTF-16 surrogate (PostgreSQL cannot store either in text or jsonb, and no name, memo or key
// needs them): refused once here, for every field of every operation, as BAD_USER_INPUT. Query depth
// and cost limits: measured on the operation about to run (fragments expanded, variables known, the
// schema telling which fields are lists) and refused with BAD_USER_INPUT (HTTP 400) before any
// resolver runs. Cost: every field counts 1; a list multiplies what is selected under it by its
// size (its `first`, or for a list without paging arguments its real bound: a statement's movements
// count 1,000); a field that runs SQL of its own counts its weight each time it is asked for (each
// alias runs its own query); and expensive fields (statements, reports, ledger proofs) are capped per
// operation. Introspection fields are not counted (introspection is off in production). Measuring
// stops as soon as a limit is passed, so a fragment bomb costs the server no more than the limit.
import {
  GraphQLError, Kind, getNamedType, getNullableType, isListType, isObjectType, visit,
  type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLNamedType, type GraphQLSchema, type OperationDefinitionNode,
  type SelectionSetNode, type ValueNode,
} from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { batchSizeMax } from '../ledger/awards.js';
import { problemsListedMax } from '../ledger/verify.js';
import { statementMovementsMax } from '../reports/reports.js';

export interface OperationLimits { depthMax: number; complexityMax: number }

/** A `first` nobody gave: the schema's default page size. */
const firstDefault = 20;

/**
 * What a list without paging arguments counts, unless listBounds knows better: the API's unpaged
 * lists are short (a member's wallets, one per asset; a transaction's postings; a rule's outputs, at most 8).
 */
const unpagedListDefault = 10;

/** Unpaged lists whose real bound is larger than unpagedListDefault, by schema coordinate. */
const listBounds: Record<string, number> = {
  // a statement lists up to this many movements of its period
  'Statement.movements': statementMovementsMax,
  // a batch answers one result per award (counted at the number of awards given, when known: batchResultsOf)
  'AwardBatchResult.results': batchSizeMax,
  // verifyLedger lists at most this many problems
  'VerifyReport.problems': problemsListedMax,
  // every rule code of a branch path, or all their versions with history: a town has dozens
  'Query.rules': 100,
  // a town has a few dozen villages and communities under one branch
  'Branch.children': 50,
  // a subtree listed at once (src/directory/branches.ts subtreeListMax)
  'Query.branches': 2000,
  'BranchStats.children': 50,
};

/**
 * Every root field runs SQL of its own, and aliases do not share it: ~1 ms of a pooled connection
 * at least. With complexityMax 20,000 an operation may ask for at most 200 of them.
 */
const rootFieldCost = 100;

/** Nested fields that run a statement per parent (not batched by a dataloader), with their weight. */
const databaseFieldCosts: Record<string, number> = {
  // one indexed lookup per transaction (the reversal pointing at it)
  'Transaction.reversedBy': 10,
  // a statement reads a member's postings of a period (see also expensiveFields)
  'Member.statement': rootFieldCost,
};

/**
 * Expensive fields: how many an operation may ask for, counted across aliases and fragments and
 * multiplied by the lists around them, by class. One screen needs one or a few; a thousand aliases
 * of them held the service for minutes.
 */
const expensiveFields: Record<string, { kind: string; max: number }> = {
  // a statement reads up to 1,000 postings of a member's period: a page shows one, two compare
  'Member.statement': { kind: 'statement', max: 2 },
  // the reports aggregate a branch subtree's rollups (and rank every member): a dashboard shows a few
  'Query.partyScores': { kind: 'report', max: 4 },
  'Query.leaderboard': { kind: 'report', max: 4 },
  'Query.branchStats': { kind: 'report', max: 4 },
  'Query.merchantLeaderboard': { kind: 'report', max: 4 },
  // the console's dashboard asks for branchStats, branchMonths and topRules together: three reports
  'Query.branchMonths': { kind: 'report', max: 4 },
  'Query.topRules': { kind: 'report', max: 4 },
  // a lobby screen shows one board; each alias of another branch would miss the per-branch cache
  'Query.noticeBoard': { kind: 'notice board', max: 1 },
  // verifyLedger recomputes every balance and the whole digest chain of the head bank
  'Query.verifyLedger': { kind: 'verifyLedger', max: 1 },
  // the trial balance sums every account of the head bank
  'Query.trialBalance': { kind: 'trialBalance', max: 1 },
  // the latest seal and the queue behind it: one is all there is to know
  'Query.ledgerDigest': { kind: 'ledgerDigest', max: 1 },
  // paged scans of the journal and the spending tables, each up to 200 rows: a page shows a few lists
  'Query.transactions': { kind: 'paged list', max: 10 },
  'Query.claims': { kind: 'paged list', max: 10 },
  'Query.catalog': { kind: 'paged list', max: 10 },
  'Query.redemptions': { kind: 'paged list', max: 10 },
  'Query.pools': { kind: 'paged list', max: 10 },
  // a name search scans the branch subtree's members
  'Query.members': { kind: 'paged list', max: 10 },
  'Query.merchants': { kind: 'paged list', max: 10 },
  'Query.operators': { kind: 'paged list', max: 10 },
  'Query.webhookSubscriptions': { kind: 'paged list', max: 10 },
  'Query.webhookDeliveries': { kind: 'paged list', max: 10 },
};

class LimitPassed extends Error {}

/**
 * The number of awards an awardPointsBatch field was given (its results list has as many), if it can
 * be read; 1 past batchSizeMax, since such a batch is refused whole (by awardPointsBatch, naming `awards`) and answers no result.
 */
function batchResultsOf(root: FieldNode | undefined, variables: Record<string, unknown>): number | undefined {
  const size = givenAwards(root, variables);
  return size === undefined ? undefined : size > batchSizeMax ? 1 : size;
}

function givenAwards(root: FieldNode | undefined, variables: Record<string, unknown>): number | undefined {
  const input = root?.name.value === 'awardPointsBatch' ? root.arguments?.find((a) => a.name.value === 'input')?.value : undefined;
  if (!input) return undefined;
  if (input.kind === Kind.VARIABLE) {
    const awards = (variables[input.name.value] as { awards?: unknown } | undefined)?.awards;
    return Array.isArray(awards) ? Math.max(1, awards.length) : undefined;
  }
  if (input.kind !== Kind.OBJECT) return undefined;
  const awards = input.fields.find((f) => f.name.value === 'awards')?.value;
  if (awards?.kind === Kind.LIST) return Math.max(1, awards.values.length);
  if (awards?.kind === Kind.VARIABLE) {
    const list = variables[awards.name.value];
    return Array.isArray(list) ? Math.max(1, list.length) : undefined;
  }
  return undefined;
}

function firstOf(value: ValueNode | undefined, variables: Record<string, unknown>): number {
  if (!value) return firstDefault;
  if (value.kind === Kind.INT) return Math.max(1, Number(value.value));
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === 'number' && Number.isFinite(v) ? Math.max(1, v) : firstDefault;
  }
  return firstDefault;
}

export interface OperationMeasure {
  depth: number;
  cost: number;
  /** An expensive class asked for more often than it may be, if any. */
  overCap?: { kind: string; count: number; max: number };
}

export function measureOperation(
  document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>, limits: OperationLimits,
  schema?: GraphQLSchema,
): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let cost = 0;
  let deepest = 0;
  const expensive = new Map<string, number>();
  let overCap: OperationMeasure['overCap'];
  const rootType = schema ? (operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType()) : null;
  const typeNamed = (name: string): GraphQLNamedType | null | undefined => schema?.getType(name);
  const walk = (set: SelectionSetNode, depth: number, multiplier: number, parent: GraphQLNamedType | null | undefined, root?: FieldNode): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const coordinate = parent ? `${parent.name}.${name}` : '';
        const field = parent && isObjectType(parent) ? parent.getFields()[name] : undefined;
        const weight = parent && parent === rootType ? rootFieldCost : (databaseFieldCosts[coordinate] ?? 1);
        cost += multiplier * weight;
        const cap = expensiveFields[coordinate];
        if (cap) {
          const count = (expensive.get(cap.kind) ?? 0) + multiplier;
          expensive.set(cap.kind, count);
          if (count > cap.max) { overCap = { kind: cap.kind, count, max: cap.max }; throw new LimitPassed(); }
        }
        if (depth > deepest) deepest = depth;
        if (deepest > limits.depthMax || cost > limits.complexityMax) throw new LimitPassed();
        if (selection.selectionSet) {
          const first = selection.arguments?.find((a) => a.name.value === 'first');
          let size = 1;
          if (first) size = firstOf(first.value, variables);
          // a connection's edges are its page: the `first` of the field above counted them already
          else if (name === 'edges' && parent?.name.endsWith('Connection')) size = 1;
          else if (field && isListType(getNullableType(field.type))) {
            size = (coordinate === 'AwardBatchResult.results' ? batchResultsOf(root, variables) : undefined) ?? listBounds[coordinate] ?? unpagedListDefault;
          }
          walk(selection.selectionSet, depth + 1, multiplier * size, field ? getNamedType(field.type) : undefined, root ?? selection);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, depth, multiplier, selection.typeCondition ? typeNamed(selection.typeCondition.name.value) : parent, root);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet, depth, multiplier, typeNamed(fragment.typeCondition.name.value), root);
      }
    }
  };
  try {
    walk(operation.selectionSet, 1, 1, rootType);
  } catch (error) {
    if (!(error instanceof LimitPassed)) throw error;
  }
  return { depth: deepest, cost, overCap };
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
        async didResolveOperation({ document, operation, request, schema }) {
          if (!operation) return;
          if (holdsUnstorableText(request.variables) || literalsHoldUnstorableText(document)) {
            throw refuse('text may not contain the NUL character (\\u0000) or a lone UTF-16 surrogate (\\ud800-\\udfff)');
          }
          const { depth, cost, overCap } = measureOperation(document, operation, request.variables ?? {}, limits, schema);
          if (overCap) {
            throw refuse(`a request may ask for ${overCap.kind} at most ${overCap.max} time${overCap.max === 1 ? '' : 's'} (aliases, fragments and the lists around it count); this one asks for more: split it`);
          }
          if (depth > limits.depthMax) throw refuse(`the query is nested deeper than ${limits.depthMax} levels; ask for less at once`);
          if (cost > limits.complexityMax) {
            throw refuse(`the query would cost more than ${limits.complexityMax} (each field 1, each list counted by its size, each field that runs its own query ${rootFieldCost}); ask for smaller pages, fewer fields or fewer aliases`);
          }
        },
      };
    },
  };
}
