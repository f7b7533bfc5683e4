// Opaque cursors of the lists that page by id (catalog items, redemptions, pools): a kind letter and
// an id, so that a cursor of one list is refused by another.
import { badInput } from './errors.js';

export function encodePageCursor(kind: string, id: string): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

export function decodePageCursor(kind: string, cursor: string | null | undefined, field = 'after'): string | null {
  if (cursor == null) return null;
  const match = /^([a-z]):(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match || match[1] !== kind) throw badInput(field, 'is not a cursor of this list');
  return match[2]!;
}

/** A page of a list, as connections answer it. */
export function pageOf<T extends { id: string }>(kind: string, rows: T[], size: number) {
  const items = rows.slice(0, size);
  return {
    edges: items.map((node) => ({ cursor: encodePageCursor(kind, node.id), node })),
    pageInfo: { hasNextPage: rows.length > size, endCursor: items.length ? encodePageCursor(kind, items.at(-1)!.id) : null },
  };
}
