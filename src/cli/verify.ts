// npm run verify [-- --head CODE] [--sequence N --digest HEX] [--since N:HEX] [--database NAME]:
// recomputes the books of every head bank (or one) from the journal — balances, held amounts, trial
// balance, the digest chain — and optionally checks a digest published earlier, or recomputes the
// chain only from a checkpoint verified before (--since). Reads only. --database names the
// embedded cluster's database (default civility_bank, npm start's; npm run chaos leaves
// civility_chaos). Exit code 0 only when everything holds; 2 (with one line saying what to do) when
// the database is not there or not migrated.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import type { Bank } from '../bank.js';
import { checkDigest, verifyHeadBank, type PublishedDigest } from '../ledger/verify.js';
import { connectForCli, openCheckedBank, runCli } from './cliDatabase.js';

const { values } = parseArgs({
  options: { head: { type: 'string' }, sequence: { type: 'string' }, digest: { type: 'string' }, database: { type: 'string', default: 'civility_bank' }, since: { type: 'string' } },
});
if ((values.sequence === undefined) !== (values.digest === undefined)) {
  console.error('verify: give --sequence and --digest together (both from ledgerDigest)');
  process.exit(2);
}
const published: PublishedDigest | undefined = values.sequence ? { sequence: values.sequence, digest: values.digest! } : undefined;
const [sinceSequence, sinceDigest] = (values.since ?? '').split(':');
const since: PublishedDigest | undefined = values.since ? { sequence: sinceSequence!, digest: sinceDigest ?? '' } : undefined;

await runCli('verify', async () => {
  const config = loadConfig();
  const server = await connectForCli(config, values.database!, (l) => console.error(l), true);
  try {
    // offline: the whole books may take longer than a request's time budget (statement_timeout 0)
    const bank = await openCheckedBank(config, server.url, `the database ${values.database}`, 0);
    try {
      return await verifyHeadBanks(bank);
    } finally {
      await bank.close();
    }
  } finally {
    await server.stop();
  }
});

/** Verifies every head bank (or --head's); 0 when everything holds, 1 otherwise. */
async function verifyHeadBanks(bank: Bank): Promise<number> {
  let failed = false;
  try {
    const heads = await bank.knex('branches').whereNull('parent_id').modify((q) => { if (values.head) q.where({ code: values.head }); })
      .orderBy('id').select('id', 'code');
    if (!heads.length) throw new Error(values.head ? `no head bank with code ${values.head}` : 'no head banks');
    for (const head of heads) {
      const started = performance.now();
      const report = await verifyHeadBank(bank, String(head.id), checkDigest('--sequence/--digest', published), checkDigest('--since', since));
      const ms = Math.round(performance.now() - started);
      console.log(`${report.ok ? 'OK  ' : 'FAIL'} ${head.code}: chain ${report.sequence} sealed (${report.transactionsSealed} recomputed, ${report.transactionsQueued} queued), digest ${report.digest}, `
        + `${report.accountsChecked} accounts, trial balance ${report.trialBalance.map((l) => `${l.asset} ${l.total}`).join(', ') || 'empty'} (${ms} ms)`);
      for (const p of report.problems) {
        console.log(`     ${p.check}: ${p.message}${p.transactionId ? ` [transaction ${p.transactionId}]` : ''}${p.accountId ? ` [account ${p.accountId}]` : ''}`);
      }
      if (report.problemCount > report.problems.length) console.log(`     … ${report.problemCount - report.problems.length} more problems`);
      failed ||= !report.ok;
    }
  } catch (error) {
    console.error(`verify: ${(error as Error).message}`);
    failed = true;
  }
  return failed ? 1 : 0;
}
