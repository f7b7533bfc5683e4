// Publishes the feed to NATS JetStream (issue 15 §3) when NATS_URL is set: every event to subject
// <prefix>.<head bank code>.<event type> with Nats-Msg-Id = the event id, so JetStream drops a
// message published twice within its duplicate window. Per head bank the database keeps the last seq
// JetStream acknowledged (event_publications), advanced only after the acks: an outage, or a crash
// between publishing and recording it, delays and republishes, and loses nothing. One process
// publishes a head bank at a time: a round holds the head's publication row (FOR UPDATE SKIP LOCKED)
// while it publishes. That lock is the publisher's own (no writer or reader waits on it) and a round
// is bounded (a page of events, each ack bounded by ackTimeoutMs), so holding it over the network
// call blocks nobody but another publisher.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { Bank } from '../bank.js';
import type { Config } from '../config.js';
import { inClientTransaction } from '../db/clientTransaction.js';
import { runEvery } from '../ledger/background.js';
import { readEvents, type BankEvent } from './feed.js';

/** Events published per round and head bank: a page of the feed, acknowledged together. */
export const publishPageMax = 500;
/** How long one publish waits for JetStream's ack: past it the round stops and retries later. */
const ackTimeoutMs = 5_000;
/** How long connecting may take before the round gives up (NATS down: retried next round). */
const connectTimeoutMs = 2_000;
/** Head banks looked at per round. */
const headBanksPerRoundMax = 1_000;

export type NatsSettings = Config['nats'] & { url: string };

/** A subject token for a head bank code: codes may hold '.', which splits NATS tokens; '~' (never in a code) stands for it. */
export function subjectToken(code: string): string {
  return code.replace(/\./g, '~');
}

export function subjectOf(settings: Pick<NatsSettings, 'subjectPrefix'>, event: Pick<BankEvent, 'head' | 'type'>): string {
  return `${settings.subjectPrefix}.${subjectToken(event.head)}.${event.type}`;
}

export interface PublishedRound { headId: string; published: number; duplicates: number; lastSeq: string }

export class NatsPublisher {
  private connection: NatsConnection | null = null;
  private client: JetStreamClient | null = null;
  /** The cursor's name in event_publications: per stream, so that a new stream gets the whole feed. */
  readonly target: string;

  constructor(private readonly bank: Bank, readonly settings: NatsSettings) {
    this.target = `nats:${settings.stream}`;
  }

  /** The connection and stream, made on first use and again after the connection closed. */
  private async jetstream(): Promise<JetStreamClient> {
    if (this.connection && !this.connection.isClosed() && this.client) return this.client;
    this.connection = null;
    const connection = await connect({ servers: this.settings.url, timeout: connectTimeoutMs, maxReconnectAttempts: -1, name: 'civility-bank' });
    try {
      const manager = await jetstreamManager(connection);
      try {
        await manager.streams.info(this.settings.stream);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
        await manager.streams.add({
          name: this.settings.stream,
          subjects: [`${this.settings.subjectPrefix}.>`],
          max_age: this.settings.maxAgeHours * 3_600 * 1e9,
          max_bytes: this.settings.maxBytes,
          // JetStream refuses a duplicate window longer than the stream keeps messages.
          duplicate_window: Math.min(this.settings.duplicateWindowSeconds, this.settings.maxAgeHours * 3_600) * 1e9,
        });
      }
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.connection = connection;
    this.client = jetstream(connection, { timeout: ackTimeoutMs });
    return this.client;
  }

  /** One round for one head bank; null when another process is publishing it. */
  async publishHead(headId: string): Promise<PublishedRound | null> {
    await this.bank.pool.query({
      name: 'cb_event_publication_open',
      text: `INSERT INTO event_publications (head_id, target) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      values: [headId, this.target],
    });
    return inClientTransaction(this.bank.pool, async (db) => {
      const cursor = await db.query({
        name: 'cb_event_publication_lock',
        text: `SELECT seq::text AS seq FROM event_publications WHERE head_id = $1 AND target = $2 FOR UPDATE SKIP LOCKED`,
        values: [headId, this.target],
      });
      if (!cursor.rowCount) return null;
      const events = await readEvents(this.bank.pool, { headId, afterSeq: cursor.rows[0].seq, limit: publishPageMax });
      if (!events.length) return { headId, published: 0, duplicates: 0, lastSeq: cursor.rows[0].seq };
      const js = await this.jetstream();
      // Sent in feed order on one connection, so JetStream stores them in that order; the cursor moves
      // to the last event of the unbroken run of acks from the start (a later ack past a failed one
      // counts for nothing: that event is published again, and JetStream drops the duplicate).
      const acks = await Promise.allSettled(events.map((e) =>
        js.publish(subjectOf(this.settings, e), JSON.stringify(e), { msgID: e.id, timeout: ackTimeoutMs })));
      let acked = 0;
      let duplicates = 0;
      while (acked < acks.length && acks[acked]!.status === 'fulfilled') {
        if ((acks[acked] as PromiseFulfilledResult<{ duplicate: boolean }>).value.duplicate) duplicates++;
        acked++;
      }
      const lastSeq = acked ? events[acked - 1]!.seq : cursor.rows[0].seq;
      if (acked) {
        await db.query({
          name: 'cb_event_publication_move',
          text: `UPDATE event_publications SET seq = $3, published_at = now() WHERE head_id = $1 AND target = $2`,
          values: [headId, this.target, lastSeq],
        });
      }
      const failed = acks.find((a): a is PromiseRejectedResult => a.status === 'rejected');
      if (failed && !acked) throw failed.reason;
      return { headId, published: acked, duplicates, lastSeq };
    });
  }

  /** Publishes what every head bank's feed has beyond its cursor; returns how many were acknowledged. */
  async publishAll(): Promise<number> {
    const { rows } = await this.bank.pool.query({
      name: 'cb_event_publish_heads',
      text: `SELECT head_id::text AS id FROM event_feeds WHERE seq > 0 ORDER BY head_id LIMIT $1`,
      values: [headBanksPerRoundMax],
    });
    let published = 0;
    for (const { id } of rows) {
      for (;;) {
        const round = await this.publishHead(id);
        if (!round) break;
        published += round.published;
        if (round.published < publishPageMax) break;
      }
    }
    return published;
  }

  /** How many events of a head bank JetStream has not acknowledged yet (the publish lag). */
  async lag(headId: string): Promise<number> {
    const { rows } = await this.bank.pool.query({
      name: 'cb_event_publish_lag',
      text: `SELECT (coalesce((SELECT seq FROM event_feeds WHERE head_id = $1), 0)
                     - coalesce((SELECT seq FROM event_publications WHERE head_id = $1 AND target = $2), 0))::int AS lag`,
      values: [headId, this.target],
    });
    return rows[0].lag;
  }

  /** Drops the connection (the next round connects again). */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    this.client = null;
    if (connection && !connection.isClosed()) await connection.close();
  }
}

/** Runs the publisher every publishIntervalMs until stopped; a round that fails (NATS down) is logged and retried. */
export function startNatsPublisher(bank: Bank, settings: NatsSettings, log: (line: string) => void): () => Promise<void> {
  const publisher = new NatsPublisher(bank, settings);
  const stop = runEvery('nats', settings.publishIntervalMs, () => publisher.publishAll(), log);
  return async () => {
    await stop();
    await publisher.close();
  };
}
