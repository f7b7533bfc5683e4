// The one error type of the bank: a SPEC error code and a message a person can act on, with the
// message's parameters (extensions) and id (its translations, errorMessages.ts) when it has them.
// Mapped to GraphQL extensions.code in one place (graphql/errors.ts).

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'INSUFFICIENT_FUNDS'
  | 'CAP_EXCEEDED'
  | 'OUT_OF_STOCK'
  | 'LIMIT_EXCEEDED'
  | 'IDEMPOTENCY_CONFLICT'
  | 'INVALID_STATE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export const errorCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'INSUFFICIENT_FUNDS', 'CAP_EXCEEDED',
  'OUT_OF_STOCK', 'LIMIT_EXCEEDED', 'IDEMPOTENCY_CONFLICT', 'INVALID_STATE', 'RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL',
]);

/**
 * How long a client waits before retrying after UNAVAILABLE (Retry-After): a PostgreSQL restart or
 * failover takes a few seconds, and a shorter wait only adds load while it recovers.
 */
export const unavailableRetryAfterSeconds = 2;

/** The HTTP status an error of this code answers with (everything else is 200, GraphQL's way). */
export function httpStatusOf(code: string): number {
  return code === 'UNAUTHENTICATED' ? 401 : code === 'RATE_LIMITED' ? 429 : code === 'UNAVAILABLE' ? 503 : 200;
}

/** A message's parameters: what a client may show or act on (an instant is formatted in the bank's time zone). */
export type MessageParams = Record<string, string | number | Date>;

export class BankError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The input field at fault, for BAD_USER_INPUT. */
    readonly field?: string,
    /** The message's id in the catalogue (errorMessages.ts) and its parameters, when known. */
    readonly detail?: { id?: string; params?: MessageParams },
  ) {
    super(message);
    this.name = 'BankError';
  }
}

export function badInput(field: string, message: string): BankError {
  return new BankError('BAD_USER_INPUT', `${field}: ${message}`, field);
}

/** An impossible state: stops the request with INTERNAL and a log line, never silently mended. */
export function assertInvariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`);
}
