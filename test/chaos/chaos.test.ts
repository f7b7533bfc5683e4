// A short run of the fault harness (npm run chaos) inside npm test: services killed, PostgreSQL
// crashed and restarted, clients hanging up mid-request, and afterwards every acknowledged write
// exactly once, no duplicate, invariants and the digest chain intact, and every committed transaction
// in the event feed once in chain order, every selection due mid-run awarded once per winner, and on NATS JetStream after dedup (the NATS these machines
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
  // selections on notice whose periods end mid-run: every one awarded by the services, each winner once
  const selections = stdout.split('\n').find((l) => l.startsWith('selections:')) ?? 'no selections line';
  expect(selections).toMatch(/^selections: 4 of 4 selections awarded, (\d+) winners paid \(\1 payments recorded\)$/);
  expect(summary, stdout + stderr.slice(-2000)).toMatch(/violations 0$/);
  expect(code).toBe(0);
  const faults = /faults (\d+) \(service SIGKILL (\d+), PostgreSQL \w+ (\d+)/.exec(summary);
  expect(Number(faults?.[2]), 'services killed').toBeGreaterThan(0);
  expect(Number(faults?.[3]), 'PostgreSQL restarts').toBeGreaterThan(0);
  expect(Number(/acknowledged (\d+)/.exec(summary)?.[1])).toBeGreaterThan(100);
}, 180_000);
