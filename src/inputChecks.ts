// Checks of free-text and whole-number inputs shared by the administration writes: each refuses bad
// input with BAD_USER_INPUT naming the field, before anything is written.
import { badInput } from './errors.js';

/** Text of 1 to max characters without NUL; null when absent and not required. */
export function checkText(field: string, value: unknown, max: number, required: boolean): string | null {
  if (value == null || value === '') {
    if (required) throw badInput(field, 'is required');
    return null;
  }
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max || value.includes('\u0000')) {
    throw badInput(field, `must be 1 to ${max} characters`);
  }
  return value;
}

/** A whole number in [min, max]; null when absent. */
export function checkWholeNumber(field: string, value: unknown, min: number, max: number): number | null {
  if (value == null) return null;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) throw badInput(field, `must be a whole number from ${min} to ${max}`);
  return value as number;
}
