// Webhook delivery as a receiver sees it: every request is verified with the `standardwebhooks`
// package (a verifier this project did not write); a 500 is retried and later events wait behind it
// (order per subscriber); redelivery sends the same webhook-id again; an endpoint that keeps failing
// dead-letters the event and the next one goes through; private addresses are refused when
// subscribing and again at delivery; a paused subscription receives nothing; and two workers, each
// with its own database pool as two service processes have, never send one attempt twice.
// Events are appended to the feed's table directly (the feed's contract: gap-free seq per head bank).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { openBank, type Bank } from '../../src/bank.js';
import { startWebhookWorker } from '../../src/webhooks/worker.js';
import { isRefusedAddress, resolveDeliveryAddress, RefusedAddress } from '../../src/webhooks/addresses.js';
import { webhookFigures } from '../../src/webhooks/metrics.js';
import { produceAllEvents } from '../../src/events/produce.js';
import type { Branch } from '../../src/directory/branches.js';

interface Receipt { path: string; id: string; seq: number; status: number; verified: boolean }

let h: Harness;
let second: Bank & { close(): Promise<void> };
let receiver: http.Server;
let base: string;
const stops: (() => Promise<void>)[] = [];
const receipts: Receipt[] = [];
const secrets = new Map<string, string>();
/** The status a path answers for an event seq and the how-manieth request of that event it is. */
const answers = new Map<string, (seq: number, nth: number) => number>();
const logLines: string[] = [];

/** Short waits so that a test sees retries and dead letters within seconds: 150 ms, 300 ms, 600 ms (4 attempts). */
const schedule = [150, 300, 600];

const createMutation = `mutation($i: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $i) {
  secret replayed subscription { id url eventTypes status branch { code } merchant { id } pending deadLetters } } }`;
const deliveriesQuery = `query($s: ID!, $status: WebhookDeliveryStatus) { webhookDeliveries(subscription: $s, status: $status, first: 100) {
  edges { node { id eventId eventSeq eventType status attemptCount redelivery attempts { number statusCode responseExcerpt error durationMs } } } } }`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Appends events to the file's head bank's feed, in order; answers their seqs. */
async function appendEvents(count: number, branch: Branch, type = 'member.created', data: (i: number) => unknown = (i) => ({ id: String(i) })): Promise<number[]> {
  return h.bank.knex.transaction(async (trx) => {
    // as the producer does: the next seqs under the head's feed row lock, and the row moved past them
    await trx.raw('INSERT INTO event_feeds (head_id) VALUES (?) ON CONFLICT DO NOTHING', [h.head.id]);
    const { rows } = await trx.raw('SELECT seq::int AS last FROM event_feeds WHERE head_id = ? FOR UPDATE', [h.head.id]);
    const seqs = Array.from({ length: count }, (_, i) => rows[0].last + 1 + i);
    for (const seq of seqs) {
      await trx('events').insert({ head_id: h.head.id, seq, type, branch_path: branch.path, occurred_at: new Date(), data: JSON.stringify(data(seq)) });
    }
    await trx('event_feeds').where({ head_id: h.head.id }).update({ seq: seqs.at(-1) });
    return seqs;
  });
}

async function subscribe(path: string, token = h.adminToken, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await h.gql(token, createMutation, { i: { url: `${base}/${path}`, ...extra } });
  expect(res.errors, `subscribing ${path}`).toBeUndefined();
  const result = res.data.createWebhookSubscription;
  expect(result.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);
  secrets.set(path, result.secret);
  return result.subscription.id;
}

const okReceipts = (path: string) => receipts.filter((r) => r.path === path && r.status === 200);

beforeAll(async () => {
  h = await startHarness({ env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
  const seen = new Map<string, number>();
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').slice(1);
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        new Webhook(secrets.get(path) ?? 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=').verify(body, req.headers as Record<string, string>);
        verified = true;
      } catch { /* recorded below */ }
      const id = String(req.headers['webhook-id']);
      const seq = Number(JSON.parse(body).seq);
      const nth = (seen.get(`${path} ${id}`) ?? 0) + 1;
      seen.set(`${path} ${id}`, nth);
      const status = verified ? (answers.get(path)?.(seq, nth) ?? 200) : 401;
      receipts.push({ path, id, seq, status, verified });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'thanks' : `failing on purpose (${status})`);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // Two workers as two service processes: each its own pool.
  second = await openBank(h.bank.config, inject('databaseUrl'));
  // a minute's age limit: the race test queues 30 events behind retries; dead letters here come from the schedule
  const options = { retryScheduleMs: schedule, intervalMs: 40, attemptTimeoutMs: 3000, concurrency: 4, ageMaxMs: 60_000 };
  stops.push(startWebhookWorker(h.bank, (l) => logLines.push(l), options), startWebhookWorker(second, (l) => logLines.push(l), options));
});

afterAll(async () => {
  for (const stop of stops) await stop();
  await second?.close();
  await new Promise((r) => receiver?.close(r));
  // every request any worker sent carried a signature standardwebhooks accepts
  expect(receipts.filter((r) => !r.verified)).toEqual([]);
  await h.checkInvariants();
  await h.close();
});

describe('subscribing', () => {
  it('refuses URLs that are not http(s) or point at private, loopback, link-local or special addresses', async () => {
    for (const url of ['ftp://example.org/x', 'http://10.1.2.3/x', 'http://192.168.1.1/x', 'http://169.254.169.254/latest', 'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x', 'http://[::ffff:a01:203]/x', 'http://[fd12:3456::1]/x', 'http://[fe80::1]/x', 'http://0.0.0.0/x',
      'http://localhost:9/x', 'http://224.0.0.1/x', 'http://user:pw@example.org/x', 'not a url']) {
      const res = await h.gql(h.adminToken, createMutation, { i: { url } });
      expect(codes(res), url).toEqual(['BAD_USER_INPUT']);
    }
    expect(isRefusedAddress('8.8.8.8')).toBe(false);
    expect(isRefusedAddress('2001:4860:4860::8888')).toBe(false);
    expect(isRefusedAddress('::ffff:8.8.8.8')).toBe(false);
    expect(isRefusedAddress('64:ff9b::a00:1')).toBe(true);
    await expect(resolveDeliveryAddress(new URL('http://localhost/'), [])).rejects.toBeInstanceOf(RefusedAddress);
  });

  it('refuses unknown event types and roles without subscriptions, and keeps admins to their scope', async () => {
    expect(codes(await h.gql(h.adminToken, createMutation, { i: { url: `${base}/x`, eventTypes: ['award.given'] } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.clientToken, createMutation, { i: { url: `${base}/x` } }))).toEqual(['FORBIDDEN']);
    const branchAdmin = h.token({ role: 'admin', sub: `a-admin-${h.tag}`, branch: h.branches[0]!.code });
    expect(codes(await h.gql(branchAdmin, createMutation, { i: { url: `${base}/x`, branch: h.head.code } }))).toEqual(['FORBIDDEN']);
    const headOwn = await subscribe('scope-head', h.adminToken, { eventTypes: ['claim.decided'] });
    await h.gql(h.adminToken, `mutation($i: WebhookSubscriptionRefInput!) { pauseWebhookSubscription(input: $i) { id } }`, { i: { id: headOwn } });
    const seen = await h.gql(branchAdmin, `query($id: ID!) { webhookSubscription(id: $id) { id } webhookSubscriptions { edges { node { id } } } }`, { id: headOwn });
    expect(seen.errors).toBeUndefined();
    expect(seen.data.webhookSubscription).toBeNull();
    expect(seen.data.webhookSubscriptions.edges.map((e: any) => e.node.id)).not.toContain(headOwn);
    expect(codes(await h.gql(branchAdmin, `mutation($i: WebhookSubscriptionRefInput!) { deleteWebhookSubscription(input: $i) { id } }`, { i: { id: headOwn } }))).toEqual(['NOT_FOUND']);
  });

  it('replays a create with the same idempotency key: the same subscription and secret', async () => {
    const i = { idempotencyKey: h.key(), url: `${base}/replay`, eventTypes: ['member.created'] };
    const first = await h.gql(h.adminToken, createMutation, { i });
    const again = await h.gql(h.adminToken, createMutation, { i });
    expect(again.data.createWebhookSubscription).toMatchObject({ replayed: true, secret: first.data.createWebhookSubscription.secret,
      subscription: { id: first.data.createWebhookSubscription.subscription.id } });
    expect(codes(await h.gql(h.adminToken, createMutation, { i: { ...i, url: `${base}/other` } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    await h.gql(h.adminToken, `mutation($i: WebhookSubscriptionRefInput!) { deleteWebhookSubscription(input: $i) { id } }`, { i: { id: first.data.createWebhookSubscription.subscription.id } });
  });
});

describe('delivering', () => {
  let ordered: string;

  it('retries after a 500 and sends the next events only after it, in feed order', async () => {
    let firstSeq: number | null = null;
    answers.set('ordered', (seq, nth) => { firstSeq ??= seq; return seq === firstSeq && nth <= 2 ? 500 : 200; });
    ordered = await subscribe('ordered', h.adminToken, { eventTypes: ['member.created'] });
    const seqs = await appendEvents(3, h.branches[0]!);
    await waitFor('three events delivered', () => okReceipts('ordered').length >= 3);
    expect(okReceipts('ordered').map((r) => r.seq)).toEqual(seqs);
    // the receiver saw the first event three times (500, 500, 200) before anything else
    expect(receipts.filter((r) => r.path === 'ordered').map((r) => [r.seq, r.status])).toEqual([[seqs[0], 500], [seqs[0], 500], [seqs[0], 200], [seqs[1], 200], [seqs[2], 200]]);
    // an attempt is recorded after its answer arrives
    const deliveries = await waitFor('the attempts recorded', async () => {
      const list = (await h.gql(h.adminToken, deliveriesQuery, { s: ordered })).data.webhookDeliveries.edges.map((e: any) => e.node);
      return list.every((d: any) => d.status === 'DELIVERED') && list;
    });
    expect(deliveries.map((d: any) => [Number(d.eventSeq), d.status, d.attemptCount])).toEqual([[seqs[2], 'DELIVERED', 1], [seqs[1], 'DELIVERED', 1], [seqs[0], 'DELIVERED', 3]]);
    expect(deliveries[2].attempts.map((a: any) => [a.number, a.statusCode])).toEqual([[1, 500], [2, 500], [3, 200]]);
    expect(deliveries[2].attempts[0].responseExcerpt).toBe('failing on purpose (500)');
  });

  it('redelivers one event, and a time range, with the same webhook-id', async () => {
    const list = (await h.gql(h.adminToken, deliveriesQuery, { s: ordered })).data.webhookDeliveries.edges.map((e: any) => e.node);
    const oldest = list.at(-1);
    const before = okReceipts('ordered').length;
    const one = await h.gql(h.adminToken, `mutation($i: RedeliverWebhookEventsInput!) { redeliverWebhookEvents(input: $i) { queued replayed } }`,
      { i: { subscription: ordered, event: oldest.eventId, idempotencyKey: h.key() } });
    expect(one.data.redeliverWebhookEvents).toEqual({ queued: 1, replayed: false });
    await waitFor('the redelivery', () => okReceipts('ordered').length === before + 1);
    expect(okReceipts('ordered').at(-1)!.id).toBe(oldest.eventId);
    const range = await h.gql(h.adminToken, `mutation($i: RedeliverWebhookEventsInput!) { redeliverWebhookEvents(input: $i) { queued } }`,
      { i: { subscription: ordered, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() } });
    expect(range.data.redeliverWebhookEvents.queued).toBe(3);
    await waitFor('the range redelivered', () => okReceipts('ordered').length === before + 4);
    expect(okReceipts('ordered').slice(-3).map((r) => r.seq)).toEqual(list.map((d: any) => Number(d.eventSeq)).reverse());
  });

  it('dead-letters an event whose endpoint keeps failing, shows it, and moves on to the next', async () => {
    let doomed: number | null = null;
    answers.set('dead', (seq) => { doomed ??= seq; return seq === doomed ? 503 : 200; });
    const id = await subscribe('dead', h.adminToken, { eventTypes: ['pool.status_changed'] });
    const [first, next] = await appendEvents(2, h.branches[1]!, 'pool.status_changed');
    await waitFor('the next event delivered', () => okReceipts('dead').some((r) => r.seq === next));
    expect(receipts.filter((r) => r.path === 'dead' && r.seq === first).map((r) => r.status)).toEqual([503, 503, 503, 503]);
    const dead = await h.gql(h.adminToken, deliveriesQuery, { s: id, status: 'DEAD' });
    expect(dead.data.webhookDeliveries.edges.map((e: any) => [Number(e.node.eventSeq), e.node.attemptCount])).toEqual([[first, schedule.length + 1]]);
    const sub = await h.gql(h.adminToken, `query($id: ID!) { webhookSubscription(id: $id) { deadLetters pending } }`, { id });
    expect(sub.data.webhookSubscription).toEqual({ deadLetters: 1, pending: 0 });
    expect((await webhookFigures(h.bank)).deadLetters).toBeGreaterThanOrEqual(1);
    expect(logLines.some((l) => l.includes('dead-lettered'))).toBe(true);
  });

  it('refuses at delivery an address that became private after subscribing', async () => {
    const id = await subscribe('rebound', h.adminToken, { eventTypes: ['claim.submitted'] });
    // as if the host's DNS now answered a loopback address that WEBHOOK_ALLOW_HOSTS does not name
    await h.bank.knex('webhook_subscriptions').where({ id }).update({ url: base.replace('127.0.0.1', '127.0.0.2') + '/rebound' });
    await appendEvents(1, h.branches[0]!, 'claim.submitted');
    const attempts = await waitFor('a refused attempt', async () => {
      const d = (await h.gql(h.adminToken, deliveriesQuery, { s: id })).data.webhookDeliveries.edges[0]?.node;
      return d?.attempts.length ? d.attempts : undefined;
    });
    expect(attempts[0]).toMatchObject({ number: 1, statusCode: null });
    expect(attempts[0].error).toMatch(/127\.0\.0\.2.*non-public/);
    expect(receipts.filter((r) => r.path === 'rebound')).toEqual([]);
  });

  it('sends nothing to a paused subscription, and catches up in order when it resumes', async () => {
    const id = await subscribe('paused', h.adminToken, { eventTypes: ['score_year.closed'] });
    const ref = { i: { id } };
    const paused = await h.gql(h.adminToken, `mutation($i: WebhookSubscriptionRefInput!) { pauseWebhookSubscription(input: $i) { status } }`, ref);
    expect(paused.data.pauseWebhookSubscription.status).toBe('PAUSED');
    const seqs = await appendEvents(2, h.head, 'score_year.closed');
    await new Promise((r) => setTimeout(r, 800));
    expect(receipts.filter((r) => r.path === 'paused')).toEqual([]);
    expect((await h.gql(h.adminToken, deliveriesQuery, { s: id })).data.webhookDeliveries.edges).toEqual([]);
    await h.gql(h.adminToken, `mutation($i: WebhookSubscriptionRefInput!) { resumeWebhookSubscription(input: $i) { status } }`, ref);
    await waitFor('the caught-up events', () => okReceipts('paused').length === 2);
    expect(okReceipts('paused').map((r) => r.seq)).toEqual(seqs);
  });

  it('signs with the new secret after a rotation (and the old one for a grace period)', async () => {
    const id = await subscribe('rotated', h.adminToken, { eventTypes: ['member.moved'] });
    const old = secrets.get('rotated')!;
    const rotated = await h.gql(h.adminToken, `mutation($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) { secret } }`, { i: { id } });
    const fresh = rotated.data.rotateWebhookSecret.secret;
    expect(fresh).not.toBe(old);
    secrets.set('rotated', fresh);
    await appendEvents(1, h.branches[0]!, 'member.moved');
    await waitFor('the delivery after rotation', () => okReceipts('rotated').length === 1);
  });

  it('gives a merchant the events that name it, and only them', async () => {
    const merchant = await h.addMerchant(`Shop ${h.tag}`);
    const token = h.token({ role: 'merchant', sub: `shop-${h.tag}`, merchant });
    const id = await subscribe('merchant', token, { eventTypes: ['voucher.status_changed'] });
    const seqs = await appendEvents(3, h.branches[2]!, 'voucher.status_changed', (i) => ({ code: `v${i}`, merchant: { id: i % 2 ? merchant : '999999' } }));
    const mine = seqs.filter((s) => s % 2);
    await waitFor('the merchant events', () => okReceipts('merchant').length === mine.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(okReceipts('merchant').map((r) => r.seq)).toEqual(mine);
    const list = await h.gql(token, `{ webhookSubscriptions { edges { node { id merchant { id } } } } }`);
    expect(list.data.webhookSubscriptions.edges.map((e: any) => e.node)).toEqual([{ id, merchant: { id: merchant } }]);
  });
});

describe('from the ledger', () => {
  it('sends a posted transaction, made through the API and produced into the feed, as the API JSON of it', async () => {
    const id = await subscribe('ledger', h.adminToken, { eventTypes: ['transaction.posted'], branch: h.branches[0]!.code });
    const member = await h.addMember(`${h.tag}-hooked`, h.branches[0]!);
    await h.fund(member, '7.00');
    await waitFor('the transaction produced', async () => { await produceAllEvents(h.bank, h.head.id); return okReceipts('ledger').length > 0; });
    const bodies = await h.bank.knex('webhook_deliveries').where({ subscription_id: id }).select('payload');
    expect(bodies).toHaveLength(1);
    expect(bodies[0].payload).toMatchObject({ type: 'transaction.posted', head: h.head.code, branchPath: h.branches[0]!.path,
      data: { kind: 'ADJUST', status: 'POSTED', memberId: member } });
  });
});

describe('two workers', () => {
  it('never send one attempt twice, and keep each subscriber in order under failures', async () => {
    const paths = ['race-1', 'race-2', 'race-3'];
    // roughly a third of first attempts fail, decided by the event so every run is the same
    for (const p of paths) answers.set(p, (seq, nth) => (nth === 1 && seq % 3 === 0 ? 500 : 200));
    const ids: string[] = [];
    for (const p of paths) ids.push(await subscribe(p, h.adminToken, { eventTypes: ['transaction.voided'] }));
    const seqs = await appendEvents(30, h.branches[1]!, 'transaction.voided');
    await waitFor('every event at every subscriber', () => paths.every((p) => okReceipts(p).length >= seqs.length), 30_000);
    const requests = receipts.filter((r) => paths.includes(r.path));
    // every attempt recorded (after its answer), and none still waiting
    const rows = await waitFor('the attempts recorded', async () => {
      const { rows: counted } = await h.bank.knex.raw(`
        SELECT (SELECT count(*)::int FROM webhook_attempts a JOIN webhook_deliveries d ON d.head_id = a.head_id AND d.id = a.delivery_id
                 WHERE d.subscription_id = ANY(?::bigint[])) AS attempts,
               (SELECT count(*)::int FROM webhook_deliveries WHERE subscription_id = ANY(?::bigint[]) AND status <> 'DELIVERED') AS open`, [ids, ids]);
      return counted[0].open === 0 && counted;
    });
    // one HTTP request per recorded attempt: no attempt went out twice
    expect(requests.length).toBe(rows[0].attempts);
    expect(requests.length).toBe(paths.length * (seqs.length + seqs.filter((s) => s % 3 === 0).length));
    for (const p of paths) expect(okReceipts(p).map((r) => r.seq), p).toEqual(seqs);
  });
});
