// Errors leave the process here, once: a BankError keeps its code and message; GraphQL's own
// validation errors become BAD_USER_INPUT; anything else is INTERNAL with a request id and a log
// line, never a stack trace.
import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { BankError } from '../errors.js';
import { translateDbError } from '../db/errors.js';

const apolloInputCodes = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_NOT_FOUND']);

/**
 * graphql-js's "Did you mean …?" hints name fields, arguments, types and enum values near a wrong one:
 * with introspection off (production), they would hand out the schema a guess at a time. They end
 * validation errors and variable-coercion errors alike, so they are cut from every message here.
 */
const suggestion = / ?Did you mean [^?]*\?/g;

export function formatError(log: (line: string) => void, options: { hideSchemaDetails?: boolean } = {}) {
  const shown = (formatted: GraphQLFormattedError): GraphQLFormattedError =>
    (options.hideSchemaDetails ? { ...formatted, message: formatted.message.replace(suggestion, '') } : formatted);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => shown(format(formatted, error));
  function format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    // a read's database error reaches here untranslated (writes translate theirs in withRetry)
    const original = translateDbError(unwrapResolverError(error));
    if (original instanceof BankError) {
      return {
        message: original.message, locations: formatted.locations, path: formatted.path,
        extensions: { code: original.code, ...(original.field ? { field: original.field } : {}) },
      };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError && typeof code === 'string') {
      if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' || code === 'RATE_LIMITED') return { message: formatted.message, extensions: { code } };
      if (apolloInputCodes.has(code)) {
        // graphql-js's parser recurses per nesting level: a document nested thousands deep overflows it
        const message = /^Maximum call stack size exceeded$/.test(formatted.message) ? 'the query is nested too deeply to read' : formatted.message;
        return { message, locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_USER_INPUT' } };
      }
    }
    // graphql-js's own request errors carry no code ("Too many errors processing variables" after 50
    // bad variable values): raised before execution (no path) and caused by nothing but the request.
    if (original instanceof GraphQLError && !original.originalError && !formatted.path) {
      return { message: formatted.message, locations: formatted.locations, extensions: { code: 'BAD_USER_INPUT' } };
    }
    const requestId = randomUUID();
    log(`INTERNAL ${requestId}: ${(original as Error)?.stack ?? String(original)}`);
    return { message: `internal error; quote request id ${requestId}`, path: formatted.path, extensions: { code: 'INTERNAL', requestId } };
  }
}

export function toGraphQLError(error: BankError): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: { code: error.code, http: { status: error.code === 'UNAUTHENTICATED' ? 401 : 200 } },
    originalError: error,
  });
}
