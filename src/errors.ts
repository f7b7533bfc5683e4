// The one error type of the bank: a SPEC error code and a message a person can act on.
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
  | 'INTERNAL';

export const errorCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'INSUFFICIENT_FUNDS', 'CAP_EXCEEDED',
  'OUT_OF_STOCK', 'LIMIT_EXCEEDED', 'IDEMPOTENCY_CONFLICT', 'INVALID_STATE', 'RATE_LIMITED', 'INTERNAL',
]);

export class BankError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The input field at fault, for BAD_USER_INPUT. */
    readonly field?: string,
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
