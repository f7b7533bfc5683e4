// The event feed (issue 15 §1): every change that matters outside, per head bank, in the order the
// feed producer (src/events/produce.ts) saw it committed, numbered 1, 2, 3 … without gaps.
// Transaction events are derived from journal_seals (the digest chain's per-head order, written off
// the award's transaction: no row is added to an award); the other changes (vouchers, claims,
// pools, score years, members) are written by triggers into event_outbox, which the producer empties
// into the same sequence. Publishers (NATS) keep their own cursor per head bank.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- The feed. seq is gap-free per head bank and assigned by the producer under its head row's lock
    -- (event_feeds), so readers may page by seq. id is the event's stable identity for consumers'
    -- dedup (NATS Nats-Msg-Id, webhook-id). seal_sequence ties a transaction event to its seal: a
    -- seal is in the feed once.
    CREATE TABLE events (
      head_id bigint NOT NULL REFERENCES branches (id),
      seq bigint NOT NULL CHECK (seq >= 1),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      type text NOT NULL CHECK (type ~ '^[a-z_]+\\.[a-z_]+$'),
      branch_path text NOT NULL,
      occurred_at timestamptz NOT NULL,
      data jsonb NOT NULL,
      seal_sequence bigint,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, seq),
      -- unique with the distribution key first (Citus); a uuid is unique anyway
      CONSTRAINT events_id_unique UNIQUE (head_id, id),
      CONSTRAINT events_seal_once UNIQUE (head_id, seal_sequence)
    );
    CREATE INDEX events_type ON events (head_id, type, seq);

    -- The producer's place per head bank: the last seq appended and the last journal seal turned
    -- into an event. The row is what a producer locks (FOR UPDATE SKIP LOCKED): one producer per head.
    CREATE TABLE event_feeds (
      head_id bigint PRIMARY KEY REFERENCES branches (id),
      seq bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
      seal_sequence bigint NOT NULL DEFAULT 0 CHECK (seal_sequence >= 0),
      produced_at timestamptz
    );

    -- State changes waiting for the producer (not transactions: those come from journal_seals). A
    -- row holds the changed row as it was (to_jsonb), so that an event shows the object as of its
    -- change, however late it is produced. No foreign keys: rows live for a producer's interval.
    CREATE TABLE event_outbox (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      type text NOT NULL,
      branch_id bigint NOT NULL,
      occurred_at timestamptz NOT NULL DEFAULT now(),
      row jsonb NOT NULL,
      PRIMARY KEY (head_id, id)
    );

    -- What each publisher has delivered per head bank: the last seq acknowledged (NATS: the
    -- JetStream ack). Advanced only after the ack, so an outage delays and loses nothing; the row
    -- is locked by the publishing process (SKIP LOCKED), so one process publishes a head at a time.
    CREATE TABLE event_publications (
      head_id bigint NOT NULL REFERENCES branches (id),
      target text NOT NULL CHECK (length(target) BETWEEN 1 AND 100),
      seq bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
      published_at timestamptz,
      PRIMARY KEY (head_id, target)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS event_publications, event_outbox, event_feeds, events`);
}
