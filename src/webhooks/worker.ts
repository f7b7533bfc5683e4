// The webhook delivery worker, run by every service process. Two steps a round:
//  1. queue: each active subscription behind its head bank's feed reads the next events after its
//     cursor (src/events/feed.ts), keeps those of its types and scope, inserts one delivery each and
//     moves its cursor, under its row lock (FOR UPDATE SKIP LOCKED: one process queues a subscription
//     at a time), while fewer than pendingPerSubscriptionMax wait (the feed is the backlog beyond).
//  2. send: a process leases due subscriptions (FOR UPDATE SKIP LOCKED, a lease token and expiry on the
//     row), then per subscription takes its head-of-line delivery's next attempt number (one statement,
//     only under its lease), sends it with no lock or transaction open, and records the answer. Order per
//     subscriber: the next delivery is taken only once the one before it was delivered or dead-lettered.
// Invariants: an attempt number is taken once (so no two processes send the same attempt); a lease
// outlives the attempt's time budget, so it cannot lapse while its holder is still sending.
import { randomUUID } from 'node:crypto';
import type { Bank } from '../bank.js';
import { eventsPageMax, lastEventSeq, readEvents, type BankEvent } from '../events/feed.js';
import { concernsMerchant } from './eventTypes.js';
import { sendWebhook, type AttemptOutcome } from './send.js';
import { webhookHeaders } from './signing.js';

/** Deliveries queued per subscription at most: an endpoint down for a day holds the feed's place, not a day of rows. */
export const pendingPerSubscriptionMax = 1000;
/** Deliveries a lease sends before it is given back, so that one busy subscriber cannot keep a slot for ever. */
export const deliveriesPerLeaseMax = 100;
/** Subscriptions queued per round per process: a round stays short; the next one continues. */
const subscriptionsQueuedPerRoundMax = 200;
/** A lease's margin over the attempt's budget: recording the answer and a slow database. */
const leaseMarginMs = 30_000;
/** Each retry's wait is scaled by a random factor in [1 - jitter, 1 + jitter], so failing receivers are not hit in step. */
export const retryJitter = 0.2;

export interface WebhookWorkerOptions {
  retryScheduleMs?: number[];
  concurrency?: number;
  intervalMs?: number;
  attemptTimeoutMs?: number;
  /** Past this age a failed delivery is dead-lettered without further retries (deliveryAgeMaxMs of the schedule by default). */
  ageMaxMs?: number;
  random?: () => number;
}

interface QueuedSubscription { head_id: string; id: string; branch_id: string; merchant_id: string | null; event_types: string[]; cursor_seq: string }

/** The JSON body of a delivery (Standard Webhooks: type, timestamp, data; plus the feed's fields). */
export function deliveryPayload(event: BankEvent): Record<string, unknown> {
  return { id: event.id, type: event.type, timestamp: event.occurredAt, head: event.head, branchPath: event.branchPath, seq: event.seq, data: event.data };
}

/** Queues the new events of one subscription; answers how many deliveries it queued (0 when another process holds it). */
async function queueSubscription(bank: Bank, headId: string, id: string): Promise<number> {
  return bank.knex.transaction(async (trx) => {
    const { rows } = await trx.raw(`
      SELECT s.head_id, s.id, s.branch_id, s.merchant_id, s.event_types, s.cursor_seq::text AS cursor_seq
        FROM webhook_subscriptions s WHERE s.head_id = ? AND s.id = ? AND s.status = 'ACTIVE' FOR UPDATE SKIP LOCKED`, [headId, id]);
    const s = rows[0] as QueuedSubscription | undefined;
    if (!s) return 0;
    const { rows: waiting } = await trx.raw(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = ? AND status = 'PENDING'`, [s.id]);
    const room = Math.min(eventsPageMax, pendingPerSubscriptionMax - waiting[0].n);
    if (room <= 0) return 0;
    // Read the feed's end first: every event up to it is committed, so a short read may move the cursor there.
    const last = await lastEventSeq(bank.pool, s.head_id);
    const branch = await bank.branches.requireById(String(s.branch_id));
    const events = await readEvents(bank.pool, {
      headId: s.head_id, afterSeq: s.cursor_seq, limit: room, types: s.event_types,
      branchPath: s.merchant_id === null ? branch.path : null,
    });
    let heard = events;
    if (s.merchant_id !== null && events.length) {
      const { rows: accounts } = await trx.raw(`SELECT id::text AS id FROM accounts WHERE head_id = ? AND owner_type = 'MERCHANT' AND owner_id = ?`, [s.head_id, s.merchant_id]);
      const accountIds = new Set<string>(accounts.map((a: { id: string }) => a.id));
      heard = events.filter((e) => concernsMerchant(e, String(s.merchant_id), accountIds));
    }
    const cursor = events.length === room ? events.at(-1)!.seq : (BigInt(last) > BigInt(events.at(-1)?.seq ?? '0') ? last : events.at(-1)?.seq ?? s.cursor_seq);
    if (heard.length) {
      await trx.raw(`
        INSERT INTO webhook_deliveries (head_id, subscription_id, event_id, event_seq, event_type, occurred_at, payload)
        SELECT ?, ?, e.id, e.seq, e.type, e.occurred_at, e.payload
          FROM jsonb_to_recordset(?::jsonb) AS e(id uuid, seq bigint, type text, occurred_at timestamptz, payload jsonb) ORDER BY e.seq`,
      [s.head_id, s.id, JSON.stringify(heard.map((e) => ({ id: e.id, seq: e.seq, type: e.type, occurred_at: e.occurredAt, payload: deliveryPayload(e) })))]);
    }
    if (BigInt(cursor) > BigInt(s.cursor_seq)) {
      await trx('webhook_subscriptions').where({ head_id: s.head_id, id: s.id }).update({ cursor_seq: cursor });
    }
    return heard.length;
  });
}

/** Step 1 of a round: queue new events for every active subscription behind its feed. Answers deliveries queued. */
export async function queueWebhookDeliveries(bank: Bank): Promise<number> {
  const { rows } = await bank.knex.raw(`
    SELECT s.head_id, s.id FROM webhook_subscriptions s
     WHERE s.status = 'ACTIVE' AND s.cursor_seq < (SELECT coalesce(max(e.seq), 0) FROM events e WHERE e.head_id = s.head_id)
     ORDER BY s.id LIMIT ?`, [subscriptionsQueuedPerRoundMax]);
  let queued = 0;
  for (const r of rows) queued += await queueSubscription(bank, String(r.head_id), String(r.id));
  return queued;
}

interface Lease { headId: string; subscriptionId: string; token: string }

/** Leases up to n active subscriptions whose head-of-line delivery is due and that no live lease holds. */
async function leaseDueSubscriptions(bank: Bank, n: number, leaseMs: number): Promise<Lease[]> {
  // one token per round fences every lease of it: a lease is the (subscription, token) pair
  const token = randomUUID();
  const { rows } = await bank.knex.raw(`
    WITH due AS (
      SELECT s.head_id, s.id FROM webhook_subscriptions s
       CROSS JOIN LATERAL (SELECT d.next_attempt_at FROM webhook_deliveries d
                            WHERE d.subscription_id = s.id AND d.status = 'PENDING' ORDER BY d.id LIMIT 1) h
       WHERE s.status = 'ACTIVE' AND (s.lease_until IS NULL OR s.lease_until < now()) AND h.next_attempt_at <= now()
       ORDER BY h.next_attempt_at LIMIT ?
       FOR UPDATE OF s SKIP LOCKED)
    UPDATE webhook_subscriptions s SET lease_token = ?::uuid, lease_until = now() + make_interval(secs => ?)
      FROM due WHERE s.head_id = due.head_id AND s.id = due.id
    RETURNING s.head_id, s.id`, [n, token, leaseMs / 1000]);
  return rows.map((r: any) => ({ headId: String(r.head_id), subscriptionId: String(r.id), token }));
}

interface TakenAttempt {
  deliveryId: string; eventId: string; body: string; number: number; createdAt: Date;
  url: string; secrets: string[];
}

/**
 * Takes the next attempt number of the subscription's head-of-line delivery, if it is due, and extends
 * the lease; only the lease's holder can (its token), and each number is taken once.
 */
async function takeAttempt(bank: Bank, lease: Lease, leaseMs: number): Promise<TakenAttempt | null> {
  const { rows } = await bank.knex.raw(`
    WITH lease AS (
      UPDATE webhook_subscriptions SET lease_until = now() + make_interval(secs => ?)
       WHERE head_id = ? AND id = ? AND lease_token = ?::uuid AND status = 'ACTIVE'
      RETURNING head_id, id, url, secret, CASE WHEN previous_secret_until > now() THEN previous_secret END AS previous_secret)
    UPDATE webhook_deliveries d SET attempts = d.attempts + 1 FROM lease
     WHERE d.head_id = lease.head_id AND d.status = 'PENDING' AND d.next_attempt_at <= now()
       AND d.id = (SELECT h.id FROM webhook_deliveries h WHERE h.subscription_id = lease.id AND h.status = 'PENDING' ORDER BY h.id LIMIT 1)
    RETURNING d.id, d.event_id, d.payload::text AS body, d.attempts, d.created_at, lease.url, lease.secret, lease.previous_secret`,
  [leaseMs / 1000, lease.headId, lease.subscriptionId, lease.token]);
  const r = rows[0];
  if (!r) return null;
  return {
    deliveryId: String(r.id), eventId: r.event_id, body: r.body, number: r.attempts, createdAt: r.created_at, url: r.url,
    secrets: r.previous_secret ? [r.secret, r.previous_secret] : [r.secret],
  };
}

/** The wait before retry `failed` (1 after the first failure), jittered; null when the schedule is spent. */
export function retryWaitMs(schedule: readonly number[], failed: number, random: () => number): number | null {
  const wait = schedule[failed - 1];
  if (wait === undefined) return null;
  return Math.round(wait * (1 - retryJitter + 2 * retryJitter * random()));
}

/** A delivery's age past which a failure dead-letters it: twice the schedule with its jitter (about 2.5 days by default). */
export function deliveryAgeMaxMs(schedule: readonly number[]): number {
  return 2 * schedule.reduce((a, b) => a + b, 0) * (1 + retryJitter);
}

/**
 * Records an attempt's answer: DELIVERED on 2xx; otherwise a retry after the schedule's next wait, or
 * DEAD once the schedule is spent or the delivery is older than ageMaxMs (an endpoint down for days
 * does not keep every event queued behind it a day each: those get one attempt). Nothing is recorded when the subscription was deleted meanwhile.
 */
async function recordAttempt(bank: Bank, lease: Lease, taken: TakenAttempt, startedAt: Date, outcome: AttemptOutcome, schedule: readonly number[], ageMaxMs: number, random: () => number): Promise<'DELIVERED' | 'PENDING' | 'DEAD'> {
  const wait = outcome.ok ? null : retryWaitMs(schedule, taken.number, random);
  const tooOld = Date.now() + (wait ?? 0) > taken.createdAt.getTime() + ageMaxMs;
  const status = outcome.ok ? 'DELIVERED' : wait === null || tooOld ? 'DEAD' : 'PENDING';
  await bank.knex.transaction(async (trx) => {
    await trx.raw(`
      INSERT INTO webhook_attempts (head_id, delivery_id, number, started_at, duration_ms, status_code, response_excerpt, error)
      SELECT d.head_id, d.id, ?, ?, ?, ?, ?, ? FROM webhook_deliveries d WHERE d.head_id = ? AND d.id = ?`,
    [taken.number, startedAt, outcome.durationMs, outcome.statusCode, outcome.responseExcerpt, outcome.error, lease.headId, taken.deliveryId]);
    await trx.raw(`
      UPDATE webhook_deliveries SET status = ?, finished_at = CASE WHEN ? = 'PENDING' THEN NULL ELSE now() END,
             next_attempt_at = now() + make_interval(secs => ?)
       WHERE head_id = ? AND id = ? AND status = 'PENDING' AND attempts = ?`,
    [status, status, (wait ?? 0) / 1000, lease.headId, taken.deliveryId, taken.number]);
  });
  return status;
}

async function releaseLease(bank: Bank, lease: Lease): Promise<void> {
  await bank.knex.raw(`UPDATE webhook_subscriptions SET lease_token = NULL, lease_until = NULL WHERE head_id = ? AND id = ? AND lease_token = ?::uuid`,
    [lease.headId, lease.subscriptionId, lease.token]);
}

/** Sends a leased subscription's due deliveries in order, until one must wait, the lease's quota is used, or stop. */
async function deliverLeased(bank: Bank, lease: Lease, o: Required<WebhookWorkerOptions>, stopped: () => boolean, log: (line: string) => void): Promise<void> {
  const leaseMs = o.attemptTimeoutMs + leaseMarginMs;
  try {
    for (let sent = 0; sent < deliveriesPerLeaseMax && !stopped(); sent++) {
      const taken = await takeAttempt(bank, lease, leaseMs);
      if (!taken) return;
      const startedAt = new Date();
      const timestamp = Math.floor(startedAt.getTime() / 1000);
      const outcome = await sendWebhook({
        url: taken.url, body: taken.body, timeoutMs: o.attemptTimeoutMs, allowHosts: bank.config.webhooks.allowHosts,
        headers: webhookHeaders(taken.secrets, taken.eventId, timestamp, taken.body),
      });
      const status = await recordAttempt(bank, lease, taken, startedAt, outcome, o.retryScheduleMs, o.ageMaxMs, o.random);
      if (status === 'DEAD') log(`webhooks: delivery ${taken.deliveryId} of subscription ${lease.subscriptionId} dead-lettered after attempt ${taken.number} (${outcome.error ?? outcome.statusCode})`);
      if (status === 'PENDING') return;
    }
  } finally {
    await releaseLease(bank, lease);
  }
}

/** One round of a worker: queue new events, then lease and send up to `free` subscriptions (not awaited: see start). */
export async function queueAndLease(bank: Bank, free: number, attemptTimeoutMs: number): Promise<Lease[]> {
  await queueWebhookDeliveries(bank);
  return free > 0 ? leaseDueSubscriptions(bank, free, attemptTimeoutMs + leaseMarginMs) : [];
}

/**
 * Starts the worker of this process: every intervalMs a round queues and leases work for its free
 * slots (at most `concurrency` subscriptions in flight); sends run beside the rounds, so a slow
 * endpoint holds one slot and never the others or any write. The returned function stops it and waits
 * for the attempts in flight.
 */
export function startWebhookWorker(bank: Bank, log: (line: string) => void, options: WebhookWorkerOptions = {}): () => Promise<void> {
  const c = bank.config.webhooks;
  const o = {
    retryScheduleMs: options.retryScheduleMs ?? c.retryScheduleMs, concurrency: options.concurrency ?? c.concurrency,
    intervalMs: options.intervalMs ?? c.intervalMs, attemptTimeoutMs: options.attemptTimeoutMs ?? c.attemptTimeoutMs, random: options.random ?? Math.random,
    ageMaxMs: options.ageMaxMs ?? deliveryAgeMaxMs(options.retryScheduleMs ?? c.retryScheduleMs),
  };
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  let round: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    round = round.then(async () => {
      if (stopped) return;
      try {
        for (const lease of await queueAndLease(bank, o.concurrency - inFlight.size, o.attemptTimeoutMs)) {
          const sending: Promise<void> = deliverLeased(bank, lease, o, () => stopped, log)
            .catch((error) => log(`webhooks: subscription ${lease.subscriptionId}: ${(error as Error).message}`))
            .finally(() => inFlight.delete(sending));
          inFlight.add(sending);
        }
      } catch (error) {
        log(`webhooks: ${(error as Error).message}`);
      }
    });
  }, o.intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await round;
    await Promise.all([...inFlight]);
  };
}
