// Errors leave the process here, once: a BankError keeps its code and adds its parameters and field,
// in the caller's language (Accept-Language, via the context) with instants in the bank's time zone;
// a database outage becomes UNAVAILABLE (503, Retry-After); GraphQL's own validation and coercion
// errors become BAD_USER_INPUT with the field (the argument's or variable's path); anything else is
// INTERNAL with the request's id (its log line's) and a log line, never a stack trace.
import { randomUUID } from 'node:crypto';
import { GraphQLError, Kind, parse, type ASTNode, type GraphQLFormattedError, type ValueNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { BankError, errorCodes, httpStatusOf, unavailableRetryAfterSeconds, type ErrorCode } from '../errors.js';
import { renderError, type Locale } from '../errorMessages.js';
import { translateDbError } from '../db/errors.js';
import type { LineLog } from '../logger.js';

const apolloInputCodes = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_NOT_FOUND']);

/** Extensions a message parameter may not overwrite. */
const reservedExtensions: ReadonlySet<string> = new Set(['code', 'field', 'requestId', 'http', 'stacktrace']);

export const defaultLocale: Locale = { language: 'en', timeZone: 'UTC' };

/**
 * The locale of the request each error belongs to: Apollo's formatError sees the error, not the
 * context, so errorLocalePlugin (which sees both) and toGraphQLError record it here.
 */
const localeOf = new WeakMap<object, Locale>();
/** The id of the request each error belongs to (its log line's), recorded the same way. */
const requestIdOf = new WeakMap<object, string>();

/** The BankError an error stands for: raised by the domain, or translated from the database edge. */
function bankErrorOf(original: unknown): BankError | undefined {
  if (original instanceof BankError) return original;
  if (original instanceof GraphQLError) return original.originalError instanceof BankError ? original.originalError : undefined;
  const translated = translateDbError(original);
  return translated instanceof BankError ? translated : undefined;
}

function extensionsOf(error: BankError, params: Record<string, string | number>): Record<string, unknown> {
  const extensions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) if (!reservedExtensions.has(name)) extensions[name] = value;
  extensions.code = error.code;
  if (error.field) extensions.field = error.field;
  return extensions;
}

/**
 * graphql-js's "Did you mean …?" hints name fields, arguments, types and enum values near a wrong one:
 * with introspection off (production), they would hand out the schema a guess at a time. They end
 * validation errors and variable-coercion errors alike, so they are cut from every message here.
 */
const suggestion = / ?Did you mean [^?]*\?/g;

export function formatError(log: LineLog, options: { hideSchemaDetails?: boolean } = {}) {
  const shown = (formatted: GraphQLFormattedError): GraphQLFormattedError =>
    (options.hideSchemaDetails ? { ...formatted, message: formatted.message.replace(suggestion, '') } : formatted);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => shown(format(formatted, error));
  function format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    // a read's database error reaches here untranslated (writes translate theirs in withRetry): bankErrorOf translates it
    const original = unwrapResolverError(error);
    const locale = localeOf.get(error as object) ?? defaultLocale;
    const bankError = bankErrorOf(original);
    if (bankError) {
      const { message, params } = renderError(bankError, locale);
      const located = bankError.code === 'UNAUTHENTICATED' || bankError.code === 'RATE_LIMITED' ? {} : { locations: formatted.locations, path: formatted.path };
      return { message, ...located, extensions: extensionsOf(bankError, params) };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError && typeof code === 'string') {
      if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' || code === 'RATE_LIMITED') return { message: formatted.message, extensions: { code } };
      if (apolloInputCodes.has(code)) {
        // graphql-js's parser recurses per nesting level: a document nested thousands deep overflows it
        if (/^Maximum call stack size exceeded$/.test(formatted.message)) return { message: 'the query is nested too deeply to read', extensions: { code: 'BAD_USER_INPUT' } };
        return inputError(formatted, original);
      }
    }
    // graphql-js's own request errors carry no code ("Too many errors processing variables" after 50
    // bad variable values): raised before execution (no path) and caused by nothing but the request.
    if (original instanceof GraphQLError && !original.originalError && !formatted.path) return inputError(formatted, original);
    const requestId = requestIdOf.get(error as object) ?? randomUUID();
    log(`INTERNAL ${requestId}: ${(original as Error)?.stack ?? String(original)}`, 'error');
    return { message: `internal error; quote request id ${requestId}`, path: formatted.path, extensions: { code: 'INTERNAL', requestId } };
  }
}

function inputError(formatted: GraphQLFormattedError, original: GraphQLError): GraphQLFormattedError {
  const field = coercionField(original);
  return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}) } };
}

/** graphql-js's messages that name the field at fault (of an input object, or an argument). */
const missingFieldMessage = /Field "(?:[\w]+\.)?(\w+)" of required type "[^"]*" was not provided\./;
const unknownFieldMessage = /Field "(\w+)" is not defined by type "[^"]*"\./;
const missingArgumentMessage = /^Field "\w+" argument "(\w+)" of type "[^"]*" is required, but it was not provided\./;
const variableMessage = /^Variable "\$(\w+)" (?:got invalid value .*? at "([^"]+)";|got invalid value|of required type|of non-null type)/s;

/**
 * The path of the argument or variable an input error is about ("input.amount", "i.awards[0].quantity"),
 * from graphql-js's message (variables) or from where its node sits in the document (literals).
 */
export function coercionField(error: GraphQLError): string | undefined {
  const message = error.message;
  const missing = missingFieldMessage.exec(message)?.[1] ?? unknownFieldMessage.exec(message)?.[1];
  const variable = variableMessage.exec(message);
  if (variable) {
    const base = variable[2] ?? variable[1]!;
    return missing ? `${base}.${missing}` : base;
  }
  const argument = missingArgumentMessage.exec(message)?.[1];
  if (argument) return argument;
  const node = error.nodes?.[0];
  if (!node?.loc || !error.source) return undefined;
  let path: string | undefined;
  try {
    path = pathOfNode(parse(error.source), node);
  } catch {
    return undefined;
  }
  if (!path) return undefined;
  // An unknown field's node is the field itself (already on the path); a missing one's is its object.
  return missing && node.kind !== Kind.OBJECT_FIELD ? `${path}.${missing}` : path;
}

/** Where a value node sits inside the arguments of the document: "input.awards[2].amount". */
function pathOfNode(root: ASTNode, target: ASTNode): string | undefined {
  const same = (n: ASTNode) => n.kind === target.kind && n.loc?.start === target.loc!.start && n.loc?.end === target.loc!.end;
  const inValue = (value: ValueNode, path: string): string | undefined => {
    if (same(value)) return path;
    if (value.kind === Kind.OBJECT) {
      for (const f of value.fields) {
        const at = `${path}.${f.name.value}`;
        if (same(f)) return at;
        const found = inValue(f.value, at);
        if (found) return found;
      }
    } else if (value.kind === Kind.LIST) {
      for (const [i, v] of value.values.entries()) {
        const found = inValue(v, `${path}[${i}]`);
        if (found) return found;
      }
    }
    return undefined;
  };
  const stack: ASTNode[] = [root];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.kind === Kind.ARGUMENT) {
      if (same(node)) return node.name.value;
      const found = inValue(node.value, node.name.value);
      if (found) return found;
      continue;
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) for (const v of value) { if (v && typeof v === 'object' && 'kind' in v) stack.push(v as ASTNode); }
      else if (value && typeof value === 'object' && 'kind' in value) stack.push(value as ASTNode);
    }
  }
  return undefined;
}

/**
 * One failed item of a batch (ItemError), in the request's language with instants in its bank's
 * time zone: the same catalogue as a whole request's error, recovered from the item's English text.
 */
export function renderItemError(item: { code: string; message: string; field: string | null }, locale: Locale = defaultLocale): { code: string; message: string; field: string | null } {
  const { message } = renderError(new BankError(item.code as ErrorCode, item.message, item.field ?? undefined), locale);
  return { ...item, message };
}

/** The code an error leaves the process with (a refusal's code, UNAVAILABLE, or INTERNAL), for counting it. */
export function errorCodeOf(error: unknown): ErrorCode {
  const original = unwrapResolverError(error);
  const code = bankErrorOf(original)?.code ?? (original instanceof GraphQLError ? original.extensions?.code : undefined);
  return typeof code === 'string' && errorCodes.has(code) ? code as ErrorCode : 'INTERNAL';
}

/** The HTTP head an error answers with: 401, 429 or 503 (with Retry-After), else none of its own. */
function httpOf(error: BankError): { status: number; headers: Map<string, string> } | undefined {
  const status = httpStatusOf(error.code);
  if (status === 200) return undefined;
  const headers = new Map<string, string>();
  const retryAfter = error.code === 'UNAVAILABLE' ? unavailableRetryAfterSeconds : error.detail?.params?.retryAfter;
  if (retryAfter !== undefined) headers.set('retry-after', String(retryAfter));
  return { status, headers };
}

/** A BankError raised outside a resolver (building the context, a plugin), rendered in the request's locale. */
export function toGraphQLError(error: BankError, locale: Locale = defaultLocale): GraphQLError {
  const { message, params } = renderError(error, locale);
  const http = httpOf(error) ?? { status: 200, headers: new Map<string, string>() };
  const graphQLError = new GraphQLError(message, { extensions: { ...extensionsOf(error, params), http }, originalError: error });
  localeOf.set(graphQLError, locale);
  return graphQLError;
}

/**
 * Records each error's locale for formatError, and gives the response the status and Retry-After of
 * its errors: 503 when the database is unavailable (whether a domain function translated the error
 * or a read met it raw), so that a client retries, with the same idempotencyKey for a write.
 */
export function errorLocalePlugin<C extends { locale?: Locale; request?: { id: string } }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, response }) {
          const locale = contextValue.locale ?? defaultLocale;
          for (const error of errors) {
            localeOf.set(error, locale);
            if (contextValue.request) requestIdOf.set(error, contextValue.request.id);
            const bankError = bankErrorOf(unwrapResolverError(error));
            const http = bankError && bankError.code === 'UNAVAILABLE' ? httpOf(bankError) : undefined;
            if (http) {
              response.http.status = http.status;
              for (const [name, value] of http.headers) response.http.headers.set(name, value);
            }
          }
        },
      };
    },
  };
}
