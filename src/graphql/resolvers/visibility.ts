// Nested fields show what the caller may see and null for the rest (the other member of a
// transfer, say), instead of failing the whole answer.
import { BankError } from '../../errors.js';

export async function ifVisible<T>(value: T | null, check: (value: T) => Promise<void>): Promise<T | null> {
  if (value === null) return null;
  try {
    await check(value);
    return value;
  } catch (error) {
    if (error instanceof BankError && error.code === 'FORBIDDEN') return null;
    throw error;
  }
}
