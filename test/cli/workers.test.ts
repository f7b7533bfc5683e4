// WORKERS=2 as an operator runs it (npm start's entry, src/main.ts, in a process of its own): two
// worker processes answer on one port, a worker that dies is restarted while the other keeps
// answering, awards served by both settle and seal into one consistent ledger, and SIGTERM to the
// primary leaves no process behind: no worker, and no embedded PostgreSQL when it started one.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config.js';
import { workerStopTimeoutMs } from '../../src/workers.js';
import { verifyHeadBank } from '../../src/ledger/verify.js';
import { startHarness, type Harness } from '../support/harness.js';

/** The primary, started from src/main.ts; its log lines are collected as they come. */
interface Primary {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first line of stdout or stderr matching pattern (lines already seen count). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function startPrimary(env: Record<string, string>): Primary {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts')], {
    cwd: projectRoot, env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiting = new Set<() => void>();
  const collect = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      into.push(...lines);
      for (const wake of waiting) wake();
    };
  };
  child.stdout!.on('data', collect(stdout));
  child.stderr!.on('data', collect(stderr));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const wake of waiting) wake(); resolve(code); }));
  return {
    child, stdout, stderr, exited,
    waitFor(pattern, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of [...stdout, ...stderr]) {
            const match = line.match(pattern);
            if (match) { done(); resolve(match); return; }
          }
          if (child.exitCode !== null) { done(); reject(new Error(`the service exited (${child.exitCode}) before ${pattern}:\n${[...stdout, ...stderr].join('\n')}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`no ${pattern} in ${timeoutMs} ms:\n${[...stdout, ...stderr].join('\n')}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiting.delete(check); };
        waiting.add(check);
        check();
      });
    },
  };
}

/** Every line the primary printed: its log lines go to stdout (pino), anything else to either stream. */
function printed(primary: Primary): string[] {
  return [...primary.stdout, ...primary.stderr];
}

/** Worker pids the primary reported listening, in order. */
function listeningPids(primary: Primary): number[] {
  return printed(primary).flatMap((line) => { const m = line.match(/worker \d+ \(pid (\d+)\) listening/); return m ? [Number(m[1])] : []; });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** CPU ms (user + system) a process has used, from /proc. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * An answer takes well under a second. A connection the primary handed to a worker in the moment it
 * was killed is lost with it (node:cluster neither closes nor re-routes it): a client gives up on it
 * after this and retries with the same idempotency key, as a kiosk does.
 */
const requestTimeoutMs = 5_000;
const attemptsMax = 3;

/** One GraphQL request on a connection of its own (so that the primary hands each to a worker afresh). */
function post(port: number, token: string | null, query: string, variables?: object): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/graphql', method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.setTimeout(requestTimeoutMs, () => req.destroy(new Error(`no answer in ${requestTimeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function stopPrimary(primary: Primary): Promise<number | null> {
  primary.child.kill('SIGTERM');
  return primary.exited;
}

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transaction { id } } }`;

describe('WORKERS=2 against DATABASE_URL', () => {
  let h: Harness;
  let primary: Primary;
  let port: number;
  const externalIds: string[] = [];
  let awarded = 0;

  /** Awards count awards of volunteer.hour over members (at most 12 a member a day: its cap), concurrency at a time. */
  async function awardMany(count: number, concurrency = 8): Promise<void> {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const input = { idempotencyKey: h.key(), externalId: externalIds[i % externalIds.length], rule: 'volunteer.hour' };
        let res: Awaited<ReturnType<typeof post>> | undefined;
        for (let attempt = 1; !res; attempt++) {
          try {
            res = await post(port, h.clientToken, award, { input });
          } catch (error) {
            if (attempt >= attemptsMax) throw error;
          }
        }
        expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
        expect(res.body.data.awardPoints.transaction.id).toBeTruthy();
        awarded++;
      }
    }));
  }

  beforeAll(async () => {
    h = await startHarness();
    for (let m = 0; m < 40; m++) {
      const externalId = `${h.tag}-w${m}`;
      await h.addMember(externalId, h.branches[m % 2]!);
      externalIds.push(externalId);
    }
    primary = startPrimary({ DATABASE_URL: inject('databaseUrl'), WORKERS: '2', DB_POOL_SIZE: '8', SETTLE_INTERVAL_MS: '100', SEAL_INTERVAL_MS: '100' });
    port = Number((await primary.waitFor(/GraphQL: http:\/\/127\.0\.0\.1:(\d+)\/graphql/))[1]);
    // The banner comes with the first worker listening; the primary's line for the second may follow.
    for (const startedAt = Date.now(); listeningPids(primary).length < 2;) {
      if (Date.now() - startedAt > 60_000) throw new Error(`the second worker never reported listening:\n${printed(primary).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    if (primary?.child.exitCode === null) await stopPrimary(primary);
    await h?.close();
  });

  it('two worker processes answer on one port, each with its share of the pool', async () => {
    const workers = listeningPids(primary);
    expect(workers).toHaveLength(2);
    expect(new Set([...workers, primary.child.pid]).size).toBe(3);
    expect(printed(primary).join('\n')).toMatch(/2 workers, a pool of 4 connections each \(DB_POOL_SIZE 8 shared\)/);
    const before = workers.map(cpuMs);
    await awardMany(160);
    // Each connection goes to the next worker in turn: both did a real share of the work (a worker
    // at rest spends a few ms a second on its settle and seal rounds; 160 awards cost far more).
    const used = workers.map((pid, i) => cpuMs(pid) - before[i]!);
    for (const ms of used) expect(ms, `CPU ms of each worker: ${used.join(', ')}`).toBeGreaterThan(100);
  });

  it('a worker that dies is restarted, and the other answers meanwhile', async () => {
    const [first, second] = listeningPids(primary) as [number, number];
    process.kill(first, 'SIGKILL');
    // The other worker answers: every award is made (a request on a connection lost with the killed worker, retried with its key).
    await awardMany(16, 4);
    const restarted = await primary.waitFor(new RegExp(`\\(pid ${first}\\) exited \\(signal SIGKILL\\); restarted as worker \\d+ \\(pid (\\d+)\\)`));
    const replacement = Number(restarted[1]);
    await primary.waitFor(new RegExp(`\\(pid ${replacement}\\) listening`));
    // With the other original worker gone too, only the replacement can answer.
    process.kill(second, 'SIGKILL');
    await awardMany(16, 4);
    await primary.waitFor(new RegExp(`\\(pid ${second}\\) exited \\(signal SIGKILL\\); restarted as worker \\d+ \\(pid (\\d+)\\)`));
    expect(alive(replacement)).toBe(true);
  }, 150_000);

  it('awards served by every worker settle and seal: the ledger checks pass', async () => {
    expect(await h.transactionCount()).toBe(awarded);
    // The workers' own sealers bring every award into the chain (no test-side sealing first).
    const deadline = Date.now() + 30_000;
    while ((await verifyHeadBank(h.bank, h.head.id)).transactionsQueued > 0) {
      expect(Date.now(), 'the workers sealed every award within 30 s').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    await h.checkInvariants();
  });

  it('SIGTERM to the primary stops every worker and then the primary, cleanly', async () => {
    const pids = [...new Set([...listeningPids(primary), ...printed(primary).flatMap((l) => [...l.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])))])];
    const started = Date.now();
    expect(await stopPrimary(primary)).toBe(0);
    expect(Date.now() - started, 'every worker stopped by itself, none killed').toBeLessThan(workerStopTimeoutMs);
    expect(printed(primary).join('\n')).toMatch(/"msg":"stopped"/);
    expect(pids.filter(alive), 'processes left running').toEqual([]);
  });
});

describe('WORKERS=2 with the embedded PostgreSQL', () => {
  it('stops the workers, then the database it started: nothing is left running', async () => {
    const dataDir = path.join(projectRoot, '.data/pg-workers-test');
    const primary = startPrimary({ DATABASE_URL: '', PG_DATA_DIR: dataDir, PG_PORT: process.env.WORKERS_TEST_PG_PORT ?? '54373', WORKERS: '2' });
    try {
      const port = Number((await primary.waitFor(/GraphQL: http:\/\/127\.0\.0\.1:(\d+)\/graphql/, 150_000))[1]);
      const res = await post(port, null, '{ __typename }');
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const pids = [...listeningPids(primary), postmaster];
      expect(pids).toHaveLength(3);
      expect(pids.every(alive)).toBe(true);
      expect(await stopPrimary(primary)).toBe(0);
      expect(pids.filter(alive), 'processes left running').toEqual([]);
    } finally {
      if (primary.child.exitCode === null) await stopPrimary(primary);
    }
  }, 240_000);
});
