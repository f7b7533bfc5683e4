// npm run sweep: one pass of the voucher expiry sweeper and the point expiry sweeper against the service's database (embedded,
// or DATABASE_URL), for operators and cron; the service runs the same pass every SWEEP_INTERVAL_MS.
// A database without the schema is one line saying to migrate first, not a stack trace.
import { loadConfig } from '../config.js';
import { expireRedemptions } from '../redemption/sweeper.js';
import { sweepPointExpiry } from '../expiry/sweeper.js';
import { connectForCli, openCheckedBank, runCli } from './cliDatabase.js';

await runCli('sweep', async () => {
  const config = loadConfig();
  const server = await connectForCli(config, 'civility_bank', (line) => console.error(`[sweep] ${line}`), true);
  try {
    const bank = await openCheckedBank(config, server.url, 'the database');
    try {
      console.log(`released ${await expireRedemptions(bank)} expired voucher(s)`);
      const points = await sweepPointExpiry(bank);
      console.log(`expired ${points.expired} lot(s) of points in ${points.wallets} wallet(s)`);
    } finally {
      await bank.close();
    }
  } finally {
    await server.stop();
  }
});
