// Checks of free-text and whole-number inputs shared by the administration writes: each refuses bad
// input with BAD_USER_INPUT naming the field, before anything is written. The one rule for
// identifiers and names (checkIdentifier, checkName) lives here: see identifierRule below.
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

/**
 * The rule for identifiers (a member's externalId; operator usernames) and names (of members,
 * merchants, branches, items, pools, rules), so that two that look alike are one, and nothing hides
 * in one:
 * - the text is normalised to NFKC first (fullwidth "ＡＢＣ１" is "ABC1", a ligature its letters), and
 *   what is stored, compared and looked up is the normalised text;
 * - no control character (Unicode Cc: NUL, tab, CR, LF, …), no format character (Cf: zero-width
 *   space and joiners, soft hyphen, the bidi controls U+202A-U+202E and U+2066-U+2069, the BOM), no
 *   line or paragraph separator (U+2028, U+2029);
 * - no space at either end;
 * - identifiers also: no whitespace at all, and no mix of Latin letters with Cyrillic or Greek ones
 *   (the look-alikes of "a", "e", "o", "p", "c", "x"…: "demo-user-00З" with a Cyrillic Ze). Han, kana
 *   and digits mix with Latin freely (街道-01 is fine).
 */
export const identifierRule = 'NFKC; no control, invisible or bidi characters, no spaces, no Latin mixed with Cyrillic or Greek';

/** Control (Cc), format (Cf: zero-width, bidi, soft hyphen, BOM), line and paragraph separators. */
const hiddenCharacters = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const latinLetter = /\p{Script=Latin}/u;
const lookAlikeLetter = /[\p{Script=Cyrillic}\p{Script=Greek}]/u;

/** An identifier by identifierRule, normalised; BAD_USER_INPUT naming the field otherwise. */
export function checkIdentifier(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string') throw badInput(field, `must be 1 to ${max} characters`);
  const text = value.normalize('NFKC');
  if (text.length === 0 || text.length > max) throw badInput(field, `must be 1 to ${max} characters`);
  if (hiddenCharacters.test(text) || /\s/u.test(text)) throw badInput(field, 'may not contain spaces, control, invisible (zero-width) or bidi characters');
  if (latinLetter.test(text) && lookAlikeLetter.test(text)) throw badInput(field, 'may not mix Latin letters with Cyrillic or Greek ones (they look alike)');
  return text;
}

/** A name by identifierRule (one line of visible text), normalised; null when absent and not required. */
export function checkName(field: string, value: unknown, max: number, required = true): string | null {
  if (value == null || value === '') {
    if (required) throw badInput(field, 'is required');
    return null;
  }
  if (typeof value !== 'string') throw badInput(field, `must be 1 to ${max} characters`);
  const text = value.normalize('NFKC');
  if (text.trim().length === 0 || text.length > max) throw badInput(field, `must be 1 to ${max} characters`);
  if (hiddenCharacters.test(text)) throw badInput(field, 'may not contain tabs, line breaks, control, invisible (zero-width) or bidi characters');
  if (text.trim() !== text) throw badInput(field, 'may not start or end with a space');
  return text;
}
