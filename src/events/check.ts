// The feed's promise, checked from the outside (tests and `npm run chaos`): a head bank's events are
// numbered 1..n without gaps and have unique ids; every sealed transaction is in the feed exactly
// once, in chain order (journal_seals, the order the sealer saw them committed); and nothing else
// produced is a transaction event.
import type { Knex } from 'knex';

export interface FeedCheck {
  events: number;
  transactionEvents: number;
  /** Seals up to the producer's cursor. */
  sealsFed: number;
  problems: string[];
}

/** Compares the feed of one head bank with its journal seals up to the producer's cursor. */
export async function checkFeed(knex: Knex, headId: string): Promise<FeedCheck> {
  const problems: string[] = [];
  const [summary] = (await knex.raw(`
    SELECT count(*)::int AS events, coalesce(max(seq), 0)::text AS "lastSeq", count(DISTINCT id)::int AS ids,
           count(*) FILTER (WHERE type LIKE 'transaction.%')::int AS "transactionEvents",
           (SELECT seal_sequence::text FROM event_feeds WHERE head_id = ?) AS cursor
      FROM events WHERE head_id = ?`, [headId, headId])).rows;
  if (String(summary.events) !== summary.lastSeq) problems.push(`${summary.events} events but the last seq is ${summary.lastSeq}: a gap or a duplicate seq`);
  if (summary.ids !== summary.events) problems.push(`${summary.events - summary.ids} events share an id`);
  const cursor = summary.cursor ?? '0';
  // Walk seals and transaction events side by side: the k-th transaction event is the k-th seal.
  const { rows: walk } = await knex.raw(`
    WITH s AS (SELECT sequence, transaction_id, row_number() OVER (ORDER BY sequence) AS k
                 FROM journal_seals WHERE head_id = ? AND sequence <= ?::bigint),
         e AS (SELECT seq, seal_sequence, (data ->> 'id')::bigint AS transaction_id, type, row_number() OVER (ORDER BY seq) AS k
                 FROM events WHERE head_id = ? AND type LIKE 'transaction.%')
    SELECT s.sequence::text AS seal, s.transaction_id::text AS sealed, e.seq::text AS seq, e.seal_sequence::text AS "eventSeal",
           e.transaction_id::text AS "eventTransaction"
      FROM s FULL JOIN e ON e.k = s.k
     WHERE s.k IS NULL OR e.k IS NULL OR e.seal_sequence IS DISTINCT FROM s.sequence OR e.transaction_id IS DISTINCT FROM s.transaction_id
     ORDER BY coalesce(s.k, e.k) LIMIT 20`, [headId, cursor, headId]);
  for (const w of walk) {
    if (w.seq == null) problems.push(`seal ${w.seal} (transaction ${w.sealed}) is not in the feed`);
    else if (w.seal == null) problems.push(`event ${w.seq} (transaction ${w.eventTransaction}) follows no seal up to the cursor`);
    else problems.push(`event ${w.seq} is transaction ${w.eventTransaction} (seal ${w.eventSeal}) where seal ${w.seal} has transaction ${w.sealed}`);
  }
  const [fed] = (await knex.raw(`SELECT count(*)::int AS n FROM journal_seals WHERE head_id = ? AND sequence <= ?::bigint`, [headId, cursor])).rows;
  return { events: summary.events, transactionEvents: summary.transactionEvents, sealsFed: fed.n, problems };
}
