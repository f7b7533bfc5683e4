// Webhook subscriptions (issue 15 §2): an admin subscribes a URL for a branch subtree of its scope, a
// merchant for its own shop (events naming the merchant: its vouchers and redemptions, donations and
// disbursements to it, transactions posting to its account), filtered by event type. Create, pause,
// resume, delete, rotate the secret, list deliveries with their attempts, redeliver an event or a
// time range. Scoped like every read: an admin sees the subscriptions of its subtree (merchants' of
// it too), a merchant only its own; one outside the caller's scope reads as not found.
// Secrets: generated here (signing.ts), returned by create and rotate only, never logged.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { checkId } from '../directory/members.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { decodePageCursor, pageOf } from '../pagination.js';
import { findMerchant } from '../redemption/merchants.js';
import { checkWebhookUrl } from './addresses.js';
import { generateWebhookSecret } from './signing.js';
import { checkEventTypes } from './eventTypes.js';

export type WebhookStatus = 'ACTIVE' | 'PAUSED';
export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'DEAD';

export interface WebhookSubscription {
  id: string;
  headId: string;
  branchId: string;
  merchantId: string | null;
  url: string;
  eventTypes: string[];
  status: WebhookStatus;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  /** Deliveries waiting (first attempt or a retry). */
  pending: number;
  /** Dead-lettered deliveries. */
  dead: number;
}

export interface WebhookAttempt { number: number; startedAt: Date; durationMs: number; statusCode: number | null; responseExcerpt: string | null; error: string | null }

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventSeq: string;
  eventType: string;
  occurredAt: Date;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  redelivery: boolean;
  createdAt: Date;
  finishedAt: Date | null;
  attempts: WebhookAttempt[];
}

/** How long the previous secret keeps signing after a rotation, so receivers can switch without losing deliveries. */
export const secretRotationGraceMs = 24 * 3_600_000;
/** Deliveries one redeliverWebhookEvents may queue: a day of a busy town's events; ask again for more. */
export const redeliverRangeMax = 1000;

const subscriptionColumns = `s.head_id, s.id, s.branch_id, s.merchant_id, s.url, s.event_types, s.status, s.created_by, s.created_at, s.updated_at,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'PENDING') AS pending,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.head_id = s.head_id AND d.subscription_id = s.id AND d.status = 'DEAD') AS dead`;

function toSubscription(r: Record<string, any>): WebhookSubscription {
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), merchantId: r.merchant_id == null ? null : String(r.merchant_id),
    url: r.url, eventTypes: r.event_types, status: r.status, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
    pending: Number(r.pending), dead: Number(r.dead),
  };
}

async function loadSubscription(db: Knex | Knex.Transaction, headId: string, id: string): Promise<WebhookSubscription | null> {
  const { rows } = await db.raw(`SELECT ${subscriptionColumns} FROM webhook_subscriptions s WHERE s.head_id = ? AND s.id = ?`, [headId, id]);
  return rows[0] ? toSubscription(rows[0]) : null;
}

/** Admins and merchants only: clients and members have no subscriptions. */
function requireSubscriber(principal: Principal): void {
  requireRole(principal, 'admin', 'merchant');
}

/** A subscription the caller may see and manage; null outside its scope (or of another head bank). */
export async function subscriptionInScope(bank: Bank, principal: Principal, id: unknown, field = 'id'): Promise<WebhookSubscription | null> {
  requireSubscriber(principal);
  const subscription = await loadSubscription(bank.knex, principal.headId, checkId(id, field));
  if (!subscription) return null;
  if (principal.role === 'merchant') return subscription.merchantId === principal.merchantId ? subscription : null;
  return isWithin(await bank.branches.requireById(subscription.branchId), principal.branch) ? subscription : null;
}

async function requireSubscription(bank: Bank, principal: Principal, id: unknown, field = 'id'): Promise<WebhookSubscription> {
  const subscription = await subscriptionInScope(bank, principal, id, field);
  if (!subscription) throw new BankError('NOT_FOUND', `${field}: no webhook subscription ${String(id)} in your scope`, field);
  return subscription;
}

export interface CreateWebhookSubscriptionInput {
  idempotencyKey?: string | null;
  url: string;
  eventTypes?: string[] | null;
  branch?: string | null;
}

/**
 * Subscribes a URL: an admin for a branch subtree of its scope (default its own branch), a merchant for
 * itself. It hears events from now on (its cursor starts at the head bank's newest event). Answers the
 * secret; a retry with the same idempotencyKey answers the same subscription and its current secret.
 */
export async function createWebhookSubscription(bank: Bank, principal: Principal, input: CreateWebhookSubscriptionInput): Promise<{ subscription: WebhookSubscription; secret: string; replayed: boolean }> {
  requireSubscriber(principal);
  const key = input.idempotencyKey == null ? null : checkIdempotencyKey(input.idempotencyKey);
  const url = checkWebhookUrl(input.url, bank.config.webhooks.allowHosts);
  const eventTypes = checkEventTypes(input.eventTypes ?? []);
  let branch: Branch;
  let merchantId: string | null = null;
  if (principal.role === 'merchant') {
    if (input.branch != null) throw badInput('branch', 'a merchant subscribes for itself; leave branch out');
    const merchant = await findMerchant(bank, principal.headId, principal.merchantId);
    branch = await bank.branches.requireById(merchant.branchId);
    merchantId = merchant.id;
  } else {
    branch = input.branch == null ? principal.branch : await bank.branches.require(input.branch, 'branch');
    requireScope(principal, branch, 'branch');
  }
  const create = async (trx: Knex.Transaction) => {
    const { rows } = await trx.raw(`
      INSERT INTO webhook_subscriptions (head_id, branch_id, merchant_id, url, event_types, secret, cursor_seq, created_by)
      VALUES (?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) FROM events WHERE head_id = ?), ?) RETURNING id`,
    [principal.headId, branch.id, merchantId, url, eventTypes, generateWebhookSecret(), principal.headId, principal.sub]);
    return { id: String(rows[0].id) };
  };
  const hash = requestHash('createWebhookSubscription', { url, eventTypes, branch: branch.code, merchant: merchantId });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    (key ? runIdempotent(trx, principal, key, 'createWebhookSubscription', hash, () => create(trx)) : create(trx).then((r) => ({ result: r, replayed: false })))));
  const subscription = await loadSubscription(bank.knex, principal.headId, String(result.id));
  if (!subscription) throw new BankError('NOT_FOUND', `webhook subscription ${String(result.id)} was deleted since this key created it`);
  return { subscription, secret: await readSecret(bank, subscription), replayed };
}

async function readSecret(bank: Bank, subscription: WebhookSubscription): Promise<string> {
  const row = await bank.knex('webhook_subscriptions').where({ head_id: subscription.headId, id: subscription.id }).first('secret');
  return row.secret;
}

/** Pauses (nothing is queued or sent; its place in the feed is kept) or resumes (it catches up in order) a subscription. */
export async function setWebhookSubscriptionStatus(bank: Bank, principal: Principal, id: unknown, status: WebhookStatus): Promise<WebhookSubscription> {
  const subscription = await requireSubscription(bank, principal, id);
  await bank.knex('webhook_subscriptions').where({ head_id: subscription.headId, id: subscription.id })
    .update({ status, updated_at: bank.knex.fn.now() });
  return (await loadSubscription(bank.knex, subscription.headId, subscription.id))!;
}

/** Deletes a subscription with its deliveries and attempts; a delivery in flight is not recorded. */
export async function deleteWebhookSubscription(bank: Bank, principal: Principal, id: unknown): Promise<{ id: string }> {
  const subscription = await requireSubscription(bank, principal, id);
  await bank.knex('webhook_subscriptions').where({ head_id: subscription.headId, id: subscription.id }).delete();
  return { id: subscription.id };
}

/**
 * A new secret for a subscription; the previous one keeps signing beside it for secretRotationGraceMs.
 * A retry with the same idempotencyKey answers the subscription's current secret without rotating again.
 */
export async function rotateWebhookSecret(bank: Bank, principal: Principal, input: { id: string; idempotencyKey?: string | null }): Promise<{ subscription: WebhookSubscription; secret: string; replayed: boolean }> {
  const subscription = await requireSubscription(bank, principal, input.id);
  const key = input.idempotencyKey == null ? null : checkIdempotencyKey(input.idempotencyKey);
  const rotate = async (trx: Knex.Transaction) => {
    await trx.raw(`
      UPDATE webhook_subscriptions SET previous_secret = secret, previous_secret_until = now() + make_interval(secs => ?),
             secret = ?, updated_at = now()
       WHERE head_id = ? AND id = ?`, [secretRotationGraceMs / 1000, generateWebhookSecret(), subscription.headId, subscription.id]);
    return { id: subscription.id };
  };
  const hash = requestHash('rotateWebhookSecret', { id: subscription.id });
  const { replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    (key ? runIdempotent(trx, principal, key, 'rotateWebhookSecret', hash, () => rotate(trx)) : rotate(trx).then((r) => ({ result: r, replayed: false })))));
  const current = (await loadSubscription(bank.knex, subscription.headId, subscription.id))!;
  return { subscription: current, secret: await readSecret(bank, current), replayed };
}

/** Subscriptions of a branch subtree (an admin's, default its scope) or of the merchant itself, oldest first. */
export async function listWebhookSubscriptions(bank: Bank, principal: Principal, args: { branch?: string | null; first?: number | null; after?: string | null }) {
  requireSubscriber(principal);
  const size = checkPageSize(args.first);
  const afterId = decodePageCursor('w', args.after);
  let where: string;
  let bindings: (string | Date | null)[];
  if (principal.role === 'merchant') {
    where = 's.merchant_id = ?';
    bindings = [principal.merchantId];
  } else {
    const scope = args.branch == null ? principal.branch : await bank.branches.require(args.branch, 'branch');
    requireScope(principal, scope, 'branch');
    where = `s.branch_id IN (SELECT b.id FROM branches b WHERE b.head_id = ? AND b.path LIKE ? || '%')`;
    bindings = [principal.headId, scope.path];
  }
  const { rows } = await bank.knex.raw(`
    SELECT ${subscriptionColumns} FROM webhook_subscriptions s
     WHERE s.head_id = ? AND ${where} AND (?::bigint IS NULL OR s.id > ?::bigint)
     ORDER BY s.id LIMIT ?`, [principal.headId, ...bindings, afterId, afterId, size + 1]);
  return pageOf('w', rows.map(toSubscription), size);
}

const deliveryColumns = 'd.id, d.subscription_id, d.event_id, d.event_seq, d.event_type, d.occurred_at, d.status, d.attempts, d.next_attempt_at, d.redelivery, d.created_at, d.finished_at';

function toDelivery(r: Record<string, any>): WebhookDelivery {
  return {
    id: String(r.id), subscriptionId: String(r.subscription_id), eventId: r.event_id, eventSeq: String(r.event_seq), eventType: r.event_type,
    occurredAt: r.occurred_at, status: r.status, attemptCount: r.attempts, nextAttemptAt: r.status === 'PENDING' ? r.next_attempt_at : null,
    redelivery: r.redelivery, createdAt: r.created_at, finishedAt: r.finished_at, attempts: [],
  };
}

/** A subscription's deliveries newest first (DEAD: its dead letters), each with its attempts oldest first. */
export async function listWebhookDeliveries(bank: Bank, principal: Principal, args: { subscription: string; status?: DeliveryStatus | null; first?: number | null; after?: string | null }) {
  const subscription = await requireSubscription(bank, principal, args.subscription, 'subscription');
  const size = checkPageSize(args.first);
  const beforeId = decodePageCursor('d', args.after);
  const { rows } = await bank.knex.raw(`
    SELECT ${deliveryColumns} FROM webhook_deliveries d
     WHERE d.head_id = ? AND d.subscription_id = ? AND (?::text IS NULL OR d.status = ?::text) AND (?::bigint IS NULL OR d.id < ?::bigint)
     ORDER BY d.id DESC LIMIT ?`,
  [subscription.headId, subscription.id, args.status ?? null, args.status ?? null, beforeId, beforeId, size + 1]);
  const deliveries = rows.map(toDelivery);
  if (deliveries.length) {
    const { rows: attempts } = await bank.knex.raw(`
      SELECT delivery_id, number, started_at, duration_ms, status_code, response_excerpt, error FROM webhook_attempts
       WHERE head_id = ? AND delivery_id = ANY(?::bigint[]) ORDER BY delivery_id, number`, [subscription.headId, deliveries.map((d: WebhookDelivery) => d.id)]);
    const byId = new Map<string, WebhookDelivery>(deliveries.map((d: WebhookDelivery) => [d.id, d]));
    for (const a of attempts) {
      byId.get(String(a.delivery_id))!.attempts.push({ number: a.number, startedAt: a.started_at, durationMs: a.duration_ms,
        statusCode: a.status_code, responseExcerpt: a.response_excerpt, error: a.error });
    }
  }
  return pageOf('d', deliveries, size);
}

export interface RedeliverInput {
  idempotencyKey?: string | null;
  subscription: string;
  /** One event by id … */
  event?: string | null;
  /** … or every event that occurred in [from, to). */
  from?: Date | null;
  to?: Date | null;
}

/**
 * Queues again, behind what is already queued, events this subscription was sent (delivered or dead
 * letters alike): one by id, or those that occurred in [from, to) in feed order (at most
 * redeliverRangeMax). The receiver sees the same webhook-id, so it can tell a redelivery from news.
 */
export async function redeliverWebhookEvents(bank: Bank, principal: Principal, input: RedeliverInput): Promise<{ queued: number; replayed: boolean }> {
  const subscription = await requireSubscription(bank, principal, input.subscription, 'subscription');
  const key = input.idempotencyKey == null ? null : checkIdempotencyKey(input.idempotencyKey);
  let filter: string;
  let bindings: (string | Date | null)[];
  if (input.event != null) {
    if (input.from != null || input.to != null) throw badInput('event', 'give either an event or a time range (from, to), not both');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(input.event)) throw badInput('event', 'is not an event id');
    filter = 'event_id = ?::uuid';
    bindings = [input.event];
  } else {
    if (input.from == null || input.to == null) throw badInput('from', 'give an event id, or both from and to');
    if (!(input.from < input.to)) throw badInput('to', 'must be after from');
    filter = 'occurred_at >= ? AND occurred_at < ?';
    bindings = [input.from, input.to];
  }
  const queue = async (trx: Knex.Transaction) => {
    const { rows } = await trx.raw(`
      WITH latest AS (
        SELECT DISTINCT ON (event_id) event_id, event_seq, event_type, occurred_at, payload FROM webhook_deliveries
         WHERE head_id = ? AND subscription_id = ? AND ${filter}
         ORDER BY event_id, id DESC
      ), chosen AS (SELECT * FROM latest ORDER BY event_seq LIMIT ?)
      INSERT INTO webhook_deliveries (head_id, subscription_id, event_id, event_seq, event_type, occurred_at, payload, redelivery)
      SELECT ?, ?, event_id, event_seq, event_type, occurred_at, payload, true FROM chosen ORDER BY event_seq
      RETURNING id`, [subscription.headId, subscription.id, ...bindings, redeliverRangeMax + 1, subscription.headId, subscription.id]);
    if (rows.length > redeliverRangeMax) {
      throw new BankError('LIMIT_EXCEEDED', `the range holds more than ${redeliverRangeMax} events; redeliver a shorter range at a time`, 'from');
    }
    if (rows.length === 0) {
      throw new BankError('NOT_FOUND', input.event != null
        ? `event: no event ${input.event} was sent to this subscription` : 'from: no event of this range was sent to this subscription', input.event != null ? 'event' : 'from');
    }
    return { queued: rows.length };
  };
  const hash = requestHash('redeliverWebhookEvents', { subscription: subscription.id, event: input.event ?? null, from: input.from?.toISOString() ?? null, to: input.to?.toISOString() ?? null });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    (key ? runIdempotent(trx, principal, key, 'redeliverWebhookEvents', hash, () => queue(trx)) : queue(trx).then((r) => ({ result: r, replayed: false })))));
  return { queued: Number(result.queued), replayed };
}
