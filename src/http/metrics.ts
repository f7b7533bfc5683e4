// GET /metrics in Prometheus' text format (prom-client): GraphQL requests by operation and outcome with
// their latency, awards, transfers and refusals by code, the database pools' connections, and gauges
// read from the database at scrape time (the settler's and sealer's lag). Label values are bounded:
// operation names beyond operationNamesMax, or not GraphQL names, count as "other". With node:cluster
// each worker keeps its own registry, and the primary adds them up (serveClusterMetrics), so that a
// scrape answered by any worker shows the whole service.
import cluster from 'node:cluster';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
import client from 'prom-client';
import type { Bank } from '../bank.js';
import { errorCodes } from '../errors.js';
import type { WriteCounter, WriteKind } from '../graphql/observation.js';
import type { LineLog } from '../logger.js';

const { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = client;

/**
 * Distinct operation names a process labels: clients name a few dozen operations; a caller inventing
 * names must not grow the registry (each name is a histogram of every outcome) without end.
 */
export const operationNamesMax = 200;
/** A GraphQL name of reasonable length; anything else is "other" (and not written in a log line). */
export const operationNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Seconds: a cached read takes a few ms, a batch of 1,000 awards about a second, the request budget 15 s. */
const requestDurationBuckets = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
/** Queue samples an age gauge keeps (one per scrape): past it, samples in the middle are thinned. */
const ageSamplesMax = 1_000;
/** How long a worker waits for the primary's sum of all workers (prom-client's own limit is 5 s). */
const clusterScrapeTimeoutMs = 6_000;

/**
 * A gauge read from the database at each scrape: one entry each, one cheap statement (an index
 * probe, never a count of a table that may be long). kind 'value': the statement returns one row
 * with a numeric column `value` (null reads 0). kind 'age': the age in seconds of the oldest row
 * still waiting in a table whose ids only grow — the statement returns `oldest` (the smallest waiting
 * id, null when none waits) and `latest` (the largest id issued so far); see AgeOfOldest.
 */
export interface DatabaseGauge {
  name: string;
  help: string;
  sql: string;
  kind: 'value' | 'age';
}

/**
 * The smallest id waiting in a table keyed (head_id, id), one index probe per head bank (a loose index
 * scan: min(id) alone would read the whole index), and the last id its sequence issued.
 */
export function oldestWaitingSql(table: string): string {
  return `WITH RECURSIVE heads AS (
            (SELECT head_id FROM ${table} ORDER BY head_id LIMIT 1)
            UNION ALL
            SELECT (SELECT t.head_id FROM ${table} t WHERE t.head_id > heads.head_id ORDER BY t.head_id LIMIT 1)
              FROM heads WHERE heads.head_id IS NOT NULL)
          SELECT (SELECT min((SELECT t.id FROM ${table} t WHERE t.head_id = heads.head_id ORDER BY t.id LIMIT 1))
                    FROM heads WHERE heads.head_id IS NOT NULL)::text AS oldest,
                 pg_sequence_last_value(pg_get_serial_sequence('${table}', 'id')::regclass)::text AS latest`;
}

/**
 * The gauges read from the database. To add one (a webhook backlog, a NATS publish lag, another fold
 * cursor), add an entry: a name (civility_bank_…, with its unit), a help line, and its statement.
 */
export const databaseGauges: DatabaseGauge[] = [
  {
    name: 'civility_bank_settler_lag_seconds',
    help: 'Age of the oldest account delta the settler has not folded into its (system) account balance',
    kind: 'age',
    sql: oldestWaitingSql('account_deltas'),
  },
  {
    name: 'civility_bank_branch_fold_lag_seconds',
    help: 'Age of the oldest branch delta the settler has not folded into the branch rollups',
    kind: 'age',
    sql: oldestWaitingSql('branch_year_deltas'),
  },
  {
    name: 'civility_bank_seal_lag_seconds',
    help: 'Age of the oldest final transaction waiting for the sealer to bring it into the digest chain',
    kind: 'age',
    sql: oldestWaitingSql('journal_seal_queue'),
  },
  {
    name: 'civility_bank_rollup_fold_backlog_transactions',
    help: 'Transactions written and not yet folded into the member and branch rollups (reports read them from the journal meanwhile)',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM transactions WHERE txid >= (SELECT folded_below FROM rollup_fold)`,
  },
  {
    name: 'civility_bank_event_feed_backlog_transactions',
    help: 'Sealed transactions not yet in the event feed, over all head banks',
    kind: 'value',
    sql: `SELECT coalesce(sum(c.sequence - coalesce(f.seal_sequence, 0)), 0) AS value
            FROM journal_chains c LEFT JOIN event_feeds f ON f.head_id = c.head_id`,
  },
  {
    name: 'civility_bank_nats_publish_backlog_events',
    help: 'Feed events not yet acknowledged by NATS JetStream (0 where NATS is not configured: no publication cursor exists)',
    kind: 'value',
    sql: `SELECT coalesce(sum(f.seq - p.seq), 0) AS value FROM event_publications p JOIN event_feeds f ON f.head_id = p.head_id`,
  },
  {
    name: 'civility_bank_webhook_backlog_deliveries',
    help: 'Webhook deliveries waiting (pending or retrying)',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM webhook_deliveries WHERE status = 'PENDING'`,
  },
  {
    name: 'civility_bank_webhook_failing_deliveries',
    help: 'Webhook deliveries waiting for a retry after at least one failed attempt',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM webhook_deliveries WHERE status = 'PENDING' AND attempts > 0`,
  },
  {
    name: 'civility_bank_webhook_dead_letters',
    help: 'Webhook deliveries dead-lettered after their retries (until their subscription is deleted)',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM webhook_deliveries WHERE status = 'DEAD'`,
  },
  {
    name: 'civility_bank_selections_awaiting_award',
    help: 'Selections whose notice period has ended with no open objection and whose winners are not all paid yet (the awarding round pays them)',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM selections s WHERE s.status IN ('PUBLISHED', 'AWARDING') AND s.period_ends_at <= now()
            AND NOT EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = s.head_id AND o.selection_id = s.id AND o.status = 'OPEN')`,
  },
  {
    name: 'civility_bank_selections_held_by_objections',
    help: 'Selections whose notice period has ended and that an open objection holds until an admin resolves it',
    kind: 'value',
    sql: `SELECT count(*) AS value FROM selections s WHERE s.status = 'PUBLISHED' AND s.period_ends_at <= now()
            AND EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = s.head_id AND o.selection_id = s.id AND o.status = 'OPEN')`,
  },
];

/**
 * The age of the oldest waiting row of a table without timestamps, from the ids it has issued: each
 * scrape notes (when, the latest id). A row whose id the latest id had reached at an earlier note was
 * written by then, so the oldest waiting row is at least as old as the earliest note that covers it.
 * A lower bound, to the scrape interval; it starts at 0 when the process starts.
 */
export class AgeOfOldest {
  private samples: { atMs: number; latest: bigint }[] = [];

  /** Seconds since the oldest waiting row was written (0 when none waits). */
  observe(nowMs: number, oldest: bigint | null, latest: bigint | null): number {
    if (latest !== null) this.samples.push({ atMs: nowMs, latest });
    if (oldest === null) {
      this.samples = this.samples.slice(-1);
      return 0;
    }
    // Notes before the first that covers the oldest row never will: the oldest waiting id only grows.
    const first = this.samples.findIndex((s) => s.latest >= oldest);
    if (first < 0) return 0;
    this.samples.splice(0, first);
    if (this.samples.length > ageSamplesMax) this.samples.splice(1, 1);
    return (nowMs - this.samples[0]!.atMs) / 1000;
  }
}

/** The label of an operation name: itself when it is a bounded GraphQL name among the first operationNamesMax, else "anonymous" or "other". */
export class OperationLabels {
  private readonly seen = new Set<string>();
  label(name: string | null | undefined): string {
    if (name === null || name === undefined || name === '') return 'anonymous';
    if (this.seen.has(name)) return name;
    if (!operationNamePattern.test(name) || this.seen.size >= operationNamesMax) return 'other';
    this.seen.add(name);
    return name;
  }
}

export interface ServiceMetrics {
  registry: client.Registry;
  /** Counts one GraphQL request. */
  observeRequest(operation: string | null | undefined, outcome: string, seconds: number): void;
  writes: WriteCounter;
  /** The text a scrape answers with: this process's metrics, or, in a cluster worker, every worker's. */
  scrape(): Promise<string>;
  contentType: string;
}

/**
 * The metrics of one app. processMetrics adds prom-client's process and Node.js metrics (CPU, memory,
 * event-loop delay): on for the service, off where tests build many apps in one process.
 */
export function createServiceMetrics(
  bank: Pick<Bank, 'pool' | 'knex'>, log: LineLog, options: { processMetrics?: boolean; gauges?: DatabaseGauge[] } = {},
): ServiceMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const labels = new OperationLabels();
  const requests = new Histogram({
    name: 'civility_bank_graphql_request_duration_seconds',
    help: 'GraphQL requests by operation name and outcome (OK or the error code), from arrival to the answer sent; _count counts them',
    labelNames: ['operation', 'outcome'], buckets: requestDurationBuckets, registers: [registry],
  });
  const written: Record<WriteKind, client.Counter> = {
    award: new Counter({ name: 'civility_bank_awards_total', help: 'Awards written or replayed (each award of a batch counts)', registers: [registry] }),
    transfer: new Counter({ name: 'civility_bank_transfers_total', help: 'Transfers written or replayed', registers: [registry] }),
  };
  const refusals = new Counter({
    name: 'civility_bank_refusals_total', help: 'Awards and transfers refused, by write and error code (each award of a batch counts)',
    labelNames: ['write', 'code'], registers: [registry],
  });
  new Gauge({
    name: 'civility_bank_db_pool_connections',
    help: 'Connections of the database pools (pg: the hot path; knex: everything else): total, idle, and requests waiting for one',
    labelNames: ['pool', 'state'], registers: [registry],
    collect() {
      this.set({ pool: 'pg', state: 'total' }, bank.pool.totalCount);
      this.set({ pool: 'pg', state: 'idle' }, bank.pool.idleCount);
      this.set({ pool: 'pg', state: 'waiting' }, bank.pool.waitingCount);
      const tarn = (bank.knex.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
      if (tarn) {
        this.set({ pool: 'knex', state: 'total' }, tarn.numUsed() + tarn.numFree());
        this.set({ pool: 'knex', state: 'idle' }, tarn.numFree());
        this.set({ pool: 'knex', state: 'waiting' }, tarn.numPendingAcquires());
      }
    },
  });
  for (const gauge of options.gauges ?? databaseGauges) registerDatabaseGauge(registry, bank.pool, gauge, log);

  if (cluster.isWorker) {
    // prom-client's listener answers the primary's AggregatorRegistry with this registry.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }
  return {
    registry,
    contentType: registry.contentType,
    observeRequest(operation, outcome, seconds) {
      requests.observe({ operation: labels.label(operation), outcome: outcome === 'OK' || errorCodes.has(outcome) ? outcome : 'OTHER' }, seconds);
    },
    writes: {
      count(kind, outcome, n = 1) {
        if (outcome === 'OK') written[kind].inc(n);
        else refusals.inc({ write: kind, code: errorCodes.has(outcome) ? outcome : 'OTHER' }, n);
      },
    },
    scrape: () => (cluster.isWorker && process.send ? askPrimary() : registry.metrics()),
  };
}

function registerDatabaseGauge(registry: client.Registry, pool: pg.Pool, gauge: DatabaseGauge, log: LineLog): void {
  const age = new AgeOfOldest();
  let failing = false;
  new Gauge({
    name: gauge.name, help: gauge.help, registers: [registry],
    // every worker reads the same database: the cluster's value is the largest, not the sum
    aggregator: 'max',
    async collect() {
      try {
        const { rows } = await pool.query(gauge.sql);
        const row = rows[0] ?? {};
        const toId = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as string));
        this.set(gauge.kind === 'age' ? age.observe(Date.now(), toId(row.oldest), toId(row.latest)) : Number(row.value ?? 0));
        failing = false;
      } catch (error) {
        // no sample rather than a stale one; said once until it reads again
        this.reset();
        if (!failing) log(`metrics: ${gauge.name} could not be read: ${(error as Error).message}`, 'warn');
        failing = true;
      }
    },
  });
}

const askType = 'civility-bank:metrics-request';
const answerType = 'civility-bank:metrics-answer';
type ClusterMessage = { type?: string; id?: string; text?: string; error?: string };

/** A cluster worker's scrape: the primary asks every worker for its registry and answers with the sum. */
function askPrimary(): Promise<string> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const listen = (message: ClusterMessage) => {
      if (message?.type !== answerType || message.id !== id) return;
      done();
      if (message.error !== undefined) reject(new Error(`metrics of the cluster: ${message.error}`));
      else resolve(message.text ?? '');
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the primary did not answer within ${clusterScrapeTimeoutMs} ms (does it call serveClusterMetrics()?)`));
    }, clusterScrapeTimeoutMs);
    const done = () => { clearTimeout(timer); process.off('message', listen); };
    process.on('message', listen);
    process.send!({ type: askType, id });
  });
}

/**
 * Called once in the cluster's primary, before it forks its workers: answers a worker's scrape with
 * every worker's metrics added up (counters and histograms summed, pool gauges summed, database
 * gauges their largest value).
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: ClusterMessage) => {
    if (message?.type !== askType) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: answerType, id: message.id, text }),
      (error: Error) => worker.send({ type: answerType, id: message.id, error: error.message }),
    );
  });
}

/** Whether an Authorization header carries the token, compared in constant time (digests of equal length). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}
