// An operator scrapes /metrics as Prometheus would and reads the service off it: requests by
// operation and outcome with latency histograms, awards, transfers and refusals by code, the pools'
// connections, and gauges read from the database at scrape time (one declarative entry each, such as
// the settler's lag). METRICS_TOKEN closes the endpoint to everyone without it.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { AgeOfOldest, createServiceMetrics, databaseGauges, oldestWaitingSql, operationNamesMax, OperationLabels } from '../../src/http/metrics.js';
import { serveApp, startHarness, type Harness } from '../support/harness.js';

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus' text format, as a scraper reads it: `name{label="value",…} number` lines, comments skipped. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(match, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, name, value] of match![2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[name!] = value!.replace(/\\(.)/g, '$1');
    samples.push({ name: match![1]!, labels, value: Number(match![3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** A queue of the test's own (head_id, id identity), standing for a later entry such as a webhook backlog. */
const queue = `ops_metrics_queue_${Date.now()}`;
const queueGauge = { name: 'civility_bank_test_queue_lag_seconds', help: 'A test queue', kind: 'age' as const, sql: oldestWaitingSql(queue) };
const countGauge = { name: 'civility_bank_test_queue_rows', help: 'Rows of the test queue', kind: 'value' as const, sql: `SELECT count(*) AS value FROM ${queue}` };

let h: Harness;
let url: string;
let served: Awaited<ReturnType<typeof serveApp>>;

beforeAll(async () => {
  h = await startHarness();
  await h.bank.knex.raw(`CREATE TABLE ${queue} (head_id bigint NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (head_id, id))`);
  const metrics = createServiceMetrics(h.bank, () => undefined, { gauges: [...databaseGauges, queueGauge, countGauge] });
  const built = await buildApp(h.bank, () => undefined, undefined, { metrics });
  served = await serveApp(built);
  url = served.url;
});

afterAll(async () => {
  await served.close();
  await h.bank.knex.raw(`DROP TABLE ${queue}`);
  await h.checkInvariants();
  await h.close();
});

async function gql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await request(url).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${token}`).send({ query, variables });
  return res.body;
}

async function scrape(): Promise<Sample[]> {
  const res = await request(url).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

const award = `mutation Award($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`;
const batch = `mutation AwardBatch($i: AwardPointsBatchInput!) { awardPointsBatch(input: $i) { succeeded failed } }`;
const transfer = `mutation Transfer($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId } }`;

describe('a scrape after awards, transfers and refusals', () => {
  it('counts awards, transfers and refusals by code, and requests by operation and outcome with latencies', async () => {
    const m = [];
    for (let i = 0; i < 5; i++) m.push(await h.addMember(`${h.tag}-m${i}`));
    const [a, b] = m as [string, string];
    for (const member of m.slice(0, 3)) expect((await gql(h.clientToken, award, { i: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.sorted-drop' } })).errors).toBeUndefined();
    const again = await gql(h.clientToken, award, { i: { idempotencyKey: h.key(), memberId: a, rule: 'garbage.sorted-drop' } });
    expect(again.errors[0].extensions.code).toBe('CAP_EXCEEDED');
    const unknownRule = await gql(h.clientToken, award, { i: { idempotencyKey: h.key(), memberId: a, rule: 'no.such-rule' } });
    expect(unknownRule.errors[0].extensions.code).toBe('NOT_FOUND');
    const batchAnswer = await gql(h.clientToken, batch, { i: { awards: [
      { idempotencyKey: h.key(), memberId: m[3], rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: m[4], rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: a, rule: 'no.such-rule' },
    ] } });
    expect(batchAnswer.data.awardPointsBatch).toEqual({ succeeded: 2, failed: 1 });
    await h.fund(a, '10.00');
    expect((await gql(h.adminToken, transfer, { i: { idempotencyKey: h.key(), from: { id: a }, to: { id: b }, amount: '4.00' } })).errors).toBeUndefined();
    const overdrawn = await gql(h.adminToken, transfer, { i: { idempotencyKey: h.key(), from: { id: b }, to: { id: a }, amount: '100000.00' } });
    expect(overdrawn.errors[0].extensions.code).toBe('INSUFFICIENT_FUNDS');
    // an anonymous operation and one no token may run
    await gql(h.clientToken, `{ __typename }`);
    const badToken = await request(url).post('/graphql').set('authorization', 'Bearer not-a-token').send({ query: award, operationName: 'Award' });
    expect(badToken.status).toBe(401);

    const samples = await scrape();
    expect(value(samples, 'civility_bank_awards_total')).toBe(5);
    expect(value(samples, 'civility_bank_transfers_total')).toBe(1);
    expect(value(samples, 'civility_bank_refusals_total', { write: 'award', code: 'NOT_FOUND' })).toBe(2);
    expect(value(samples, 'civility_bank_refusals_total', { write: 'award', code: 'CAP_EXCEEDED' })).toBe(1);
    expect(value(samples, 'civility_bank_refusals_total', { write: 'transfer', code: 'INSUFFICIENT_FUNDS' })).toBe(1);
    const count = (operation: string, outcome: string) => value(samples, 'civility_bank_graphql_request_duration_seconds_count', { operation, outcome });
    expect(count('Award', 'OK')).toBe(3);
    expect(count('Award', 'NOT_FOUND')).toBe(1);
    expect(count('Award', 'CAP_EXCEEDED')).toBe(1);
    expect(count('Award', 'UNAUTHENTICATED')).toBe(1);
    expect(count('AwardBatch', 'OK')).toBe(1);
    expect(count('Transfer', 'OK')).toBe(1);
    expect(count('Transfer', 'INSUFFICIENT_FUNDS')).toBe(1);
    expect(count('anonymous', 'OK')).toBe(1);
    // a histogram: cumulative buckets ending in +Inf, which holds every request
    const buckets = samples.filter((s) => s.name === 'civility_bank_graphql_request_duration_seconds_bucket' && s.labels.operation === 'Award' && s.labels.outcome === 'OK');
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(3);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(value(samples, 'civility_bank_graphql_request_duration_seconds_sum', { operation: 'Award', outcome: 'OK' })).toBeGreaterThan(0);
    // the pools, read at scrape time
    for (const pool of ['pg', 'knex']) {
      const [total, idle, waiting] = ['total', 'idle', 'waiting'].map((state) => value(samples, 'civility_bank_db_pool_connections', { pool, state }));
      expect(total, pool).toBeGreaterThanOrEqual(idle!);
      expect(idle, pool).toBeGreaterThanOrEqual(0);
      expect(waiting, pool).toBe(0);
    }
    // every database gauge answers, in seconds
    for (const gauge of databaseGauges) expect(value(samples, gauge.name), gauge.name).toBeGreaterThanOrEqual(0);
  });

  it('a gauge entry reads the age of the oldest waiting row, and 0 once the queue is drained', async () => {
    const head = h.head.id;
    await h.bank.knex.raw(`INSERT INTO ${queue} (head_id) VALUES (?), (?)`, [head, head]);
    const first = await scrape();
    expect(value(first, 'civility_bank_test_queue_rows')).toBe(2);
    expect(value(first, queueGauge.name)).toBeLessThan(1);
    await new Promise((r) => setTimeout(r, 1_200));
    const later = await scrape();
    expect(value(later, queueGauge.name)).toBeGreaterThanOrEqual(1.2);
    // the older row goes; the one left was there at the first scrape too
    await h.bank.knex.raw(`DELETE FROM ${queue} WHERE id = (SELECT min(id) FROM ${queue})`);
    expect(value(await scrape(), queueGauge.name)).toBeGreaterThanOrEqual(1.2);
    await h.bank.knex.raw(`DELETE FROM ${queue}`);
    const drained = await scrape();
    expect(value(drained, queueGauge.name)).toBe(0);
    expect(value(drained, 'civility_bank_test_queue_rows')).toBe(0);
  });
});

describe('label values stay bounded', () => {
  it('operation names past the cap, and names that are not GraphQL names, are "other"; a missing one is "anonymous"', () => {
    const labels = new OperationLabels();
    for (let i = 0; i < operationNamesMax; i++) expect(labels.label(`Op${i}`)).toBe(`Op${i}`);
    expect(labels.label('OneMore')).toBe('other');
    expect(labels.label('Op7')).toBe('Op7');
    expect(new OperationLabels().label('not a name; DROP')).toBe('other');
    expect(new OperationLabels().label(null)).toBe('anonymous');
  });

  it('the age of the oldest is a lower bound from the ids seen at earlier scrapes', () => {
    const age = new AgeOfOldest();
    expect(age.observe(0, 5n, 10n)).toBe(0);
    expect(age.observe(2_000, 5n, 20n)).toBe(2);
    expect(age.observe(3_000, 15n, 30n)).toBe(1);
    expect(age.observe(4_000, null, 30n)).toBe(0);
    expect(age.observe(5_000, 31n, 31n)).toBe(0);
  });
});

describe('METRICS_TOKEN', () => {
  it('refuses a scrape without the token or with another, and answers the token', async () => {
    h.bank.config.metricsToken = 'scrape-secret-0123456789';
    try {
      const none = await request(url).get('/metrics');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect(none.text).not.toContain('civility_bank_');
      expect((await request(url).get('/metrics').set('authorization', 'Bearer scrape-secret-012345678')).status).toBe(401);
      expect((await request(url).get('/metrics').set('authorization', 'scrape-secret-0123456789')).status).toBe(401);
      const ok = await request(url).get('/metrics').set('authorization', 'Bearer scrape-secret-0123456789');
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('civility_bank_awards_total');
    } finally {
      h.bank.config.metricsToken = undefined;
    }
  });
});
