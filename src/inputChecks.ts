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

/**
 * How deep a JSON value of the API (metadata) may nest: what a kiosk records about an activity is a
 * few levels (a station, its place, a coordinate); 16 leaves room, and bounds every recursive
 * reader of it after this check (JSON.stringify, the request hash, PostgreSQL's jsonb).
 */
export const jsonDepthMax = 16;

/** Whether a JSON value nests deeper than max (objects and lists count a level each); iterative, so no depth overflows it. */
export function jsonDeeperThan(root: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[root, 0]];
  while (pending.length) {
    const [value, depth] = pending.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) pending.push([child, depth + 1]);
  }
  return false;
}
