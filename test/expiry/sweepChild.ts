// A process for the crash test (crash.test.ts), started with tsx, killed with SIGKILL:
//   sweep <databaseUrl> <atIso> <pauseMs>: runs the real point expiry sweeper once, pausing after each
//     of its transactions (a hundred wallets each) (so the kill lands in the middle of the pass), then exits 0;
//   hang <databaseUrl> <atIso> <headId> <accountId>: expires one wallet's lots in a transaction it
//     never commits (a sweeper killed before its COMMIT), printing "expired N" and waiting.
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { sweepPointExpiry } from '../../src/expiry/sweeper.js';

const [mode, url, at, ...rest] = process.argv.slice(2);
if (mode === 'hang') {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  const { rows } = await client.query('SELECT cb_expire_wallet_lots($1, $2, $3) AS n', [rest[0], rest[1], at]);
  console.log(`expired ${rows[0].n}`);
  setInterval(() => undefined, 1_000);
} else {
  const bank = await openBank(loadConfig({ ...process.env, SEED_DEMO: 'false' }), url!, undefined, 0);
  const query = bank.pool.query.bind(bank.pool) as (...args: any[]) => Promise<any>;
  (bank.pool as any).query = async (...args: any[]) => {
    const result = await query(...args);
    if (args[0]?.name === 'cb_expire_wallets' || args[0]?.name === 'cb_expire_wallet_lots') await new Promise((r) => setTimeout(r, Number(rest[0])));
    return result;
  };
  const sweep = await sweepPointExpiry(bank, new Date(at!));
  console.log(`swept ${sweep.wallets} wallets, expired ${sweep.expired}`);
  await bank.close();
}
