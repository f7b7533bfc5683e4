// A short run of the fault harness (npm run chaos) inside npm test: services killed, PostgreSQL
// crashed and restarted, clients hanging up mid-request, and afterwards every acknowledged write
// exactly once, no duplicate, invariants and the digest chain intact, and every committed transaction
// in the event feed once in chain order, and on NATS JetStream after dedup; selections opened,
// nominated, published, objected to, withdrawn, and their winners paid once when the bank's midnight
// (the services' clock runs ahead, CLOCK_OFFSET_MS) ends their notice period; households upserted
// with moves between them, household awards and spends from household wallets (the NATS these machines
// run on 127.0.0.1:4222; CHAOS_TEST_NATS_URL= empty leaves NATS out). It uses its own embedded
// PostgreSQL (CHAOS_TEST_PG_PORT, default 54349) because it restarts it.
import { execFile } from 'node:child_process';
import { expect, it } from 'vitest';
import { projectRoot } from '../../src/config.js';

/** Seconds of faults: long enough for several of each kind, short enough for the suite. */
const chaosSeconds = 20;

it('loses nothing acknowledged and doubles nothing while services and PostgreSQL are killed under load', async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env, CHAOS_SECONDS: String(chaosSeconds), CHAOS_CLIENTS: '16', CHAOS_FAULT_INTERVAL_MS: '2500',
    CHAOS_PG_PORT: process.env.CHAOS_TEST_PG_PORT ?? '54349', CHAOS_PG_DATA_DIR: '.data/pg-chaos-test',
    NATS_URL: process.env.CHAOS_TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
  };
  delete env.DATABASE_URL; // it restarts its database: never the one the other test files share
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/chaos.ts'], { cwd: projectRoot, env, maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: out, stderr: err }));
  });
  const summary = stdout.split('\n').find((l) => l.startsWith('chaos:')) ?? `no summary; stderr: ${stderr.slice(-2000)}`;
  console.log(summary);
  const events = stdout.split('\n').find((l) => l.startsWith('events:')) ?? 'no events line';
  console.log(events);
  expect(events).toMatch(/^events: feed: \d+ events, (\d+) transaction events for \1 sealed transactions, each once in chain order/);
  if (env.NATS_URL) expect(events).toMatch(/NATS: \d+ messages received \(\d+ duplicates stored, dropped by the consumer's dedup\), \d+ distinct = every event, in feed order/);
  const selections = stdout.split('\n').find((l) => l.startsWith('selections:')) ?? 'no selections line';
  console.log(selections);
  expect(summary, stdout + stderr.slice(-2000)).toMatch(/violations 0$/);
  // selections were opened, nominated and published, objected to and resolved, and paid at their period's end
  expect(Number(/^selections: (\d+) selections/.exec(selections)?.[1]), selections).toBeGreaterThan(0);
  // the selections seeded on notice, with periods ending 10-50% into the run: every one awarded by the services
  expect(selections).toMatch(/\((\d+) of the \1 seeded at set-up awarded;/);
  const kinds = stdout.split('\n').find((l) => l.startsWith('acknowledged keys by kind:')) ?? '';
  for (const kind of ['openSelection', 'nominate', 'publishSelection', 'upsertHousehold', 'householdAward']) expect(kinds).toContain(` ${kind} `);
  // households were made and moved between, and their wallets earned
  const households = stdout.split('\n').find((l) => l.startsWith('households:')) ?? 'no households line';
  console.log(households);
  expect(Number(/^households: (\d+) households/.exec(households)?.[1]), households).toBeGreaterThan(0);
  expect(Number(/, (\d+) household awards/.exec(households)?.[1]), households).toBeGreaterThan(0);
  expect(code).toBe(0);
  const faults = /faults (\d+) \(service SIGKILL (\d+), PostgreSQL \w+ (\d+)/.exec(summary);
  expect(Number(faults?.[2]), 'services killed').toBeGreaterThan(0);
  expect(Number(faults?.[3]), 'PostgreSQL restarts').toBeGreaterThan(0);
  expect(Number(/acknowledged (\d+)/.exec(summary)?.[1])).toBeGreaterThan(100);
}, 180_000);
