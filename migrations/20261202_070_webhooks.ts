// Webhooks (issue 15 §2): subscriptions of an admin's branch subtree or of one merchant, the
// deliveries of events to them (one row per event and subscription, sent in the order they were
// queued) and every attempt with its answer. A subscription's cursor is the last feed sequence of
// its head bank it has queued; its lease says which worker process is sending its head-of-line
// delivery (src/webhooks/worker.ts), so two processes never send the same attempt.
// The secret is kept as written (it must sign); it never leaves the database edge but through the
// create and rotate answers, once.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SEQUENCE webhook_subscriptions_id_seq;
    CREATE TABLE webhook_subscriptions (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('webhook_subscriptions_id_seq'),
      -- an admin's subscription: the subtree it hears; a merchant's: the merchant's branch
      branch_id bigint NOT NULL REFERENCES branches (id),
      merchant_id bigint,
      url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000 AND (url LIKE 'https://%' OR url LIKE 'http://%')),
      -- event types heard; empty: every type
      event_types text[] NOT NULL DEFAULT '{}' CHECK (cardinality(event_types) <= 64),
      status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED')),
      -- whsec_<base64 of 32 random bytes>; the previous one keeps signing for a grace period after a rotation
      secret text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]{40,100}$'),
      previous_secret text CHECK (previous_secret ~ '^whsec_[A-Za-z0-9+/=]{40,100}$'),
      previous_secret_until timestamptz,
      -- the last event sequence of the head bank's feed queued (or passed over) for this subscription
      cursor_seq bigint NOT NULL CHECK (cursor_seq >= 0),
      lease_token uuid,
      lease_until timestamptz,
      created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, merchant_id) REFERENCES merchants (head_id, id)
    );
    CREATE INDEX webhook_subscriptions_branch ON webhook_subscriptions (head_id, branch_id);

    CREATE SEQUENCE webhook_deliveries_id_seq;
    CREATE TABLE webhook_deliveries (
      head_id bigint NOT NULL,
      -- the queue order of a subscription: deliveries are sent in id order, one at a time
      id bigint NOT NULL DEFAULT nextval('webhook_deliveries_id_seq'),
      subscription_id bigint NOT NULL,
      event_id uuid NOT NULL,
      event_seq bigint NOT NULL,
      event_type text NOT NULL,
      occurred_at timestamptz NOT NULL,
      -- the body sent, fixed when queued so that every attempt signs the same bytes
      payload jsonb NOT NULL,
      status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'DEAD')),
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      redelivery boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, subscription_id) REFERENCES webhook_subscriptions (head_id, id) ON DELETE CASCADE,
      CONSTRAINT webhook_deliveries_finished CHECK ((status = 'PENDING') = (finished_at IS NULL))
    );
    -- the head of line of a subscription, and the backlog
    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription_id, id) WHERE status = 'PENDING';
    -- a subscription's deliveries newest first, by status (the console, dead letters)
    CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (head_id, subscription_id, id DESC);
    -- redelivering a time range
    CREATE INDEX webhook_deliveries_occurred ON webhook_deliveries (head_id, subscription_id, occurred_at);

    CREATE TABLE webhook_attempts (
      head_id bigint NOT NULL,
      delivery_id bigint NOT NULL,
      number integer NOT NULL CHECK (number >= 1),
      started_at timestamptz NOT NULL,
      duration_ms integer NOT NULL CHECK (duration_ms >= 0),
      -- null when no HTTP answer came (refused address, DNS, timeout, connection)
      status_code integer CHECK (status_code BETWEEN 100 AND 599),
      response_excerpt text CHECK (length(response_excerpt) <= 1024),
      error text CHECK (length(error) <= 500),
      PRIMARY KEY (head_id, delivery_id, number),
      FOREIGN KEY (head_id, delivery_id) REFERENCES webhook_deliveries (head_id, id) ON DELETE CASCADE
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS webhook_attempts;
    DROP TABLE IF EXISTS webhook_deliveries;
    DROP SEQUENCE IF EXISTS webhook_deliveries_id_seq;
    DROP TABLE IF EXISTS webhook_subscriptions;
    DROP SEQUENCE IF EXISTS webhook_subscriptions_id_seq;
  `);
}
