// The event feed as consumers read it: per head bank, in feed order (seq 1, 2, 3 … without gaps, the
// order the producer saw the changes committed; src/events/produce.ts), each event with a stable id
// for dedup. Webhook delivery, the NATS publisher and the GraphQL `events` read page through it here.
import type pg from 'pg';
import type { Bank } from '../bank.js';
import { requireRole, type Principal } from '../auth/principal.js';
import { badInput } from '../errors.js';

/** A transaction became final as POSTED (awards, deductions, transfers, adjustments, reversals, redemptions at fulfilment, donations, disbursements). */
export const transactionPosted = 'transaction.posted';
/** A transaction became final as VOIDED (a voucher's hold released: cancelled or expired). */
export const transactionVoided = 'transaction.voided';
/** A voucher was issued (PENDING) or changed status (FULFILLED, CANCELLED, EXPIRED, REFUNDED). */
export const voucherStatusChanged = 'voucher.status_changed';
/** A claim was submitted (PENDING). */
export const claimSubmitted = 'claim.submitted';
/** A claim was approved or rejected. */
export const claimDecided = 'claim.decided';
/** A pool was opened (OPEN) or changed status (FUNDED, DISBURSED, CLOSED). */
export const poolStatusChanged = 'pool.status_changed';
/** A party-score year was closed for a branch subtree. */
export const scoreYearClosed = 'score_year.closed';
/** A closed party-score year was reopened. */
export const scoreYearReopened = 'score_year.reopened';
/** A member was created. */
export const memberCreated = 'member.created';
/** A member moved to another branch. */
export const memberMoved = 'member.moved';

/** The catalogue, in the README's order. */
export const eventTypes = [
  transactionPosted, transactionVoided, voucherStatusChanged, claimSubmitted, claimDecided,
  poolStatusChanged, scoreYearClosed, scoreYearReopened, memberCreated, memberMoved,
] as const;
export type EventType = (typeof eventTypes)[number];

export interface BankEvent {
  /** Stable and unique: a consumer dedupes by it (NATS Nats-Msg-Id, webhook-id). */
  id: string;
  /** The event's place in its head bank's feed: 1, 2, 3 … without gaps (a decimal string: bigint). */
  seq: string;
  type: string;
  headId: string;
  /** The head bank's code, for NATS subjects (civility.<head>.<type>). */
  head: string;
  /** The path of ids of the object's branch, '/1/5/12/': a scope is a prefix of it. */
  branchPath: string;
  /** When the change happened (ISO 8601). */
  occurredAt: string;
  /** The API's JSON of the object as of the change. */
  data: unknown;
}

export interface ReadEventsQuery {
  headId: string;
  /** Events after this seq ('0' from the start). */
  afterSeq: string;
  /** At most this many (1..eventsPageMax). */
  limit: number;
  /** Only these types (omitted or empty: all). */
  types?: readonly string[] | null;
  /** Only events of this branch path's subtree (a prefix of branchPath), e.g. an admin's scope. */
  branchPath?: string | null;
}

/** Events per read: a page a consumer handles in one go; a webhook or NATS round reads one page. */
export const eventsPageMax = 1_000;

const seqPattern = /^\d{1,19}$/;

/** Events of one head bank after a seq, in feed order. */
export async function readEvents(pool: pg.Pool, query: ReadEventsQuery): Promise<BankEvent[]> {
  if (!seqPattern.test(query.afterSeq)) throw badInput('after', `must be an event seq (a whole number), got "${String(query.afterSeq).slice(0, 40)}"`);
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > eventsPageMax) throw badInput('first', `must be from 1 to ${eventsPageMax}`);
  const types = query.types?.length ? [...query.types] : null;
  const { rows } = await pool.query({
    name: 'cb_read_events',
    text: `SELECT e.id::text AS id, e.seq::text AS seq, e.type, e.head_id::text AS "headId", h.code AS head,
                  e.branch_path AS "branchPath", e.occurred_at AS "occurredAt", e.data
             FROM events e JOIN branches h ON h.id = e.head_id
            WHERE e.head_id = $1 AND e.seq > $2 AND ($4::text[] IS NULL OR e.type = ANY($4::text[]))
              AND ($5::text IS NULL OR starts_with(e.branch_path, $5::text))
            ORDER BY e.seq LIMIT $3`,
    values: [query.headId, query.afterSeq, query.limit, types, query.branchPath ?? null],
  });
  return rows.map((r) => ({ ...r, occurredAt: (r.occurredAt as Date).toISOString() }));
}

/** The last seq of a head bank's feed ('0' before the first event). */
export async function lastEventSeq(pool: pg.Pool, headId: string): Promise<string> {
  const { rows } = await pool.query({
    name: 'cb_last_event_seq',
    text: `SELECT coalesce(max(seq), 0)::text AS seq FROM events WHERE head_id = $1`,
    values: [headId],
  });
  return rows[0].seq;
}

/** Events per GraphQL page: below eventsPageMax, so that one more can be read to see whether a next page exists. */
export const eventsQueryPageMax = 500;

/** The feed as an admin reads it over GraphQL: its own head bank, only events of its branch subtree. */
export async function readEventsOfScope(
  bank: Bank, principal: Principal, args: { after?: string | null; first?: number | null; types?: readonly string[] | null },
): Promise<{ edges: { cursor: string; node: BankEvent }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> {
  requireRole(principal, 'admin');
  const first = args.first ?? 100;
  if (!Number.isInteger(first) || first < 1 || first > eventsQueryPageMax) throw badInput('first', `must be from 1 to ${eventsQueryPageMax}`);
  const unknown = (args.types ?? []).find((t) => !(eventTypes as readonly string[]).includes(t));
  if (unknown !== undefined) throw badInput('types', `"${unknown.slice(0, 60)}" is not an event type (${eventTypes.join(', ')})`);
  // One more than asked: whether a next page exists. A read past the head is an empty page, not an error.
  const rows = await readEvents(bank.pool, {
    headId: principal.headId, afterSeq: args.after ?? '0', limit: first + 1, types: args.types, branchPath: principal.branch.path,
  });
  const page = rows.slice(0, first);
  return {
    edges: page.map((node) => ({ cursor: node.seq, node })),
    pageInfo: { hasNextPage: rows.length > first, endCursor: page.at(-1)?.seq ?? args.after ?? null },
  };
}
