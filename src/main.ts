// Start: config → database (embedded or DATABASE_URL) → migrations → demo seed on first start →
// HTTP, with the delta settler, the journal sealer and the voucher expiry sweeper running.
// SIGINT/SIGTERM stop the HTTP server, the background tasks, the pool and the embedded database, in that order.
// Everything the process reports goes through one pino logger (src/logger.ts); the banners a person
// starting it reads (URLs, the demo token and sign-ins) are printed as they were, outside the log.
import { loadConfig } from './config.js';
import { connectDatabaseServer } from './db/connect.js';
import { openDatabase } from './db/database.js';
import { describeAppliedDefinitions, migrateToLatest } from './db/migrate.js';
import { openBank } from './bank.js';
import { buildApp } from './http/app.js';
import { buildPages } from './http/pages.js';
import { startSettler } from './ledger/settle.js';
import { startSweeper } from './redemption/sweeper.js';
import { startSealer } from './ledger/seal.js';
import { seedDemoBank, ensureDemoVoucher, demoHeadCode, demoOperators } from '../seeds/demo.js';
import { signToken } from './auth/tokens.js';
import { createLogger, lineLog, type Logger } from './logger.js';
import { createServiceMetrics } from './http/metrics.js';

/** Until the configuration is read (and if reading it fails): the defaults of LOG_LEVEL and LOG_FORMAT. */
let logger: Logger = createLogger({ log: { level: 'info', format: process.stdout.isTTY ? 'pretty' : 'json' } });

async function main(): Promise<void> {
  const config = loadConfig();
  logger = createLogger(config);
  const log = lineLog(logger);
  const server = await connectDatabaseServer(config, 'civility_bank', false, log);
  log(`database: ${server.embedded ? `embedded PostgreSQL on 127.0.0.1:${config.embeddedPort} (data in ${config.embeddedDataDir})` : 'DATABASE_URL'}`);
  const migrator = openDatabase(server.url, 2);
  try {
    const applied = await migrateToLatest(migrator.knex, config.partitionMonthsAhead,
      { onDefinitionsApplied: (names) => log(describeAppliedDefinitions(names)) });
    if (applied.length) log(`migrated: ${applied.join(', ')}`);
  } finally {
    await migrator.close();
  }
  const bank = await openBank(config, server.url);
  let demoVoucher: string | null = null;
  if (config.seedDemo) {
    const seeded = await seedDemoBank(bank);
    if (seeded) log('seeded the demo bank');
    // A voucher for the counter page to fulfil (a fresh one once the last is used or expired).
    if (!config.production) demoVoucher = await ensureDemoVoucher(bank);
  }
  const taskLog = (task: string) => lineLog(logger.child({ task }));
  const stopSettler = startSettler(bank, config.settleIntervalMs, taskLog('settler'));
  const stopSweeper = startSweeper(bank, config.sweepIntervalMs, taskLog('sweeper'));
  const stopSealer = startSealer(bank, config.sealIntervalMs, taskLog('sealer'));
  // With several processes under node:cluster (one app each), the primary calls
  // serveClusterMetrics() (src/http/metrics.ts) before forking, so that /metrics shows them all.
  const metrics = createServiceMetrics(bank, log, { processMetrics: true });
  const built = await buildApp(bank, log, undefined, { logger, metrics });
  const http = built.app.listen(config.port, config.host, () => {
    // The pages are bundled once per process; doing it now, beside serving the API, makes the first
    // visit as fast as the rest without holding up the start.
    buildPages().then((pages) => log(`pages built in ${pages.buildMs} ms`), (error) => log(`pages failed to build: ${error?.stack ?? error}`, 'error'));
    log(`Civility Bank GraphQL: http://${config.host}:${config.port}/graphql`);
    if (config.printDemoToken) {
      const demoAdmin = signToken(config, { sub: 'demo-admin', role: 'admin', branch: demoHeadCode });
      console.log(`Demo admin token (24 h; npm run token mints others):\n${demoAdmin}`);
    }
    if (config.seedDemo && !config.production) {
      const base = `http://${config.host}:${config.port}`;
      console.log(`Pages: ${base}/  (console ${base}/console, shop counter ${base}/counter, notice board ${base}/board/${demoHeadCode}, explorer ${base}/explorer)`);
      console.log(`Demo sign-in: admin ${demoOperators.admin.username} / ${demoOperators.admin.password}; `
        + `shop assistant ${demoOperators.shop.username} / ${demoOperators.shop.password}`);
      if (demoVoucher) console.log(`Demo voucher waiting at the counter: ${demoVoucher}`);
    }
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    http.close();
    http.closeAllConnections();
    await built.stop();
    await Promise.all([stopSettler(), stopSealer(), stopSweeper()]);
    await bank.close();
    await server.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
