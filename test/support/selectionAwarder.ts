// One awarding process of test/selections/awarding.test.ts: its own pool against the test database,
// one awarding round (src/selections/awarding.ts) for one head bank at a given instant. It says
// "ready" once connected and starts on "go" from stdin, so that two of them run their rounds at once;
// with CB_PAUSE_AFTER=n it stops after paying its n-th winner and waits there to be killed.
import readline from 'node:readline';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { awardDueSelections } from '../../src/selections/awarding.js';

const config = loadConfig({ ...process.env, SEED_DEMO: 'false', DB_POOL_SIZE: '2' });
const bank = await openBank(config, process.env.CB_TEST_DATABASE_URL!);
await bank.knex.raw('SELECT 1');
const pauseAfter = Number(process.env.CB_PAUSE_AFTER ?? 0);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => readline.createInterface({ input: process.stdin }).once('line', () => resolve()));
let paid = 0;
const round = await awardDueSelections(bank, new Date(process.env.CB_AWARD_AT!), {
  afterCandidate: async (candidate) => {
    paid++;
    if (paid !== pauseAfter) return;
    process.stdout.write(`paused after candidate ${candidate}\n`);
    setInterval(() => undefined, 60_000);
    await new Promise(() => undefined);
  },
}, process.env.CB_HEAD_ID!);
process.stdout.write(`${JSON.stringify(round)}\n`);
await bank.close();
process.exit(0);
