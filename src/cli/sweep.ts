// npm run sweep: one pass of the voucher expiry sweeper against the service's database (embedded,
// or DATABASE_URL), for operators and cron; the service runs the same pass every SWEEP_INTERVAL_MS.
import { loadConfig } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openBank } from '../bank.js';
import { expireRedemptions } from '../redemption/sweeper.js';

const config = loadConfig();
const server = await connectDatabaseServer(config, 'civility_bank', false, (line) => console.error(`[sweep] ${line}`));
const bank = await openBank(config, server.url);
try {
  console.log(`released ${await expireRedemptions(bank)} expired voucher(s)`);
} finally {
  await bank.close();
  await server.stop();
}
