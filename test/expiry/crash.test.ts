// Expiry under several processes and crashes: a sweeper is SIGKILLed inside a wallet's transaction
// before its commit, then two sweeper processes run the same pass while one is SIGKILLed in the middle
// of it; then the sweeper runs again. Every due lot expires exactly once (one EXPIRE transaction, one move,
// round 1), nothing is lost (every due wallet ends at what its undue lots hold), and the invariants hold.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot } from '../../src/config.js';
import { startHarness, type Harness } from '../support/harness.js';
import { sweepPointExpiry } from '../../src/expiry/sweeper.js';
import { findLotMismatches } from '../../src/expiry/lots.js';
import { journalOf, setPolicy, type Journal } from './journal.js';
import { scratchDatabase } from '../support/scratchDatabase.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/config.js';

// A database of its own: the sweepers killed here and the end-of-file checks (which fold and seal the
// whole database) never wait on other test files' writers, which under a full run held them past the
// hook's two minutes.
const database = scratchDatabase('civility_expiry_crash');

let h: Harness;
let j: Journal;

beforeAll(async () => {
  await database.create();
  const db = openDatabase(database.url, 2);
  try {
    await migrateToLatest(db.knex, loadConfig(process.env).partitionMonthsAhead);
  } finally {
    await db.close();
  }
  h = await startHarness({ databaseUrl: database.url });
  j = journalOf(h.bank, h.head.id, h.branches[0]!.id, h.tag);
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

/** Three of the sweeper's transactions (walletsPerTransaction): the kill lands inside or between them. */
const wallets = 250;

function child(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'test/expiry/sweepChild.ts'), ...args],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
}

const exited = (c: ChildProcess) => new Promise<number | null>((resolve) =>
  (c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))));

it('expires every due lot exactly once when sweepers are killed mid-sweep and run again', async () => {
  await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 1 });
  const members: string[] = [];
  for (let i = 0; i < wallets; i++) {
    const m = await h.addMember(`${h.tag}-c${i}`);
    members.push(m);
    await j.earn(m, '3.00', new Date('2025-01-10T04:00:00Z')); // due from 1 March 2025
    await j.earn(m, '2.00', new Date('2025-02-10T04:00:00Z')); // due from 1 April 2025
    await j.earn(m, '1.00', new Date('2025-05-10T04:00:00Z')); // not due
  }
  const at = '2025-04-15T00:00:00Z';
  const url = database.url;
  const expireMoves = async () => Number((await h.bank.knex('wallet_lot_moves').where({ head_id: h.head.id, kind: 'EXPIRE' }).count({ n: '*' }))[0]!.n);

  // One killed inside a wallet's transaction, after its work and before its commit (killed at once:
  // while it lives, the sweepers' windows wait on the row its fold deleted).
  const hang = child(['hang', url, at, h.head.id, await j.wallet(members.at(-1)!)]);
  const hung = await new Promise<string>((resolve) => hang.stdout!.once('data', (d) => resolve(String(d))));
  expect(hung).toMatch(/^expired 2/);
  hang.kill('SIGKILL');
  await exited(hang);
  expect(await expireMoves(), 'the killed transaction left nothing').toBe(0);
  const first = child(['sweep', url, at, '200']);
  const second = child(['sweep', url, at, '200']);
  const started = Date.now();
  while (await expireMoves() < 40) {
    expect(Date.now() - started, 'the sweepers expire something within a minute').toBeLessThan(60_000);
    await new Promise((r) => setTimeout(r, 20));
  }
  first.kill('SIGKILL');
  const doneAtKill = await expireMoves();
  expect(doneAtKill, 'the kill landed in the middle of the pass').toBeLessThan(wallets * 2);
  expect(await exited(first)).toBeNull();
  expect(await exited(second), 'the surviving sweeper finishes its pass').toBe(0);

  // And again, in this process: whatever is left is expired, nothing twice.
  await sweepPointExpiry(h.bank, new Date(at));
  await sweepPointExpiry(h.bank, new Date(at));
  const { rows: perLot } = await h.bank.knex.raw(`SELECT l.id, count(m.id)::int AS expiries, max(m.expire_round) AS round
      FROM wallet_lots l LEFT JOIN wallet_lot_moves m ON m.head_id = l.head_id AND m.lot_id = l.id AND m.kind = 'EXPIRE'
     WHERE l.head_id = ? GROUP BY l.id, l.earned_at HAVING l.earned_at < '2025-03-01' OR count(m.id) > 0`, [h.head.id]);
  expect(perLot).toHaveLength(wallets * 2);
  expect(perLot.filter((r: any) => r.expiries !== 1 || r.round !== 1)).toEqual([]);
  expect(await h.transactionCount({ kind: 'EXPIRE' })).toBe(wallets * 2);
  const keys = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id, subject: 'expiry-sweeper' }).count({ n: '*' });
  expect(Number(keys[0]!.n)).toBe(wallets * 2);
  for (const m of members) expect(await h.walletBalance(m)).toBe('1.00');
  expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
}, 120_000);
