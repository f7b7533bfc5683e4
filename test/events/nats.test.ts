// The feed on NATS JetStream (the server these machines run on 127.0.0.1:4222): a consumer receives
// every event of a workload exactly once after dedup, in feed order, on civility-style subjects; an
// outage (a wrong address, a dropped connection) or a publish whose acknowledgement was never recorded
// delays and republishes, and JetStream drops the duplicates. Each run has its own stream and subject
// prefix, deleted at the end, so reruns never meet.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startHarness, type Harness } from '../support/harness.js';
import { readEvents, type BankEvent } from '../../src/events/feed.js';
import { produceAllEvents } from '../../src/events/produce.js';
import { NatsPublisher, subjectOf, type NatsSettings } from '../../src/events/nats.js';

const natsUrl = 'nats://127.0.0.1:4222';
const run = randomUUID().slice(0, 8);
const settings: NatsSettings = {
  url: natsUrl, stream: `CBTEST_${run}`, subjectPrefix: `cbtest_${run}`,
  maxAgeHours: 1, maxBytes: 64 * 1024 * 1024, duplicateWindowSeconds: 600, publishIntervalMs: 50,
};

let h: Harness;
let nc: NatsConnection;

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: natsUrl });
});
afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(settings.stream).catch(() => undefined);
  await nc.close();
  await h.checkInvariants();
  await h.close();
});

async function workload(members: number, awardsEach: number): Promise<void> {
  for (let m = 0; m < members; m++) {
    const memberId = await h.addMember(`${h.tag}-${randomUUID().slice(0, 6)}`);
    await Promise.all(Array.from({ length: awardsEach }, (_, i) => h.gql(h.clientToken,
      `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId, rule: 'volunteer.hour', occurredAt: new Date(Date.UTC(2026, 1, 1 + i, 4)).toISOString() } })
      .then((res) => expect(res.errors).toBeUndefined())));
  }
  await produceAllEvents(h.bank, h.head.id);
}

async function feed(): Promise<BankEvent[]> {
  return readEvents(h.bank.pool, { headId: h.head.id, afterSeq: '0', limit: 1000 });
}

/** Everything the run's stream holds (only this file publishes to it, and only its head bank), in stream order (an ordered consumer). */
async function received(expected: number): Promise<{ subject: string; msgId: string | undefined; event: BankEvent }[]> {
  const consumer = await jetstream(nc).consumers.get(settings.stream);
  const out: { subject: string; msgId: string | undefined; event: BankEvent }[] = [];
  const messages = await consumer.consume();
  const deadline = setTimeout(() => messages.stop(), 10_000);
  for await (const m of messages) {
    out.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), event: m.json<BankEvent>() });
    if (out.length >= expected) break;
  }
  clearTimeout(deadline);
  return out;
}

describe('NATS JetStream', () => {
  it('delivers every event once after dedup, in feed order, through an outage, a dropped connection and an unrecorded ack', async () => {
    await workload(3, 6);
    const before = await feed();
    expect(before.length).toBeGreaterThanOrEqual(3 * 7);

    // NATS unreachable: the round fails, nothing is recorded as published.
    const down = new NatsPublisher(h.bank, { ...settings, url: 'nats://127.0.0.1:1' });
    await expect(down.publishHead(h.head.id)).rejects.toThrow();
    expect(await down.lag(h.head.id)).toBe(before.length);
    await down.close();

    // NATS back: everything goes out, and the stream is created with the documented limits.
    const publisher = new NatsPublisher(h.bank, settings);
    expect(await publisher.publishHead(h.head.id)).toMatchObject({ published: before.length, duplicates: 0 });
    expect(await publisher.lag(h.head.id)).toBe(0);
    const info = await (await jetstreamManager(nc)).streams.info(settings.stream);
    expect(info.config).toMatchObject({ subjects: [`${settings.subjectPrefix}.>`], max_age: 3_600 * 1e9, max_bytes: 64 * 1024 * 1024, duplicate_window: 600 * 1e9 });

    // A publisher that crashed after the acks but before recording them publishes again: JetStream drops every duplicate.
    await h.bank.pool.query(`UPDATE event_publications SET seq = 0 WHERE head_id = $1 AND target = $2`, [h.head.id, publisher.target]);
    const again = await publisher.publishHead(h.head.id);
    expect(again).toMatchObject({ published: before.length, duplicates: before.length });

    // The connection drops; more happens; the next round connects again and publishes the rest.
    await publisher.close();
    await workload(2, 4);
    // Two processes at once: one publishes the head bank, the other finds it taken (or nothing left).
    const other = new NatsPublisher(h.bank, settings);
    const rounds = await Promise.all([publisher.publishHead(h.head.id), other.publishHead(h.head.id)]);
    expect(rounds.reduce((n, r) => n + (r?.duplicates ?? 0), 0)).toBe(0);
    await Promise.all([publisher.close(), other.close()]);
    const after = await feed();
    expect(after.length).toBeGreaterThan(before.length);

    // Stored once each: the stream holds exactly as many messages as the feed has events.
    expect((await (await jetstreamManager(nc)).streams.info(settings.stream)).state.messages).toBe(after.length);
    const messages = await received(after.length);
    // Stored once each (JetStream's dedup), so a consumer deduping by id sees exactly the feed, in order.
    expect(messages.map((m) => m.msgId)).toEqual(after.map((e) => e.id));
    expect(messages.map((m) => m.event.seq)).toEqual(after.map((e) => e.seq));
    expect(messages.map((m) => m.subject)).toEqual(after.map((e) => subjectOf(settings, e)));
    expect(messages[0]!.subject).toMatch(new RegExp(`^cbtest_${run}\\.${h.head.code}\\.(member\\.created|transaction\\.posted)$`));
    expect(messages.find((m) => m.event.type === 'transaction.posted')!.event).toMatchObject({ head: h.head.code, headId: h.head.id, data: { kind: 'EARN' } });
  });
});
