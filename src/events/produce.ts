// The feed producer: appends events to each head bank's feed (src/events/feed.ts), off every write
// path, in every service process like the sealer. One process at a time per head bank: a round locks
// the head's event_feeds row FOR UPDATE SKIP LOCKED and appends, deletes what it consumed and moves
// the cursor in the same database transaction, so each change is in the feed exactly once and a crash
// loses nothing (the next round starts from the committed cursor).
//
// Order. Transactions come from journal_seals, in chain order: the sealer gave each final transaction
// a gap-free sequence in the order it saw them committed, written off the award's transaction, and
// its blocks commit in sequence order (it holds the chain's head row), so a cursor over the sequence
// never skips a seal committed late. State changes come from event_outbox (triggers), sequenced when
// a round sees them committed. To merge the two in commit order, a round reads, in one snapshot, the
// outbox rows and the transactions committed but not yet sealed; it has those sealed (sealJournal),
// and appends the outbox rows only after every seal of a transaction committed before that snapshot.
// So a state change never comes before a transaction that committed before it (an approved claim's
// transaction.posted comes before its claim.decided); a transaction committed while a round ran may
// come before a state change committed just before it (both were first seen in the same round).
import type pg from 'pg';
import type { Bank } from '../bank.js';
import { inClientTransaction } from '../db/clientTransaction.js';
import { assertInvariant } from '../errors.js';
import { runEvery } from '../ledger/background.js';
import { sealJournal } from '../ledger/seal.js';
import { toClaim } from '../claims/claims.js';
import { toMember } from '../directory/members.js';
import { toPool } from '../pools/pools.js';
import { toRedemption } from '../redemption/vouchers.js';
import { toClosure } from '../reports/scoreYears.js';
import {
  claimDecided, claimSubmitted, memberCreated, memberMoved, poolStatusChanged, scoreYearClosed, scoreYearReopened,
  transactionPosted, transactionVoided, voucherStatusChanged,
} from './feed.js';

/** Seals turned into events per round: keeps a round's transaction (and the cursor's lock) short. */
export const sealsPerRoundMax = 2_000;
/** Outbox rows taken per round, for the same reason. */
export const changesPerRoundMax = 1_000;
/**
 * Unsealed transactions a round waits for before it appends state changes: past this, the sealer is
 * far behind and the changes wait for a later round (they lose nothing, and the seals go on).
 */
const unsealedFenceMax = 10_000;
/** Head banks looked at per round: bounds one round's work; the rest wait for the next round. */
const headBanksPerRoundMax = 1_000;

/** How a state-change event's row becomes the API's JSON: its table and the domain's own mapping. */
interface ChangeSource {
  table: string;
  /** Extra columns computed when the event is produced (as the API's reads compute them). */
  extra: string;
  toObject(bank: Bank, row: Record<string, any>): unknown;
}

const changeSources: Record<string, ChangeSource> = {
  // The status as it was at the change (the API reads an unswept expired voucher as EXPIRED: here the change itself is recorded).
  [voucherStatusChanged]: { table: 'redemptions', extra: 'r.status AS effective_status', toObject: toRedemption },
  [claimSubmitted]: { table: 'claims', extra: '', toObject: (_, r) => toClaim(r) },
  [claimDecided]: { table: 'claims', extra: '', toObject: (_, r) => toClaim(r) },
  // Donors are counted when the event is produced (the row does not carry them).
  [poolStatusChanged]: {
    table: 'pools',
    extra: '(SELECT count(DISTINCT d.member_id) FROM pool_donations d WHERE d.head_id = r.head_id AND d.pool_id = r.id)::int AS donors',
    toObject: toPool,
  },
  [scoreYearClosed]: { table: 'score_year_closures', extra: '', toObject: (_, r) => toClosure(r) },
  [scoreYearReopened]: { table: 'score_year_closures', extra: '', toObject: (_, r) => toClosure(r) },
  [memberCreated]: { table: 'members', extra: '', toObject: (_, r) => toMember(r) },
  [memberMoved]: { table: 'members', extra: '', toObject: (_, r) => toMember(r) },
};

/** The API's JSON of a value: Dates as ISO strings, as GraphQL's DateTime serializes them. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

export interface ProducedRound { headId: string; transactions: number; changes: number; lastSeq: string }

/** Reads the outbox rows as the API's objects, in outbox order. */
async function readChanges(bank: Bank, client: pg.PoolClient, headId: string, ids: string[]) {
  const byTable = new Map<string, string[]>();
  for (const [type, source] of Object.entries(changeSources)) byTable.set(source.table, [...(byTable.get(source.table) ?? []), type]);
  const changes: { outboxId: string; type: string; branchPath: string; occurredAt: Date; data: unknown }[] = [];
  for (const [table, types] of byTable) {
    const extra = changeSources[types[0]!]!.extra;
    // table and extra are constants of this file, never input.
    const { rows } = await client.query({
      name: `cb_event_changes_${table}`,
      text: `SELECT o.id::text AS "_outboxId", o.type AS "_type", b.path AS "_branchPath", o.occurred_at AS "_occurredAt", r.*${extra ? `, ${extra}` : ''}
               FROM event_outbox o JOIN branches b ON b.id = o.branch_id
               CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, o.row) r
              WHERE o.head_id = $1 AND o.id = ANY($2::bigint[]) AND o.type = ANY($3::text[])`,
      values: [headId, ids, types],
    });
    for (const r of rows) {
      changes.push({ outboxId: r._outboxId, type: r._type, branchPath: r._branchPath, occurredAt: r._occurredAt,
        data: asJson(changeSources[r._type]!.toObject(bank, r)) });
    }
  }
  assertInvariant(changes.length === ids.length, `head bank ${headId}: an outbox row has an unknown type or branch`);
  return changes.sort((a, b) => (BigInt(a.outboxId) < BigInt(b.outboxId) ? -1 : 1));
}

/**
 * One round for one head bank: appends the next seals and the committed state changes, in order.
 * Null when another process holds the head's feed; otherwise what was appended (possibly nothing).
 */
export async function produceEvents(bank: Bank, headId: string): Promise<ProducedRound | null> {
  await bank.pool.query({
    name: 'cb_event_feed_open',
    text: `INSERT INTO event_feeds (head_id) VALUES ($1) ON CONFLICT DO NOTHING`,
    values: [headId],
  });
  return inClientTransaction(bank.pool, async (client) => {
    const feed = await client.query({
      name: 'cb_event_feed_lock',
      text: `SELECT seq::text AS seq, seal_sequence::text AS "sealSequence" FROM event_feeds WHERE head_id = $1 FOR UPDATE SKIP LOCKED`,
      values: [headId],
    });
    if (!feed.rowCount) return null;
    const seq = BigInt(feed.rows[0].seq);
    const sealCursor = BigInt(feed.rows[0].sealSequence);
    // One statement, one snapshot: what is committed now, of both kinds.
    const seen = (await client.query({
      name: 'cb_event_feed_seen',
      text: `SELECT coalesce((SELECT sequence FROM journal_chains WHERE head_id = $1), 0)::text AS "chainHead",
                    coalesce((SELECT array_agg(q.transaction_id::text) FROM (SELECT transaction_id FROM journal_seal_queue
                                WHERE head_id = $1 LIMIT $2) q), '{}') AS unsealed,
                    coalesce((SELECT array_agg(o.id::text ORDER BY o.id) FROM (SELECT id FROM event_outbox
                                WHERE head_id = $1 ORDER BY id LIMIT $3) o), '{}') AS changes`,
      values: [headId, unsealedFenceMax + 1, changesPerRoundMax],
    })).rows[0] as { chainHead: string; unsealed: string[]; changes: string[] };
    // The seal up to which every transaction committed before the snapshot is sealed (null: not yet known).
    let fence: bigint | null = BigInt(seen.chainHead);
    if (seen.changes.length && seen.unsealed.length) {
      fence = null;
      if (seen.unsealed.length <= unsealedFenceMax) {
        await sealJournal(bank, headId);
        const sealed = (await client.query({
          name: 'cb_event_feed_fence',
          text: `SELECT count(*)::int AS n, max(sequence)::text AS last FROM journal_seals WHERE head_id = $1 AND transaction_id = ANY($2::bigint[])`,
          values: [headId, seen.unsealed],
        })).rows[0];
        // Another process may be sealing them right now: then the changes wait for the next round.
        if (sealed.n === seen.unsealed.length) fence = BigInt(seen.chainHead) > BigInt(sealed.last) ? BigInt(seen.chainHead) : BigInt(sealed.last);
      }
    }
    const takeChanges = seen.changes.length > 0 && fence !== null && fence - sealCursor <= BigInt(sealsPerRoundMax);
    const sealLimit = takeChanges ? fence! : sealCursor + BigInt(sealsPerRoundMax);
    const transactions = await client.query({
      name: 'cb_event_feed_transactions',
      text: `INSERT INTO events (head_id, seq, type, branch_path, occurred_at, data, seal_sequence)
             SELECT $1, $2::bigint + (s.sequence - $3::bigint),
                    CASE t.status WHEN 'POSTED' THEN '${transactionPosted}' ELSE '${transactionVoided}' END,
                    b.path, t.recorded_at, j.j, s.sequence
               FROM journal_seals s
               JOIN transactions t ON t.head_id = s.head_id AND t.id = s.transaction_id
               JOIN branches b ON b.id = t.branch_id
               JOIN LATERAL cb_transactions_json(s.head_id, ARRAY[s.transaction_id]) j ON true
              WHERE s.head_id = $1 AND s.sequence > $3::bigint AND s.sequence <= $4::bigint
             RETURNING seal_sequence::text AS "sealSequence"`,
      values: [headId, String(seq), String(sealCursor), String(sealLimit)],
    });
    // Seals are gap-free: the rows taken are exactly the next ones, so the events' seqs are gap-free too.
    const lastSeal = transactions.rows.reduce((max, r) => (BigInt(r.sealSequence) > max ? BigInt(r.sealSequence) : max), sealCursor);
    assertInvariant(lastSeal - sealCursor === BigInt(transactions.rowCount ?? 0), `head bank ${headId}: journal seals after ${sealCursor} have a gap`);
    let next = seq + BigInt(transactions.rowCount ?? 0);
    let changes = 0;
    if (takeChanges && lastSeal === fence) {
      const rows = await readChanges(bank, client, headId, seen.changes);
      const seqs = rows.map((_, i) => String(next + BigInt(i + 1)));
      await client.query({
        name: 'cb_event_feed_changes',
        text: `WITH appended AS (
                 INSERT INTO events (head_id, seq, type, branch_path, occurred_at, data)
                 SELECT $1, c.seq, c.type, c.path, c.occurred_at, c.data
                   FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[]) c (seq, type, path, occurred_at, data))
               DELETE FROM event_outbox WHERE head_id = $1 AND id = ANY($7::bigint[])`,
        values: [headId, seqs, rows.map((r) => r.type), rows.map((r) => r.branchPath), rows.map((r) => r.occurredAt),
          rows.map((r) => JSON.stringify(r.data)), rows.map((r) => r.outboxId)],
      });
      next += BigInt(rows.length);
      changes = rows.length;
    }
    await client.query({
      name: 'cb_event_feed_move',
      text: `UPDATE event_feeds SET seq = $2, seal_sequence = $3, produced_at = now() WHERE head_id = $1`,
      values: [headId, String(next), String(lastSeal)],
    });
    return { headId, transactions: transactions.rowCount ?? 0, changes, lastSeq: String(next) };
  });
}

/** Brings every head bank's feed (or one's) up to date, round by round; returns how many events were appended. */
export async function produceAllEvents(bank: Bank, headId?: string): Promise<number> {
  const heads: string[] = headId ? [headId] : (await bank.pool.query({
    name: 'cb_event_feed_heads',
    text: `SELECT id::text AS id FROM branches WHERE parent_id IS NULL ORDER BY id LIMIT $1`,
    values: [headBanksPerRoundMax],
  })).rows.map((r) => r.id);
  let appended = 0;
  for (const head of heads) {
    for (;;) {
      const round = await produceEvents(bank, head);
      if (!round) break;
      appended += round.transactions + round.changes;
      // A full round leaves more behind it; anything less is caught up (until the next round).
      if (round.transactions < sealsPerRoundMax && round.changes < changesPerRoundMax) break;
    }
  }
  return appended;
}

/** Runs the producer every intervalMs until stopped. */
export function startEventProducer(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return runEvery('events', intervalMs, () => produceAllEvents(bank), log);
}
