// Opaque cursors of the spending lists (catalog items, redemptions, pools): a kind letter and an id.
import { badInput } from '../errors.js';

export function encodePageCursor(kind: string, id: string): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

export function decodePageCursor(kind: string, cursor: string | null | undefined, field = 'after'): string | null {
  if (cursor == null) return null;
  const match = /^([a-z]):(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match || match[1] !== kind) throw badInput(field, 'is not a cursor of this list');
  return match[2]!;
}
