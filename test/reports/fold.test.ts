// Rollups folded off the write's transaction (migration 062, issue 14 decision 1): an award writes no
// rollup row; the settler folds the journal's tail later (cb_fold_rollups) and every report reads the
// folded rows plus the unfolded tail. Here: a report read right after an award acknowledges includes
// it with no fold in between; folders running side by side, with writers, fold each transaction once
// while every read stays exact; and a service killed (SIGKILL) between its writes and their fold, with
// a fold killed before its commit, loses nothing and folds nothing twice once the settler runs again.
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { foldEverything, startHarness, type Harness } from '../support/harness.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';
import { freePort, ServiceProcess } from '../../src/chaos/services.js';
import { projectRoot } from '../../src/config.js';

let h: Harness;
let pool: pg.Pool;
beforeAll(async () => {
  h = await startHarness();
  pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 6 });
});
afterAll(async () => {
  await pool.end();
  await h.checkInvariants();
  await h.close();
});

const awardMutation = `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`;

/** The year and month of now in the head bank's time zone, as reports count them. */
function nowInBank(): { year: number; month: string } {
  const [year, month] = new Intl.DateTimeFormat('en-CA', { timeZone: h.head.timeZone, year: 'numeric', month: '2-digit' }).format(new Date()).split('-');
  return { year: Number(year), month: `${year}-${month}` };
}

/** The head bank's transactions not folded yet. */
async function unfolded(): Promise<number> {
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM transactions WHERE head_id = $1 AND txid >= (SELECT folded_below FROM rollup_fold)`, [h.head.id]);
  return rows[0].n;
}

describe('a report read right after an award', () => {
  it('includes the award, with no fold in between (the rollups do not hold it yet)', async () => {
    const m = await h.addMember(`${h.tag}-now`, h.branches[2]!, { party: true });
    // Hold every folder off (as a member move does), so the awards below stay in the tail.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM rollup_fold FOR SHARE');
      for (const rule of ['party.class-attendance', 'garbage.bin-duty']) {
        const res = await h.gql(h.clientToken, awardMutation, { i: { idempotencyKey: h.key(), memberId: m, rule } });
        expect(res.errors).toBeUndefined();
      }
      const { rows: folded } = await pool.query(`SELECT count(*)::int AS n FROM member_rollups WHERE head_id = $1 AND member_id = $2`, [h.head.id, m]);
      expect(folded[0].n, 'rows folded').toBe(0);
      const { year, month } = nowInBank();
      const b = h.branches[2]!.code;
      const scores = await h.gql(h.adminToken, `query($b: String!) { partyScores(branch: $b, period: {year: ${year}}) { edges { node { member { id } total breakdown { category amount } } } } }`, { b });
      expect(scores.errors).toBeUndefined();
      expect(scores.data.partyScores.edges.find((e: any) => e.node.member.id === m).node).toMatchObject({ total: '2.00', breakdown: [{ category: 'party', amount: '2.00' }] });
      const board = await h.gql(h.adminToken, `query($b: String!) { leaderboard(branch: $b, asset: POINTS, period: {fromMonth: "${month}", toMonth: "${month}"}) { member { id } total } }`, { b });
      expect(board.errors).toBeUndefined();
      expect(board.data.leaderboard.find((e: any) => e.member.id === m)).toMatchObject({ total: '5.00' });
      for (const period of [`{year: ${year}}`, `{fromMonth: "${month}", toMonth: "${month}"}`]) {
        const stats = await h.gql(h.adminToken, `query($b: String!) { branchStats(branch: $b, period: ${period}) { assets { asset issued outstanding activeMembers } } }`, { b });
        expect(stats.errors, period).toBeUndefined();
        expect(stats.data.branchStats.assets.find((a: any) => a.asset === 'PARTY_SCORE'), period).toMatchObject({ issued: '2.00', outstanding: '2.00', activeMembers: 1 });
      }
      const statement = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { statement(period: {year: ${year}}) { totals { asset net postings } } } }`, { id: m });
      expect(statement.errors).toBeUndefined();
      expect(statement.data.member.statement.totals).toEqual(expect.arrayContaining([
        { asset: 'PARTY_SCORE', net: '2.00', postings: 1 }, { asset: 'POINTS', net: '5.00', postings: 1 }]));
      expect(await findRollupMismatches(h.bank, h.head.id), 'rows with the tail').toEqual([]);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await foldEverything(h.bank, h.head.id);
    const { rows: folded } = await pool.query(`SELECT count(*)::int AS n FROM member_rollups WHERE head_id = $1 AND member_id = $2`, [h.head.id, m]);
    expect(folded[0].n, 'rows once folded').toBe(2);
  });
});

describe('folders side by side', () => {
  it('fold each transaction once while writers write, and every read in between is exact', async () => {
    const members = await Promise.all(Array.from({ length: 12 }, (_, i) => h.addMember(`${h.tag}-side-${i}`, h.branches[i % 2]!, { party: true })));
    let writing = true;
    // Three folders at once, each taking at most 3 transactions a fold, so that they contend for the cursor.
    const folders = [0, 1, 2].map(async () => {
      let folds = 0;
      let passed = 0;
      while (writing) {
        const { rows } = await pool.query('SELECT cb_fold_rollups(3) AS n');
        passed += rows[0].n;
        if (rows[0].n > 0) folds++;
      }
      return { folds, passed };
    });
    let checks = 0;
    const checker = (async () => {
      while (writing) {
        expect(await findRollupMismatches(h.bank, h.head.id), 'rows with the tail while folding').toEqual([]);
        checks++;
      }
    })();
    const awards: Promise<void>[] = [];
    for (let c = 0; c < 6; c++) {
      awards.push((async () => {
        for (let i = 0; i < 16; i++) {
          const m = members[(c * 16 + i) % members.length]!;
          const res = await h.gql(h.clientToken, awardMutation, { i: { idempotencyKey: h.key(), memberId: m, rule: i % 3 ? 'volunteer.hour' : 'party.class-attendance' } });
          expect(res.errors?.[0]?.extensions?.code ?? 'OK').toMatch(/OK|CAP_EXCEEDED/);
        }
      })());
    }
    await Promise.all(awards);
    writing = false;
    const done = await Promise.all(folders);
    await checker;
    expect(checks).toBeGreaterThan(0);
    expect(done.reduce((n, f) => n + f.folds, 0), 'folds').toBeGreaterThan(1);
    await foldEverything(h.bank, h.head.id);
    expect(await findRollupMismatches(h.bank, h.head.id, { folded: true }), 'folded rows alone').toEqual([]);
  });
});

/** A process that folds in a database transaction it never commits (as a settler killed before its COMMIT), printing "folded N". */
function hangingFolder(url: string) {
  const script = `const pg = require('pg'); const c = new pg.Client({ connectionString: process.argv[1] });
    c.connect().then(async () => { await c.query('BEGIN'); const r = await c.query('SELECT cb_fold_rollups(100000) AS n');
      console.log('folded ' + r.rows[0].n); setInterval(() => {}, 1000); });`;
  return spawn(process.execPath, ['-e', script, url], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('a service killed between its writes and their fold', () => {
  it('loses nothing and folds nothing twice: after a restart the settler folds every acknowledged award once', async () => {
    const members = await Promise.all(Array.from({ length: 10 }, (_, i) => h.addMember(`${h.tag}-kill-${i}`, h.branches[i % 3]!, { party: true })));
    const env = { DATABASE_URL: inject('databaseUrl'), SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', LOG_LEVEL: 'warn' };
    // The settler slow: nothing the service writes is folded by it before it dies.
    const service = new ServiceProcess('fold-writer', await freePort(), { ...env, SETTLE_INTERVAL_MS: '3600000' });
    await service.start();
    const acknowledged: string[] = [];
    let killed = false;
    const post = async (memberId: string, rule: string) => {
      try {
        const res = await fetch(`${service.url}/graphql`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${h.clientToken}` },
          body: JSON.stringify({ query: awardMutation, variables: { i: { idempotencyKey: h.key(), memberId, rule } } }),
        });
        const body: any = await res.json();
        if (body.data?.awardPoints) acknowledged.push(body.data.awardPoints.transactionId);
      } catch {
        // the service died under this request: not acknowledged
      }
    };
    const clients = Array.from({ length: 6 }, async (_, c) => {
      for (let i = 0; !killed; i++) await post(members[(c + i) % members.length]!, i % 2 ? 'volunteer.hour' : 'party.class-attendance');
    });
    while (acknowledged.length < 60) await new Promise((r) => setTimeout(r, 20));
    // A fold of what is there so far, killed before its commit, while the service still writes.
    const folder = hangingFolder(inject('databaseUrl'));
    const folded = await new Promise<string>((resolve) => folder.stdout!.once('data', (d) => resolve(String(d))));
    expect(Number(/^folded (\d+)/.exec(folded)?.[1]), 'transactions the killed fold passed').toBeGreaterThan(0);
    folder.kill('SIGKILL');
    service.kill();
    killed = true;
    await Promise.all(clients);
    await new Promise<void>((r) => (folder.exitCode !== null || folder.signalCode !== null ? r() : folder.once('exit', () => r())));

    // Nothing lost: every acknowledged award is in the journal, POSTED.
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM transactions WHERE head_id = $1 AND id = ANY ($2::bigint[]) AND status = 'POSTED'`,
      [h.head.id, acknowledged]);
    expect(rows[0].n).toBe(acknowledged.length);
    // Reads are exact before anything folds them (the killed fold left nothing).
    expect(await findRollupMismatches(h.bank, h.head.id), 'rows with the tail after the kills').toEqual([]);

    // The service again, its settler fast: it folds the tail, each transaction once.
    const again = new ServiceProcess('fold-settler', await freePort(), { ...env, SETTLE_INTERVAL_MS: '50' });
    await again.start();
    try {
      const started = Date.now();
      while ((await unfolded()) > 0 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(await unfolded()).toBe(0);
    } finally {
      await again.stop();
    }
    await foldEverything(h.bank, h.head.id);
    expect(await findRollupMismatches(h.bank, h.head.id, { folded: true }), 'folded rows alone').toEqual([]);
    const { rows: [sums] } = await pool.query(`SELECT
        (SELECT coalesce(sum(r.postings), 0)::int FROM member_year_rollups r WHERE r.head_id = $1 AND r.member_id = ANY ($2::bigint[])) AS rolled,
        (SELECT count(*)::int FROM postings p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
          WHERE p.head_id = $1 AND a.owner_type = 'MEMBER' AND a.owner_id = ANY ($2::bigint[])) AS posted`, [h.head.id, members]);
    expect(sums.rolled).toBe(sums.posted);
    expect(sums.posted).toBeGreaterThanOrEqual(acknowledged.length);
  }, 300_000);
});
