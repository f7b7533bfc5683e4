// The digest chain over the journal (invariant 8), defined once: the canonical encoding of a
// transaction with its postings and the SHA-256 link from one digest to the next. The sealer
// (seal.ts) writes digests with it and the verifier (verify.ts) recomputes them with it.
import { createHash } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { ChainEntry } from './sql/chainEntries.js';

/** The digest before the first transaction of every chain. */
export const genesisDigest: Buffer = Buffer.alloc(32);

/** Names the encoding, so that a later change of it is a new version, never a silent one. */
const encodingVersion = 'civility-bank/journal/v1';

/** A NUMERIC's value in plain notation without trailing zeros: "5.00" and "5" are the same amount. */
function canonicalNumber(value: string | null): string | null {
  return value === null ? null : new Decimal(value).toFixed();
}

/**
 * The canonical encoding of a sealed transaction: a JSON array of its fields in a fixed order
 * (strings or null; JSON escapes every control character, so the encoding is unambiguous),
 * with its place in the chain and its postings in line order.
 */
export function encodeEntry(sequence: string, e: ChainEntry): string {
  return JSON.stringify([
    encodingVersion, e.headId, sequence, e.id, e.kind, e.status, e.branchId, e.memberId, e.ruleId,
    e.principalSub, e.principalRole, e.occurredAtUs, e.recordedAtUs, e.memo, e.metadata, e.reason, e.reversesId, e.forced,
    e.postings.map((p) => [String(p.line), p.accountId, p.asset, String(p.scale), canonicalNumber(p.amount), canonicalNumber(p.balanceAfter)]),
  ]);
}

/** digest(n) = SHA-256(digest(n-1) ‖ encoding(n)). */
export function chainDigest(previous: Buffer, sequence: string, entry: ChainEntry): Buffer {
  return createHash('sha256').update(previous).update(encodeEntry(sequence, entry), 'utf8').digest();
}
