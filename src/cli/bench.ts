// npm run bench: starts the service (embedded PostgreSQL, or DATABASE_URL) on a fresh database and
// measures awards per second over HTTP with closed-loop clients (one branch, spread over 64 branches,
// batches of 500) and a voucher's journey (redeem, then fulfil at the counter) against the database's
// own ceiling on the same server (single-row INSERT commits/s), and awards and spends with point expiry off
// and on (issue 16 §3), alternating, as ratios within the run.
// The load runs in a child process (this file, forked) so that it does not share the service's event loop.
// The service runs in this process, or with BENCH_WORKERS=N as WORKERS=N runs it (N worker processes
// of src/main.ts on one port). It ends with issue 14's targets as ratios within the run: target | measured | met?.
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig, workerPoolSize, workersMax, type Config } from '../config.js';
import { connectDatabaseServer, type DatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { openBank, type Bank } from '../bank.js';
import { buildApp, type BuiltApp } from '../http/app.js';
import { startSettler } from '../ledger/settle.js';
import { startSealer } from '../ledger/seal.js';
import { callAward, callAwardBatch, type AwardScope } from '../ledger/sql/award.js';
import { requestHash } from '../ledger/idempotency.js';
import { createHeadBank, insertChildBranch, type Branch } from '../directory/branches.js';
import { openWallets } from '../directory/members.js';
import { insertMerchant } from '../redemption/merchants.js';
import { signToken } from '../auth/tokens.js';
import { cpuUse, postmasterOf, sampleCpu, type CpuUse } from './cpuTime.js';
import { createDatabaseOfUrl } from './cliDatabase.js';
import { startWorkers, type Workers } from '../workers.js';
import { startExpirySweeper, sweepPointExpiry } from '../expiry/sweeper.js';

/** Its own database, dropped and created afresh each run: figures never depend on earlier runs. */
const benchDatabase = 'civility_bench';
/**
 * Its own embedded cluster, as the tests have theirs (.data/pg-test): a run that reused the cluster of
 * `npm start` was cut short when that cluster was stopped under it, and a bench that started it would
 * stop it under `npm start`. BENCH_PG_DATA_DIR / BENCH_PG_PORT choose another; DATABASE_URL skips it.
 */
const benchDataDirDefault = '.data/pg-bench';
const benchPortDefault = '54359';
/**
 * One bench per database server at a time (an advisory lock): a second run would drop the first
 * one's database under it, and two runs would halve each other's figures anyway. A second run waits.
 */
const benchLockName = 'civility-bench';
/** A run waits this long for another run on the same server (about 4 minutes each) before giving up. */
const benchLockWaitMs = 15 * 60_000;
/** Attempts to reach and lock the server, a second apart: long enough for a stopping embedded server to exit. */
const lockAttemptsMax = 10;
const lockRetryDelayMs = 1_000;
/** The service logs a stack per INTERNAL error: a broken run would print thousands, so the first lines are shown and the rest counted. */
const serviceLogLinesMax = 20;
/** "Spread" means this many branches: as many as the most clients, so at 64 clients each owns a branch. */
const branchCount = 64;
/** As many as the most clients: in the one-branch scenario every client still has wallets of its own. */
const membersPerBranch = 64;
/** The issue's batch size (SPEC allows up to 1,000). */
const batchSize = 500;
const clientCounts = [1, 16, 64] as const;
/** The ceiling is measured at 4 clients too, so that batches from 4 clients have a ceiling to compare with. */
const ceilingClientCounts = [1, 4, 16, 64] as const;
const batchClientCounts = [1, 4] as const;
/** Reference rows that split an award's time between HTTP + GraphQL and the SQL statement. */
const referenceClients = 64;
/**
 * Pool of the service (and of the ceiling's and the direct-SQL clients, so all compare alike) when
 * DB_POOL_SIZE is unset. Measured on the 2-core machine: 16, 32 and 64 gave figures within the noise
 * at 64 clients (noise here is ±30%); 32 leaves room on max_connections (200) for other pools.
 */
const benchPoolSizeDefault = 32;
/** Before each scenario, unmeasured: long enough for its connections to open and its statements to be prepared. */
const warmupMs = 2_000;
/**
 * Once, before the first award scenario, unmeasured, at the most clients: every pool connection
 * compiles the award functions and V8 optimises the request path, so that the first scenario is not the one
 * that pays for it (without this, one branch @1, which runs first, measured ~40% below spread @1).
 */
const serviceWarmupMs = 5_000;
const secondsDefault = 10;
/** A run longer than this per scenario is a typo (hours of benchmark), not a wish. */
const secondsMax = 600;
/** A request that takes longer is counted as an error: the database's lock_timeout is 10 s. */
const requestTimeoutMs = 30_000;
/** The targets of issue 14, measured against what this stack can do at best in the same run. */
const singleShareOfTrivialMin = 0.5;
const singleShareOfCeilingMin = 0.15;
const databaseUsPerSingleAwardMax = 300;
const databaseUsPerBatchAwardMax = 60;
const batchAwardsPerSecondMin = 20_000;
const oneBranchShareOfSpreadMin = 0.9;
const benchRule = { code: 'bench.award', name: 'Benchmark award (no caps)', category: 'bench',
  outputs: [{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }], caps: [] };
/** What an awarding kiosk asks back: the transaction id and the member's new balance. */
const awardMutation = `mutation Award($input: AwardPointsInput!) {
  awardPoints(input: $input) { replayed transaction { id postings { line amount balanceAfter } } } }`;
/** What a batch uploader asks back: per award its transaction id or its error. */
const batchMutation = `mutation AwardBatch($input: AwardPointsBatchInput!) {
  awardPointsBatch(input: $input) { succeeded failed results { index transactionId error { code message } } } }`;
/** A member redeems the bench item; the merchant's till fulfils the voucher: what a counter sale costs. */
const redeemMutation = `mutation Redeem($input: RedeemInput!) { redeem(input: $input) { redemption { code status } } }`;
const fulfilMutation = `mutation Fulfil($input: VoucherInput!) { fulfillRedemption(input: $input) { redemption { status } } }`;
/** Points each redeeming member starts with (an award of this many units of the bench rule), far more than a run spends (the expiry rows spend ~1,500 each). */
const redeemerFunds = '100000';
/** The cheapest authenticated GraphQL request: HTTP, JSON, JWT check and Apollo, no database. */
const trivialQuery = '{ __typename }';
/**
 * Issue 16 §3: awards and spends (a voucher redeemed and fulfilled) with point expiry off and on, at
 * this many clients, alternating off, on, off, on so that drift of a shared machine falls on both.
 */
const expiryClients = 16;
const expiryRounds = 2;
/** An "on" step is measured over at least two sweeper rounds (SWEEP_INTERVAL_MS), so that the lot folding it pays for is inside its window. */
const expirySweepsPerWindow = 2;
/** The policy the "on" steps run under (any policy folds the same lots; none of the bench's points is old enough to expire). */
const benchExpiryMonths = 12;
/** Sweeper passes to fold the history before the first "on" step (each folds up to 100,000 transactions). */
const catchUpPassesMax = 50;
/** Issue 16's targets: off no slower than before (compare runs), on at most 10% slower than off. */
const expiryOnSlowdownMax = 0.1;
/** argv[2] of the forked load generator. */
const loadGeneratorFlag = '--load-generator';

const log = (line: string) => console.error(`[bench] ${line}`);

/** The service's log, bounded by serviceLogLinesMax. */
function boundedServiceLog(): { log(line: string): void; suppressed(): number } {
  let lines = 0;
  return {
    log(line) {
      lines++;
      if (lines <= serviceLogLinesMax) console.error(`[service] ${line}`);
      if (lines === serviceLogLinesMax) console.error(`[service] (further lines are counted, not printed)`);
    },
    suppressed: () => Math.max(0, lines - serviceLogLinesMax),
  };
}

// ---------------------------------------------------------------------------------------------
// The load: what the parent asks the load generator to run, and what it answers.

type LoadKind = 'ceiling' | 'award' | 'batch' | 'graphql-trivial' | 'award-sql' | 'redeem-fulfil' | 'award-replay' | 'batch-replay';

interface Load {
  kind: LoadKind;
  clients: number;
  warmupMs: number;
  measureMs: number;
  /** Prefix of idempotency keys, unique per scenario. */
  keyPrefix: string;
  serviceUrl: string;
  databaseUrl: string;
  poolSize: number;
  /** One token per client (its own subject, as each kiosk has). */
  tokens: string[];
  /** External ids to award; client c takes those at c, c + clients, c + 2 clients ... */
  members: string[];
  scope: AwardScope;
  /** redeem-fulfil: one member token per client (each its own wallet), the merchant's token and the item. */
  memberTokens: string[];
  merchantToken: string;
  itemId: string;
}

interface LoadResult {
  /** Awards (or commits) that succeeded inside the window. */
  operations: number;
  errors: number;
  firstError: string | null;
  windowMs: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system) the load generator itself spent inside the window. */
  loadCpuMs: number;
}

/** One request of a client: resolves to the awards it made and the awards it failed. */
type Operation = (client: number) => Promise<{ succeeded: number; failed: number; error?: string }>;

/** Nearest-rank percentile of sorted durations. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Closed loop: each client sends its next request when the previous answer arrived. Requests that
 * complete inside [warm-up end, end] are counted (a fixed window, so in-flight requests at either edge
 * neither inflate nor shrink the rate); errors are counted throughout.
 */
async function runClosedLoop(clients: number, warmup: number, measure: number, operation: Operation): Promise<LoadResult> {
  const start = performance.now();
  const windowStart = start + warmup;
  const windowEnd = windowStart + measure;
  const durations: number[] = [];
  let operations = 0;
  let errors = 0;
  let firstError: string | null = null;
  let cpuAtStart = process.cpuUsage();
  let loadCpuMs = NaN;
  const marks = [
    setTimeout(() => { cpuAtStart = process.cpuUsage(); }, warmup),
    setTimeout(() => { const d = process.cpuUsage(cpuAtStart); loadCpuMs = (d.user + d.system) / 1000; }, warmup + measure),
  ];
  const client = async (c: number) => {
    while (performance.now() < windowEnd) {
      const sent = performance.now();
      let outcome: Awaited<ReturnType<Operation>>;
      try {
        outcome = await operation(c);
      } catch (error) {
        outcome = { succeeded: 0, failed: 1, error: (error as Error).message };
      }
      const done = performance.now();
      errors += outcome.failed;
      if (outcome.error) firstError ??= outcome.error;
      if (done >= windowStart && done <= windowEnd && outcome.failed === 0) {
        durations.push(done - sent);
        operations += outcome.succeeded;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  for (const mark of marks) clearTimeout(mark);
  const sorted = Float64Array.from(durations).sort();
  return {
    operations, errors, firstError, windowMs: measure, loadCpuMs,
    p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99),
  };
}

/** POSTs one GraphQL request over a keep-alive connection; rejects on transport errors and timeouts. */
function postGraphQL(agent: http.Agent, url: URL, token: string, query: string, variables?: object): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${token}` },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(requestTimeoutMs, () => req.destroy(new Error(`no answer in ${requestTimeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function graphQLError(res: { status: number; body: any }): string {
  const first = res.body?.errors?.[0];
  return first ? `${first.extensions?.code ?? 'ERROR'}: ${first.message}` : `HTTP ${res.status}`;
}

/** Member external ids for client c: c, c + clients, ... so that clients never share a wallet. */
function memberCursor(members: string[], clients: number): (c: number) => string {
  const next = new Array<number>(clients).fill(0);
  return (c) => members[(c + clients * next[c]!++) % members.length]!;
}

/** Runs one load in the load generator process. */
async function runLoad(load: Load): Promise<LoadResult> {
  const sequence = new Array<number>(load.clients).fill(0);
  const key = (c: number) => `${load.keyPrefix}-c${c}-${sequence[c]!++}`;
  const member = memberCursor(load.members, load.clients);
  if (load.kind === 'ceiling' || load.kind === 'award-sql') {
    const pool = new pg.Pool({ connectionString: load.databaseUrl, max: load.poolSize, application_name: 'civility-bench' });
    pool.on('error', () => undefined);
    const operation: Operation = load.kind === 'ceiling'
      ? async (c) => {
        await pool.query({ name: 'bench_ceiling_insert', text: 'INSERT INTO bench_ceiling (v) VALUES ($1)', values: [c] });
        return { succeeded: 1, failed: 0 };
      }
      : async (c) => {
        const k = key(c);
        const item = { key: k, hash: requestHash('awardPoints', { key: k }), externalId: member(c), rule: benchRule.code,
          quantity: '1', occurredAt: new Date().toISOString(), memo: null, metadata: null };
        // The statement awardPoints runs (cb_award_one), without HTTP and GraphQL; a refusal is an error.
        try {
          const json = await callAward(pool, load.scope, item);
          return json?.transaction?.id ? { succeeded: 1, failed: 0 } : { succeeded: 0, failed: 1, error: JSON.stringify(json) };
        } catch (error) {
          return { succeeded: 0, failed: 1, error: String((error as Error).message) };
        }
      };
    try {
      return await runClosedLoop(load.clients, load.warmupMs, load.measureMs, operation);
    } finally {
      await pool.end();
    }
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: load.clients });
  const url = new URL('/graphql', load.serviceUrl);
  const token = (c: number) => load.tokens[c % load.tokens.length]!;
  // Replays: each client sends one fixed request again and again (its first answer writes, every later
  // one replays): the whole request path of an award (HTTP, JWT, GraphQL, the key's lookup in SQL, the
  // answer) with nothing written, so no way of writing an award can be faster than this.
  const fixedMember = (c: number, i = 0) => load.members[(c * batchSize + i) % load.members.length]!;
  const fixedBatches = new Map<number, object[]>();
  const fixedBatch = (c: number) => {
    if (!fixedBatches.has(c)) fixedBatches.set(c, Array.from({ length: batchSize }, (_, i) => ({ idempotencyKey: `${load.keyPrefix}-c${c}-${i}`, externalId: fixedMember(c, i), rule: benchRule.code })));
    return fixedBatches.get(c)!;
  };
  const sendBatch = async (c: number, awards: object[]) => {
      const res = await postGraphQL(agent, url, token(c), batchMutation, { input: { awards } });
      const result = res.body?.data?.awardPointsBatch;
      if (res.status !== 200 || res.body?.errors || !result) return { succeeded: 0, failed: batchSize, error: graphQLError(res) };
      const failedItem = (result.results as { error: { code: string; message: string } | null }[]).find((r) => r.error);
      return { succeeded: result.succeeded, failed: result.failed, error: failedItem ? `${failedItem.error!.code}: ${failedItem.error!.message}` : undefined };
  };
  const operations: Record<Exclude<LoadKind, 'ceiling' | 'award-sql'>, Operation> = {
    award: async (c) => {
      const res = await postGraphQL(agent, url, token(c), awardMutation, { input: { idempotencyKey: key(c), externalId: member(c), rule: benchRule.code } });
      const result = res.body?.data?.awardPoints;
      if (res.status !== 200 || res.body?.errors || !result?.transaction?.id || result.replayed) return { succeeded: 0, failed: 1, error: graphQLError(res) };
      return { succeeded: 1, failed: 0 };
    },
    batch: (c) => sendBatch(c, Array.from({ length: batchSize }, () => ({ idempotencyKey: key(c), externalId: member(c), rule: benchRule.code }))),
    'redeem-fulfil': async (c) => {
      const redeemed = await postGraphQL(agent, url, load.memberTokens[c]!, redeemMutation, { input: { idempotencyKey: key(c), item: load.itemId } });
      const code = redeemed.body?.data?.redeem?.redemption?.code;
      if (redeemed.status !== 200 || redeemed.body?.errors || !code) return { succeeded: 0, failed: 1, error: graphQLError(redeemed) };
      const fulfilled = await postGraphQL(agent, url, load.merchantToken, fulfilMutation, { input: { idempotencyKey: `${key(c)}-till`, code } });
      if (fulfilled.status !== 200 || fulfilled.body?.errors || fulfilled.body?.data?.fulfillRedemption?.redemption?.status !== 'FULFILLED') {
        return { succeeded: 0, failed: 1, error: graphQLError(fulfilled) };
      }
      return { succeeded: 1, failed: 0 };
    },
    'award-replay': async (c) => {
      const res = await postGraphQL(agent, url, token(c), awardMutation, { input: { idempotencyKey: `${load.keyPrefix}-c${c}`, externalId: fixedMember(c), rule: benchRule.code } });
      const result = res.body?.data?.awardPoints;
      if (res.status !== 200 || res.body?.errors || !result?.transaction?.id) return { succeeded: 0, failed: 1, error: graphQLError(res) };
      return { succeeded: result.replayed ? 1 : 0, failed: 0 };
    },
    'batch-replay': (c) => sendBatch(c, fixedBatch(c)),
    'graphql-trivial': async (c) => {
      const res = await postGraphQL(agent, url, token(c), trivialQuery);
      if (res.status !== 200 || res.body?.errors || res.body?.data?.__typename !== 'Query') return { succeeded: 0, failed: 1, error: graphQLError(res) };
      return { succeeded: 1, failed: 0 };
    },
  };
  try {
    return await runClosedLoop(load.clients, load.warmupMs, load.measureMs, operations[load.kind]);
  } finally {
    agent.destroy();
  }
}

/** The forked child: runs each load it is sent and answers with its result; exits when the parent lets go. */
function serveLoads(): void {
  process.on('message', (load: Load) => {
    runLoad(load).then(
      (result) => process.send!({ result }),
      (error) => process.send!({ failure: String((error as Error)?.stack ?? error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** The parent's handle on the load generator: one load at a time. */
function startLoadGenerator(): { run(load: Load): Promise<LoadResult>; stop(): void } {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [loadGeneratorFlag], { stdio: 'inherit' });
  let pending: { resolve(r: LoadResult): void; reject(e: Error): void } | null = null;
  child.on('message', (message: { result?: LoadResult; failure?: string }) => {
    const waiting = pending;
    pending = null;
    if (message.result) waiting?.resolve(message.result);
    else waiting?.reject(new Error(`load generator: ${message.failure}`));
  });
  child.on('exit', (code) => {
    pending?.reject(new Error(`load generator exited with code ${code}`));
    pending = null;
  });
  return {
    run: (load) => new Promise((resolve, reject) => {
      if (pending) throw new Error('one load at a time');
      pending = { resolve, reject };
      child.send(load);
    }),
    stop: () => {
      if (child.connected) child.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The service and its bench bank.

interface Service {
  config: Config;
  server: DatabaseServer;
  bank: Bank & { close(): Promise<void> };
  url: string;
  /** The HTTP workers' process ids (BENCH_WORKERS); none when the service runs in this process. */
  workerPids(): number[];
  /** Service log lines counted but not printed. */
  logSuppressed(): number;
  stop(): Promise<void>;
}

interface ServerLock { server: DatabaseServer; release(): Promise<void> }

/** Starts (or finds) the database server and takes the bench lock on it, waiting for a run that holds it. */
async function lockDatabaseServer(config: Config): Promise<ServerLock> {
  for (let attempt = 1; ; attempt++) {
    let server: DatabaseServer | undefined;
    let locker: pg.Client | undefined;
    try {
      server = await connectDatabaseServer(config, 'postgres', false, log);
      locker = new pg.Client({ connectionString: server.url });
      // The server may stop while this connection waits (when the run before started it).
      locker.on('error', () => undefined);
      await locker.connect();
      const { rows } = await locker.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [benchLockName]);
      if (!rows[0].locked) {
        log(`another npm run bench is running on this database server; waiting up to ${benchLockWaitMs / 60_000} min for it to finish`);
        await locker.query(`SET lock_timeout = ${benchLockWaitMs}`);
        await locker.query('SELECT pg_advisory_lock(hashtext($1))', [benchLockName]);
      }
      const held = locker;
      return { server, release: () => held.end() };
    } catch (error) {
      await locker?.end();
      // A run that waited sees the run before it stop the embedded server they shared: start again.
      // Having waited out lock_timeout (55P03) is final.
      if (attempt >= lockAttemptsMax || (error as { code?: string }).code === '55P03') {
        await server?.stop();
        throw error;
      }
      log(`the database server went away (${(error as Error).message}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, lockRetryDelayMs));
    }
  }
}

/** The start-up path of src/main.ts, on the bench's own fresh database and a free port; stopping it releases the lock. */
/** @param workerCount BENCH_WORKERS: HTTP worker processes, or null to serve in this process (as WORKERS=1 does) */
async function startService(config: Config, lock: ServerLock, workerCount: number | null): Promise<Service> {
  // The server runs already (lockDatabaseServer started it): this only makes the bench's database afresh.
  let server: DatabaseServer;
  try {
    server = await connectDatabaseServer(config, benchDatabase, true, () => undefined);
    const migrator = openDatabase(server.url, 2);
    try {
      await migrateToLatest(migrator.knex, config.partitionMonthsAhead);
    } finally {
      await migrator.close();
    }
  } catch (error) {
    await lock.release();
    await lock.server.stop();
    throw error;
  }
  const bank = await openBank(config, server.url);
  const serviceLog = boundedServiceLog();
  if (workerCount !== null) return startServiceWorkers(config, lock, server, bank, workerCount, serviceLog);
  const stopSettler = startSettler(bank, config.settleIntervalMs, serviceLog.log);
  // the service as it runs in production: sealing the journal beside the writes it measures
  const stopSealer = startSealer(bank, config.sealIntervalMs, serviceLog.log);
  const built: BuiltApp = await buildApp(bank, serviceLog.log);
  const listener: http.Server = await new Promise((resolve) => {
    const s = built.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  let stopping: Promise<void> | undefined;
  return {
    config, server, bank, url,
    workerPids: () => [],
    logSuppressed: serviceLog.suppressed,
    stop() {
      stopping ??= (async () => {
        listener.closeAllConnections();
        await new Promise((resolve) => listener.close(resolve));
        await built.stop();
        await Promise.all([stopSettler(), stopSealer()]);
        await bank.close();
        // The server first: a run waiting for the lock must not start on a server about to stop.
        await lock.server.stop();
        await lock.release();
      })();
      return stopping;
    },
  };
}

/**
 * The service as WORKERS=count runs it: count processes of src/main.ts (node:cluster workers of this
 * process, which plays the primary: it prepared the database) sharing one port, each running the
 * settler, the sealer and the sweeper, with DB_POOL_SIZE shared among them as npm start shares it.
 */
async function startServiceWorkers(
  config: Config, lock: ServerLock, server: DatabaseServer, bank: Bank & { close(): Promise<void> }, count: number,
  serviceLog: ReturnType<typeof boundedServiceLog>,
): Promise<Service> {
  let workers: Workers | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    workers = startWorkers({
      count,
      exec: fileURLToPath(new URL('../main.ts', import.meta.url)),
      env: {
        DATABASE_URL: server.url, HOST: '127.0.0.1', PORT: '0', WORKERS: String(count),
        DB_POOL_SIZE: String(workerPoolSize({ dbPoolSize: config.dbPoolSize, workers: count })),
        SEED_DEMO: 'false', PRINT_DEMO_TOKEN: 'false', RATE_LIMIT_REQUESTS: String(config.limits.rateLimitRequests),
      },
      onOutput: serviceLog.log,
      log: () => undefined,
      onListening: resolve,
      onGiveUp: (reason) => reject(new Error(reason)),
    });
  }).catch(async (error) => {
    await workers?.stop();
    await bank.close();
    await lock.server.stop();
    await lock.release();
    throw error;
  });
  let stopping: Promise<void> | undefined;
  return {
    config, server, bank, url: `http://127.0.0.1:${port}`,
    workerPids: () => workers!.pids(),
    logSuppressed: serviceLog.suppressed,
    stop() {
      stopping ??= (async () => {
        await workers!.stop();
        await bank.close();
        await lock.server.stop();
        await lock.release();
      })();
      return stopping;
    },
  };
}

interface Fixture {
  head: Branch;
  /** External ids of the first branch's members. */
  oneBranch: string[];
  /** External ids of all members, interleaved by branch: consecutive awards go to different branches. */
  spread: string[];
  /** Member ids of the redeeming members (one per client, in different branches), funded with points. */
  redeemers: string[];
  merchantId: string;
  itemId: string;
}

/** A head bank with branchCount branches, the bench rule (no caps) and membersPerBranch members each. */
async function setUpBank(bank: Bank): Promise<Fixture> {
  // Codes unique per run: with DATABASE_URL the database is not made afresh, and branch codes are unique in it.
  const tag = Date.now().toString(36);
  const head = await createHeadBank(bank, { code: `bench-${tag}`, name: `Bench head bank ${tag}` });
  const branches = await bank.knex.transaction(async (trx) => {
    const made: Branch[] = [];
    for (let b = 0; b < branchCount; b++) made.push(await insertChildBranch(trx, head, { code: `bench-${tag}-b${b}`, name: `Bench branch ${b}` }));
    return made;
  });
  for (const branch of branches) bank.branches.remember(branch);
  await bank.knex('rules').insert({
    head_id: head.id, branch_id: head.id, code: benchRule.code, version: 1, name: benchRule.name, category: benchRule.category,
    outputs: JSON.stringify(benchRule.outputs), caps: JSON.stringify(benchRule.caps), requires_approval: false,
    allowed_clients: [], created_by: 'bench',
  });
  const byBranch: string[][] = [];
  for (const [b, branch] of branches.entries()) {
    const externalIds = Array.from({ length: membersPerBranch }, (_, m) => `bench-m${b}-${m}`);
    const rows = await bank.knex('members')
      .insert(externalIds.map((externalId) => ({ head_id: head.id, branch_id: branch.id, external_id: externalId, name: `Member ${externalId}` })))
      .returning('id');
    await Promise.all(rows.map((row) => openWallets(bank.knex, head.id, branch.id, String(row.id))));
    byBranch.push(externalIds);
  }
  // A normal, logged table: the ceiling is what a durable commit costs on this server.
  await bank.knex.raw('CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, v int)');
  const spread: string[] = [];
  for (let m = 0; m < membersPerBranch; m++) for (let b = 0; b < branchCount; b++) spread.push(byBranch[b]![m]!);
  // The shop: a merchant with an unlimited item of 1.00 POINTS offered to the whole bank, and one
  // funded member per client (the last member of each branch, which no award scenario runs dry).
  const redeemerExternalIds = byBranch.map((ids) => ids.at(-1)!);
  const scope: AwardScope = { headId: head.id, sub: 'bench-setup', role: 'admin', scopePath: head.path, timeZone: head.timeZone };
  await callAwardBatch(bank.pool, scope, redeemerExternalIds.map((externalId) => ({
    key: `fund-${externalId}`, hash: requestHash('awardPoints', { externalId }), externalId, rule: benchRule.code, quantity: redeemerFunds,
    occurredAt: new Date().toISOString(), memo: null, metadata: null })));
  // Planner statistics, as a running bank has them (autovacuum gathers them a minute or so after a
  // bulk load): planned on empty-table estimates, one award took ~7 ms instead of ~1.4 ms. Gathered
  // after the funding awards above, so that no journal table is analyzed empty: with transactions
  // analyzed at 0 rows, the rollup trigger's plan (kept per connection until autovacuum analyzes
  // again, a minute or more into the run) found an award's transaction by scanning every transaction
  // of the head bank (seen in auto_explain: 9,917 rows removed by the join filter, ~4 ms per award).
  // VACUUM and a checkpoint settle the freshly loaded pages (hint bits, visibility map, autovacuum's
  // backlog) now rather than during the first scenario: without them the award scenario that ran
  // first measured ~30% low (one branch @64 ~530/s against spread ~780/s; in the other order, equal).
  await bank.knex.raw('VACUUM (ANALYZE)');
  await bank.knex.raw('CHECKPOINT');
  const redeemers = (await bank.knex('members').where({ head_id: head.id }).whereIn('external_id', redeemerExternalIds).orderBy('id').select('id'))
    .map((r) => String(r.id));
  const merchantId = await bank.knex.transaction((trx) => insertMerchant(trx, head.id, head.id, 'Bench shop'));
  const [item] = await bank.knex('catalog_items').insert({
    head_id: head.id, merchant_id: merchantId, code: 'bench-item', title: 'Bench item', category: 'bench', cost: '1.00',
    stock_left: null, visible_branch_id: head.id, voucher_valid_days: 7,
  }).returning('id');
  return { head, oneBranch: byBranch[0]!, spread, redeemers, merchantId, itemId: String(item.id) };
}

// ---------------------------------------------------------------------------------------------
// The report.

interface Row {
  scenario: string;
  kind: LoadKind;
  clients: number;
  result: LoadResult;
  /** CPU over the measured window (the service runs in this process); null where /proc is not there. */
  cpu: CpuUse | null;
}

/** Runs one load, sampling CPU at the start and the end of its measured window. */
async function runMeasured(
  generator: ReturnType<typeof startLoadGenerator>, load: Load, postmaster: number | null, servicePids: () => number[],
): Promise<{ result: LoadResult; cpu: CpuUse | null }> {
  let first: ReturnType<typeof sampleCpu> | undefined;
  let last: ReturnType<typeof sampleCpu> | undefined;
  const sample = () => { try { return sampleCpu(postmaster, servicePids()); } catch { return undefined; } };
  const marks = [
    setTimeout(() => { first = sample(); }, load.warmupMs),
    setTimeout(() => { last = sample(); }, load.warmupMs + load.measureMs),
  ];
  try {
    const result = await generator.run(load);
    return { result, cpu: first && last ? cpuUse(first, last) : null };
  } finally {
    for (const mark of marks) clearTimeout(mark);
  }
}

function perSecond(r: LoadResult): number {
  return (r.operations * 1000) / r.windowMs;
}

const count = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const percent = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : '-');

function printTable(rows: Row[], ceilingAt: (clients: number) => number): void {
  const header = ['scenario', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'of ceiling', 'CPU busy', 'service', 'database', 'load gen', 'other'];
  const lines = rows.map((row) => {
    const perOp = (cpuMs: number | null | undefined) => (cpuMs == null || row.result.operations === 0 ? '-' : `${count((cpuMs * 1000) / row.result.operations)}`);
    return [
      row.scenario, String(row.clients), count(perSecond(row.result)), ms(row.result.p50Ms), ms(row.result.p99Ms),
      String(row.result.errors), row.kind === 'ceiling' ? '' : percent(perSecond(row.result) / ceilingAt(row.clients)),
      row.cpu ? percent(row.cpu.machineBusyShare) : '-',
      // the ceiling and the direct-SQL reference run no service: the bench process only waits for them
      row.kind === 'ceiling' || row.kind === 'award-sql' ? '-' : perOp(row.cpu?.selfMs),
      perOp(row.cpu?.databaseMs), perOp(row.result.loadCpuMs),
      perOp(row.cpu ? row.cpu.restMs - row.result.loadCpuMs : null),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

/** The final table: each target of the issue, what this run measured, and whether it is met. */
function printTargets(rows: { target: string; measured: string; met: string }[], title = 'Targets (issue 14), as ratios within this run'): void {
  const header = { target: 'target', measured: 'measured', met: 'met?' };
  const widths = (['target', 'measured'] as const).map((k) => Math.max(header[k].length, ...rows.map((r) => r[k].length)));
  const line = (r: typeof header) => `| ${r.target.padEnd(widths[0]!)} | ${r.measured.padEnd(widths[1]!)} | ${r.met} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${'-'.repeat(widths[0]! + 2)}|${'-'.repeat(widths[1]! + 2)}|------|`);
  for (const row of rows) console.log(line(row));
}

function utcNow(): string {
  return new Date().toISOString().replace('T', ' ').slice(0, 19);
}

interface Settings { version: string; fsync: string; sync: string }

interface Plan { scenario: string; kind: LoadKind; clients: number; members: string[]; expiry?: 'off' | 'on' }

function planScenarios(fixture: Fixture): Plan[] {
  const spreadName = `awardPoints, ${branchCount} branches`;
  return [
    ...ceilingClientCounts.map((clients) => ({ scenario: 'ceiling: INSERT commit (pg)', kind: 'ceiling' as const, clients, members: [] })),
    ...clientCounts.map((clients) => ({ scenario: 'awardPoints, one branch', kind: 'award' as const, clients, members: fixture.oneBranch })),
    ...clientCounts.map((clients) => ({ scenario: spreadName, kind: 'award' as const, clients, members: fixture.spread })),
    ...batchClientCounts.map((clients) => ({ scenario: `awardPointsBatch x${batchSize}`, kind: 'batch' as const, clients, members: fixture.spread })),
    { scenario: 'ref: { __typename } over HTTP', kind: 'graphql-trivial', clients: referenceClients, members: [] },
    { scenario: 'ref: awardPoints replayed (writes nothing)', kind: 'award-replay', clients: referenceClients, members: fixture.spread },
    ...batchClientCounts.map((clients) => ({ scenario: `ref: awardPointsBatch x${batchSize} replayed`, kind: 'batch-replay' as const, clients, members: fixture.spread })),
    { scenario: 'ref: one award as SQL (pg), one branch', kind: 'award-sql', clients: referenceClients, members: fixture.oneBranch },
    { scenario: 'redeem, then fulfil (2 requests)', kind: 'redeem-fulfil', clients: Math.max(...clientCounts), members: [] },
    ...Array.from({ length: expiryRounds }, () => (['off', 'on'] as const).flatMap((expiry) => [
      { scenario: `expiry ${expiry}: awardPoints, ${branchCount} branches`, kind: 'award' as const, clients: expiryClients, members: fixture.spread, expiry },
      { scenario: `expiry ${expiry}: redeem, then fulfil`, kind: 'redeem-fulfil' as const, clients: expiryClients, members: [], expiry },
    ])).flat(),
  ];
}

function printReport(rows: Row[], describe: string): void {
  const find = (kind: LoadKind, clients: number, scenario?: string) =>
    rows.find((r) => r.kind === kind && r.clients === clients && (scenario === undefined || r.scenario === scenario));
  const ceilingAt = (clients: number) => {
    const row = find('ceiling', clients);
    return row ? perSecond(row.result) : NaN;
  };
  console.log(`\n${describe}`);
  console.log('ops/s: commits/s for the ceiling, vouchers redeemed and fulfilled/s for redeem-fulfil, awards/s otherwise;'
    + ' latency per request (a batch request carries 500 awards; a voucher journey is two requests).'
    + ' CPU: the machine\'s busy share over the window, then CPU µs per operation of the service process, the database server\'s'
    + ' processes, the load generator, and everything else on the machine\n');
  printTable(rows, ceilingAt);

  // BENCH_ONLY may have left scenarios out: a figure of one is NaN, and its comparisons print as '-'.
  const rate = (row: Row | undefined) => (row ? perSecond(row.result) : NaN);
  const oneBranch64 = rate(find('award', 64, 'awardPoints, one branch'));
  const spread64 = rate(find('award', 64, `awardPoints, ${branchCount} branches`));
  const single64 = Math.min(oneBranch64, spread64);
  const ceiling64 = ceilingAt(64);
  const batch1 = rate(find('batch', 1));
  // A lower-is-better target is compared negated: value ≥ min.
  const verdict = (value: number, min: number) => (Number.isNaN(value) ? 'not measured' : value >= min ? 'met' : 'NOT met');
  // The database's CPU per award of a row (its server's processes over the window, per award made).
  const databaseUs = (row: Row | undefined) =>
    (row?.cpu?.databaseMs != null && row.result.operations > 0 ? (row.cpu.databaseMs * 1000) / row.result.operations : NaN);
  const oneBranch64Row = find('award', 64, 'awardPoints, one branch');
  const batch1Row = find('batch', 1);
  const trivial64 = rate(find('graphql-trivial', referenceClients));
  const oneBranch1 = find('award', 1, 'awardPoints, one branch');
  const p50Before = Number(process.env.BENCH_P50_BEFORE_MS ?? NaN);
  const targets = [
    { target: `single awardPoints @64, one branch ÷ { __typename } @${referenceClients} ≥ ${percent(singleShareOfTrivialMin)}`,
      measured: `${count(oneBranch64)} / ${count(trivial64)} = ${percent(oneBranch64 / trivial64)}`, met: verdict(oneBranch64 / trivial64, singleShareOfTrivialMin) },
    { target: `single awardPoints @64 ÷ INSERT-commit ceiling @64 ≥ ${percent(singleShareOfCeilingMin)}`,
      measured: `${count(single64)} / ${count(ceiling64)} = ${percent(single64 / ceiling64)} (lower of one branch and ${branchCount} branches)`,
      met: verdict(single64 / ceiling64, singleShareOfCeilingMin) },
    { target: `PostgreSQL CPU per award, single awards @64 (one branch) ≤ ${databaseUsPerSingleAwardMax} µs`,
      measured: `${count(databaseUs(oneBranch64Row))} µs`, met: verdict(-databaseUs(oneBranch64Row), -databaseUsPerSingleAwardMax) },
    { target: `PostgreSQL CPU per award in a ${batchSize}-award batch (@1) ≤ ${databaseUsPerBatchAwardMax} µs`,
      measured: `${count(databaseUs(batch1Row))} µs`, met: verdict(-databaseUs(batch1Row), -databaseUsPerBatchAwardMax) },
    { target: `awardPointsBatch x${batchSize} @1 ≥ ${count(batchAwardsPerSecondMin)} awards/s`,
      measured: `${count(batch1)} awards/s`, met: verdict(batch1, batchAwardsPerSecondMin) },
    { target: `one branch ÷ ${branchCount} branches @64 ≥ ${percent(oneBranchShareOfSpreadMin)}`,
      measured: `${count(oneBranch64)} / ${count(spread64)} = ${percent(oneBranch64 / spread64)}`, met: verdict(oneBranch64 / spread64, oneBranchShareOfSpreadMin) },
    { target: `p50 of one award at 1 client: no worse than before${Number.isNaN(p50Before) ? '' : ` (${ms(p50Before)} ms, BENCH_P50_BEFORE_MS)`}`,
      measured: `${ms(oneBranch1?.result.p50Ms ?? NaN)} ms`,
      met: !oneBranch1 ? 'not measured' : Number.isNaN(p50Before) ? 'compare with the run before' : verdict(-oneBranch1.result.p50Ms, -p50Before) },
  ];
  // A replay runs the whole request path of an award and writes nothing: what an award could reach if writing cost nothing.
  const replay64 = rate(find('award-replay', 64));
  const batchReplay1 = rate(find('batch-replay', 1));
  console.log('\nBounds: the same requests replayed (HTTP, JWT, GraphQL, the keys looked up in SQL, the answer; nothing written)');
  console.log(`  awardPoints @64: ${count(replay64)}/s = ${percent(replay64 / ceiling64)} of ceiling @64`);
  console.log(`  awardPointsBatch x${batchSize} @1: ${count(batchReplay1)} awards/s`);
  // Every award request does all that an empty GraphQL request does (HTTP, JWT, Apollo, the answer), so
  // the empty request's rate, measured the same way, is above what any award can reach on this stack.
  console.log(`  { __typename } @${referenceClients}: ${count(trivial64)}/s = ${percent(trivial64 / ceiling64)} of ceiling @64`
    + ` (no award can be faster than an empty request${trivial64 / ceiling64 < singleShareOfCeilingMin ? ': the single-award target is out of reach on this stack and machine' : ''})`);
  // The machine's cores are shared by the service, PostgreSQL and the load generator, so at full load
  // an award can cost at most cores / rate of CPU in all three together. An award does at least what
  // an empty GraphQL request does (HTTP, JWT, Apollo: service and load generator) and what one
  // single-row commit does in PostgreSQL: if those two alone exceed the budget, no award can meet it.
  const trivial = find('graphql-trivial', referenceClients);
  const ceilingRow = find('ceiling', 64);
  if (trivial?.cpu && ceilingRow?.cpu?.databaseMs != null && trivial.result.operations > 0 && ceilingRow.result.operations > 0) {
    const perOp = (cpuMs: number, row: Row) => (cpuMs * 1000) / row.result.operations;
    const service = perOp(trivial.cpu.selfMs, trivial);
    const load = perOp(trivial.result.loadCpuMs, trivial);
    const commit = perOp(ceilingRow.cpu.databaseMs, ceilingRow);
    const budget = (os.cpus().length * 1e6) / (singleShareOfCeilingMin * ceiling64);
    const floor = service + load + commit;
    console.log(`  CPU per award: ${percent(singleShareOfCeilingMin)} of the ceiling on ${os.cpus().length} CPUs leaves ${count(budget)} µs for everything an award costs;`
      + ` an empty GraphQL request (service ${count(service)} + load generator ${count(load)} µs) and one INSERT commit in PostgreSQL (${count(commit)} µs)`
      + ` already take ${count(floor)} µs: ${floor > budget ? 'out of reach on this machine, whatever an award does' : 'within reach in principle'}`);
  }
  printTargets(targets);
  printExpiry(rows);
}

/** Issue 16 §3: each expiry row's rate averaged over its rounds, on ÷ off. */
function printExpiry(rows: Row[]): void {
  const mean = (kind: LoadKind, expiry: 'off' | 'on') => {
    const mine = rows.filter((r) => r.kind === kind && r.scenario.startsWith(`expiry ${expiry}:`));
    return mine.length ? mine.reduce((sum, r) => sum + perSecond(r.result), 0) / mine.length : NaN;
  };
  const meanCpu = (kind: LoadKind, expiry: 'off' | 'on') => {
    const mine = rows.filter((r) => r.kind === kind && r.scenario.startsWith(`expiry ${expiry}:`) && r.cpu?.databaseMs != null && r.result.operations > 0);
    return mine.length ? mine.reduce((sum, r) => sum + ((r.cpu!.selfMs + r.cpu!.databaseMs!) * 1000) / r.result.operations, 0) / mine.length : NaN;
  };
  const lines = ([['award', 'awardPoints'], ['redeem-fulfil', 'redeem, then fulfil']] as const).map(([kind, name]) => {
    const off = mean(kind, 'off');
    const on = mean(kind, 'on');
    const ratio = on / off;
    // The machine's other load moves rates between rounds; the CPU the service and PostgreSQL spend per
    // operation (the sweeper's folding included: it runs in both) is steadier.
    const cpuOn = meanCpu(kind, 'on');
    const cpuOff = meanCpu(kind, 'off');
    return [{ target: `${name} @${expiryClients}: expiry on ÷ off ≥ ${percent(1 - expiryOnSlowdownMax)}`,
      measured: `${count(on)} / ${count(off)} = ${percent(ratio)}`,
      met: Number.isNaN(ratio) ? 'not measured' : ratio >= 1 - expiryOnSlowdownMax ? 'met' : 'NOT met' },
    { target: `${name} @${expiryClients}: CPU µs per operation (service + PostgreSQL), on ÷ off ≤ ${percent(1 + expiryOnSlowdownMax)}`,
      measured: `${count(cpuOn)} / ${count(cpuOff)} = ${percent(cpuOn / cpuOff)}`,
      met: Number.isNaN(cpuOn / cpuOff) ? 'not measured' : cpuOn / cpuOff <= 1 + expiryOnSlowdownMax ? 'met' : 'NOT met' }];
  }).flat();
  console.log(`\nPoint expiry (issue 16), as ratios within this run: mean of ${expiryRounds} alternating rounds each, expiry off (no policy: nothing`
    + ` runs but one query per sweep) and on (MONTHS_AFTER_EARNING ${benchExpiryMonths}, the expiry sweeper folding lots every SWEEP_INTERVAL_MS)`);
  printTargets(lines, 'Targets (issue 16 §3)');
}

/** Turns the bench head bank's POINTS expiry on or off, as setExpiryPolicy would. */
async function setBenchExpiry(bank: Bank, headId: string, on: boolean): Promise<void> {
  const row = { kind: on ? 'MONTHS_AFTER_EARNING' : 'OFF', months: on ? benchExpiryMonths : null, changed_by: 'bench', changed_at: new Date() };
  await bank.knex('expiry_policies').insert({ head_id: headId, asset_code: 'POINTS', ...row }).onConflict(['head_id', 'asset_code']).merge(Object.keys(row));
}

let interrupted = false;

/** Runs every scenario and prints the report; returns how many requests or awards failed. */
async function main(): Promise<number> {
  // BENCH_SECONDS, BENCH_PG_* and the bench's defaults are the benchmark's own knobs, read here; the service's settings come from loadConfig.
  const secondsRaw = process.env.BENCH_SECONDS ?? String(secondsDefault);
  const seconds = Number(secondsRaw);
  if (!/^\d+$/.test(secondsRaw) || seconds < 1 || seconds > secondsMax) throw new Error(`BENCH_SECONDS must be a whole number from 1 to ${secondsMax}, got "${secondsRaw}"`);
  // BENCH_KIOSK_TOKENS: how many client tokens (subjects) the award clients share, round robin: by
  // default each client its own (64 kiosks); 1 is one integration server calling for every kiosk,
  // whose concurrent single awards can be coalesced (awards of one subject share a call).
  const kioskTokensRaw = process.env.BENCH_KIOSK_TOKENS ?? String(Math.max(...clientCounts));
  const kioskTokens = Number(kioskTokensRaw);
  if (!/^\d+$/.test(kioskTokensRaw) || kioskTokens < 1 || kioskTokens > Math.max(...clientCounts)) {
    throw new Error(`BENCH_KIOSK_TOKENS must be a whole number from 1 to ${Math.max(...clientCounts)}, got "${kioskTokensRaw}"`);
  }
  const config = loadConfig({
    ...process.env, PG_DATA_DIR: process.env.BENCH_PG_DATA_DIR || benchDataDirDefault, PG_PORT: process.env.BENCH_PG_PORT || benchPortDefault,
    DB_POOL_SIZE: process.env.DB_POOL_SIZE || String(benchPoolSizeDefault), SEED_DEMO: 'false',
    // the benchmark drives thousands of requests a second from a few tokens: it measures throughput, not abuse limits
    RATE_LIMIT_REQUESTS: process.env.RATE_LIMIT_REQUESTS || '0',
  });

  // BENCH_WORKERS=N runs the service as WORKERS=N does (N processes of src/main.ts); unset, in this process.
  const workersRaw = process.env.BENCH_WORKERS;
  if (workersRaw !== undefined && (!/^\d+$/.test(workersRaw) || Number(workersRaw) < 1 || Number(workersRaw) > workersMax)) {
    throw new Error(`BENCH_WORKERS must be a whole number from 1 to ${workersMax}, got "${workersRaw}"`);
  }
  const workerCount = workersRaw === undefined ? null : Number(workersRaw);
  // The machine's own PostgreSQL is as good a place as any: the database of DATABASE_URL is made when missing.
  if (config.databaseUrl && await createDatabaseOfUrl(config.databaseUrl)) log('created the database of DATABASE_URL');
  const service = await startService(config, await lockDatabaseServer(config), workerCount);
  const generator = startLoadGenerator();
  process.once('SIGINT', () => {
    interrupted = true;
    log('SIGINT: stopping');
    generator.stop();
  });
  try {
    const { bank } = service;
    const setupStart = performance.now();
    const fixture = await setUpBank(bank);
    log(`set up ${branchCount} branches, ${branchCount * membersPerBranch} members in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
    const { rows: [backend] } = await bank.pool.query('SELECT pg_backend_pid() AS pid');
    const postmaster = postmasterOf(Number(backend.pid));
    const { rows: [settings] } = await bank.pool.query<Settings>(
      `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync`);
    const describe = `Civility Bank bench, started ${utcNow()} UTC: PostgreSQL ${settings!.version} (${service.server.embedded ? 'embedded' : 'DATABASE_URL'}), `
      + `fsync=${settings!.fsync}, synchronous_commit=${settings!.sync}, `
      + `${workerCount === null ? `service in the bench process, pool ${config.dbPoolSize}` : `${workerCount} workers, pool ${workerPoolSize({ dbPoolSize: config.dbPoolSize, workers: workerCount })} each`}, ${os.cpus().length} CPUs, Node ${process.version}, `
      + `${seconds} s per scenario after ${warmupMs / 1000} s warm-up, ${kioskTokens} kiosk token(s), award coalescing ${config.awardCoalescing ? 'on' : 'off'}`;
    const tokens = Array.from({ length: kioskTokens }, (_, c) =>
      signToken(config, { sub: `bench-kiosk-${c}`, role: 'client', branch: fixture.head.code, rules: '*' }));
    const scope: AwardScope = { headId: fixture.head.id, sub: 'bench-sql', role: 'client', scopePath: fixture.head.path, timeZone: fixture.head.timeZone };
    const memberTokens = fixture.redeemers.map((id) => signToken(config, { sub: `bench-member-${id}`, role: 'member', branch: fixture.head.code, member: id }));
    const merchantToken = signToken(config, { sub: 'bench-till', role: 'merchant', branch: fixture.head.code, merchant: fixture.merchantId });
    const base = {
      warmupMs, measureMs: seconds * 1000, serviceUrl: service.url, databaseUrl: service.server.url, poolSize: config.dbPoolSize, tokens, scope,
      memberTokens, merchantToken, itemId: fixture.itemId,
    };
    // BENCH_ONLY=award,batch-replay runs only scenarios of those kinds (a profile of one path, a quick re-measure).
    const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((k) => k.trim())) : null;
    // BENCH_ONLY=expiry runs the expiry rows alone (they are not included by their kinds).
    const plan = planScenarios(fixture).filter((step) => !only || (step.expiry ? only.has('expiry') : only.has(step.kind)));
    if (plan.length === 0) throw new Error(`BENCH_ONLY names no scenario kind; kinds are ${[...new Set(planScenarios(fixture).map((step) => step.kind))].join(', ')}, expiry`);
    log(`${plan.length} scenarios of ${warmupMs / 1000} s warm-up + ${seconds} s measured each: about ${Math.ceil((plan.length * (warmupMs / 1000 + seconds) + serviceWarmupMs / 1000) / 60)} min`);

    const rows: Row[] = [];
    let errors = 0;
    // The expiry sweeper of the "on" steps, in this process (with BENCH_WORKERS each worker runs its own, as the service does).
    let stopExpiry: (() => Promise<void>) | null = null;
    for (const [i, step] of plan.entries()) {
      if (interrupted) throw new Error('interrupted');
      if (step.expiry) {
        await setBenchExpiry(bank, fixture.head.id, step.expiry === 'on');
        if (step.expiry === 'on' && !stopExpiry) {
          // Turning a policy on folds the whole history once (every earlier scenario's awards): done
          // here, unmeasured, so that the "on" rows show the steady cost of folding what comes in.
          for (let pass = 0; pass < catchUpPassesMax && (await sweepPointExpiry(bank)).wallets > 0; pass++);
          if (workerCount === null) stopExpiry = startExpirySweeper(bank, config.sweepIntervalMs, log);
        }
        if (step.expiry === 'off' && stopExpiry) {
          await stopExpiry();
          stopExpiry = null;
        }
      }
      const measureMs = step.expiry === 'on' ? Math.max(seconds * 1000, expirySweepsPerWindow * config.sweepIntervalMs) : seconds * 1000;
      if (step.kind === 'award' && !rows.some((r) => r.kind === 'award')) {
        const warm = await generator.run({ ...base, kind: 'award', clients: Math.max(...clientCounts), members: fixture.spread, keyPrefix: 'bench-warm', warmupMs: serviceWarmupMs, measureMs: 0 });
        if (warm.errors) log(`service warm-up: ${warm.errors} errors (first: ${warm.firstError})`);
        errors += warm.errors;
      }
      const { result, cpu } = await runMeasured(generator, { ...base, measureMs, kind: step.kind, clients: step.clients, members: step.members, keyPrefix: `bench-s${i}` }, postmaster, service.workerPids);
      rows.push({ scenario: step.scenario, kind: step.kind, clients: step.clients, result, cpu });
      if (step.expiry === 'on') {
        // that the sweeper folded lots inside the window: what the "on" rows pay for
        const { rows: [folded] } = await bank.pool.query('SELECT count(*)::int AS moves, count(DISTINCT account_id)::int AS wallets FROM wallet_lot_moves WHERE head_id = $1', [fixture.head.id]);
        log(`expiry on: ${folded.moves} lot moves folded so far, over ${folded.wallets} wallets`);
      }
      errors += result.errors;
      log(`${step.scenario} @${step.clients}: ${count(perSecond(result))}/s, p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms, `
        + `errors ${result.errors}${result.firstError ? ` (first: ${result.firstError})` : ''}`);
    }
    await stopExpiry?.();
    printReport(rows, describe);
    if (errors > 0) console.log(`\n${errors} requests or awards failed; the first of each scenario is in the log above`);
    if (service.logSuppressed() > 0) log(`${service.logSuppressed()} further service log lines were not printed`);
    return errors;
  } finally {
    generator.stop();
    await service.stop();
  }
}

if (process.argv[2] === loadGeneratorFlag) {
  serveLoads();
} else {
  // Exit 0 whether or not the targets are met (this is a measurement); 1 when requests failed or the run broke.
  main().then(
    (errors) => process.exit(errors > 0 ? 1 : 0),
    (error) => {
      log(interrupted ? 'interrupted' : `failed: ${error?.stack ?? error}`);
      process.exit(interrupted ? 130 : 1);
    },
  );
}
