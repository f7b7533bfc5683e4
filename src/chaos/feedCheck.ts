// The fault harness's event consumer: after the run, the head bank's feed must hold every sealed
// transaction exactly once, in chain order (the order the sealer saw them committed), with seqs
// 1..n and unique ids (src/events/check.ts); and, when NATS is configured, a JetStream consumer that
// dedupes by Nats-Msg-Id must receive exactly the feed, in feed order. Returns violations as sentences
// and a line of figures.
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Bank } from '../bank.js';
import { checkFeed } from '../events/check.js';
import { readEvents, eventsPageMax, type BankEvent } from '../events/feed.js';
import { NatsPublisher, type NatsSettings } from '../events/nats.js';

/** How long the consumer waits for the stream's messages before calling the rest missing. */
const consumeTimeoutMs = 30_000;

async function wholeFeed(bank: Bank, headId: string): Promise<BankEvent[]> {
  const events: BankEvent[] = [];
  for (;;) {
    const page = await readEvents(bank.pool, { headId, afterSeq: events.at(-1)?.seq ?? '0', limit: eventsPageMax });
    if (!page.length) return events;
    events.push(...page);
  }
}

export async function checkFeedDelivery(bank: Bank, headId: string, nats?: NatsSettings): Promise<{ violations: string[]; figures: string }> {
  const feedCheck = await checkFeed(bank.knex, headId);
  const violations = feedCheck.problems.map((p) => `feed: ${p}`);
  const { rows: [sealed] } = await bank.pool.query(`SELECT count(*)::int AS n FROM journal_seals WHERE head_id = $1`, [headId]);
  if (feedCheck.sealsFed !== sealed.n) violations.push(`feed: ${sealed.n} transactions are sealed but the producer fed ${feedCheck.sealsFed}`);
  let figures = `feed: ${feedCheck.events} events, ${feedCheck.transactionEvents} transaction events for ${sealed.n} sealed transactions, `
    + `${feedCheck.problems.length ? 'NOT ' : ''}each once in chain order`;
  if (!nats) return { violations, figures: `${figures}; NATS not configured` };

  const events = await wholeFeed(bank, headId);
  // What the services left unpublished when they stopped, published now (as a restarted service would).
  const publisher = new NatsPublisher(bank, nats);
  let finalRound = 0;
  try {
    for (;;) {
      const round = await publisher.publishHead(headId);
      if (!round || !round.published) break;
      finalRound += round.published;
    }
  } finally {
    await publisher.close();
  }
  const nc = await connect({ servers: nats.url });
  try {
    const stored = (await (await jetstreamManager(nc)).streams.info(nats.stream)).state.messages;
    const seen = new Set<string>();
    const order: string[] = [];
    let received = 0;
    if (stored > 0) {
      const messages = await (await jetstream(nc).consumers.get(nats.stream)).consume();
      const timer = setTimeout(() => messages.stop(), consumeTimeoutMs);
      for await (const m of messages) {
        received++;
        const id = m.headers?.get('Nats-Msg-Id') ?? '';
        if (!seen.has(id)) { seen.add(id); order.push(id); }
        if (received >= stored) break;
      }
      clearTimeout(timer);
    }
    const expected = events.map((e) => e.id);
    const inFeed = new Set(expected);
    const missing = expected.filter((id) => !seen.has(id));
    if (missing.length) violations.push(`NATS: ${missing.length} events of the feed never reached the stream (first ${missing[0]})`);
    const extra = order.filter((id) => !inFeed.has(id));
    if (extra.length) violations.push(`NATS: ${extra.length} messages are no event of the feed`);
    const firstOutOfOrder = order.findIndex((id, i) => id !== expected[i]);
    if (!missing.length && !extra.length && firstOutOfOrder >= 0) violations.push(`NATS: message ${firstOutOfOrder + 1} after dedup is not the feed's event ${firstOutOfOrder + 1}`);
    figures += `; NATS: ${received} messages received (${received - seen.size} duplicates stored, dropped by the consumer's dedup), `
      + `${seen.size} distinct = ${missing.length ? 'NOT ' : ''}every event, ${firstOutOfOrder >= 0 ? 'NOT ' : ''}in feed order; `
      + `${finalRound} published after the services stopped`;
    await (await jetstreamManager(nc)).streams.delete(nats.stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
  return { violations, figures };
}
