// npm run bench:reports: builds a district-sized bank through the service's own schema (500 branches,
// 1,000,000 members, postings over two years loaded with COPY, then folded into the rollups by the
// settler's fold as for any writer), then times the period reports (partyScores of a 5,000-member branch-year and of the whole
// head bank, leaderboard, branchStats), p50 and p99 over repeated calls, at each posting count of
// BENCH_POSTINGS (default 2,000,000; e.g. 2000000,20000000 grows the same data set to 20 M and
// measures again). First it measures what the score-year trigger adds to a single award (sequential
// cb_award_batch calls through pg, with the trigger disabled and enabled, alternately) and what the
// fold of the rollups costs per award (migration 062: no rollup is written in the award).
// Its own embedded PostgreSQL (BENCH_PG_PORT, BENCH_PG_DATA_DIR) on a fresh database; COPY reads
// files the bench writes, so the server must see this machine's files (the embedded one does).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { loadConfig, projectRoot } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { openBank, type Bank } from '../bank.js';
import { createHeadBank, insertChildBranch, type Branch } from '../directory/branches.js';
import { openWallets } from '../directory/members.js';
import { foldAllBranchDeltas, foldAllRollups } from '../ledger/settle.js';
import { callAwardBatch } from '../ledger/sql/award.js';
import { requestHash } from '../ledger/idempotency.js';
import type { Principal } from '../auth/principal.js';
import { branchStats, leaderboard, partyScores } from '../reports/reports.js';
import { standardRules } from '../../seeds/demo.js';

const benchDatabase = 'civility_bench_reports';
const benchDataDirDefault = '.data/pg-bench-reports';
const benchPortDefault = '54361';
/** The issue's district: 500 branches (a head bank, 20 streets, 479 communities) and a million members. */
const streetCount = 20;
const communityCount = 479;
const membersDefault = 1_000_000;
/** One community is made this big: the issue's 5,000-member branch-year. */
const bigBranchMembers = 5_000;
/** Shares of members: party members are assessed (党员积分), volunteers earn hours. */
const partyShare = 0.1;
const volunteerShare = 0.08;
/** Postings are written in COPY files of this many transactions (two postings each): one trigger firing each. */
const copyChunkTransactions = 100_000;
/** Two years of activity, ending yesterday. */
const historyDays = 730;
/** Calls per report and size: p99 of this many is close to the maximum; bounded to keep the run short. */
const callsPerReport = 30;
const headBankCallsPerReport = 10;
/** Sequential single awards per round of the award-cost measurement, and rounds per setting. */
const awardCostAwards = 500;
const awardCostRounds = 3;
/** Triggers that the award-cost measurement turns off and on (migration 011; the rollups are folded later, migration 062). */
const rollupTriggers = ['postings_score_year_open'];

const log = (line: string) => console.error(`[bench:reports] ${line}`);

function progress(label: string, done: number, total: number, startedMs: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / Math.max(0.001, (performance.now() - startedMs) / 1000);
  process.stderr.write(`\r[bench:reports] ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(100 * done / total).toFixed(0)}% `
    + `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.round(rate).toLocaleString('en-US')}/s)   `);
  if (done >= total) process.stderr.write('\n');
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function time(calls: number, work: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  await work(); // warm: plans and caches, as a running service has them
  const ms: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await work();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
}

/** A small deterministic generator, so that two runs load the same data. */
function generator(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

interface District {
  head: Branch;
  big: Branch;
  street: Branch;
  members: number;
  /** members ids are firstMemberId .. firstMemberId + members - 1; wallet of member k, asset j: firstWalletId + 3k + j. */
  firstMemberId: number;
  firstWalletId: number;
  /** Per community index: its branch id and its ISSUANCE / PENALTY account ids per asset. */
  communities: { id: string; system: Record<string, string> }[];
  /** Community index of member k. */
  communityOf(k: number): number;
  ruleIds: Record<string, string>;
}

const assetIndex: Record<string, number> = { PARTY_SCORE: 0, POINTS: 1, VOLUNTEER_HOURS: 2 };

async function buildDistrict(bank: Bank, members: number): Promise<District> {
  const head = await createHeadBank(bank, { code: 'bench-district', name: '区 District head bank' });
  log('branches: a head bank, 20 streets, 479 communities');
  const streets: Branch[] = [];
  const communityBranches: Branch[] = [];
  await bank.knex.transaction(async (trx) => {
    for (let s = 0; s < streetCount; s++) streets.push(await insertChildBranch(trx, head, { code: `bench-street-${s}`, name: `街道 Street ${s}` }));
    for (let c = 0; c < communityCount; c++) {
      communityBranches.push(await insertChildBranch(trx, streets[c % streetCount]!, { code: `bench-community-${c}`, name: `社区 Community ${c}` }));
    }
  });
  for (const b of [...streets, ...communityBranches]) bank.branches.remember(b);
  for (const rule of standardRules) {
    await bank.knex('rules').insert({
      head_id: head.id, branch_id: head.id, code: rule.code, version: 1, name: rule.name, category: rule.category,
      outputs: JSON.stringify(rule.outputs), caps: JSON.stringify(rule.caps), requires_approval: false, allowed_clients: [], created_by: 'bench',
    });
  }
  const ruleIds = Object.fromEntries((await bank.knex('rules').where({ head_id: head.id }).select('code', 'id')).map((r) => [r.code, String(r.id)]));
  // Members and their wallets, made in the server: member k is in community 0 for k < 5,000, else spread evenly.
  log(`members: ${members.toLocaleString('en-US')} and their ${(members * 3).toLocaleString('en-US')} wallets`);
  const { rows: [ids] } = await bank.knex.raw(`SELECT nextval('members_id_seq')::bigint AS m, nextval('accounts_id_seq')::bigint AS a`);
  const firstMemberId = Number(ids.m) + 1;
  const firstWalletId = Number(ids.a) + 1;
  await bank.knex.raw(`SELECT setval('members_id_seq', ?), setval('accounts_id_seq', ?)`, [firstMemberId + members, firstWalletId + 3 * members]);
  const communityIds = communityBranches.map((b) => b.id);
  const communitySql = `CASE WHEN k < ${bigBranchMembers} THEN 0 ELSE 1 + (k % ${communityCount - 1}) END`;
  await bank.knex.transaction(async (trx) => {
  await trx.raw('SET LOCAL statement_timeout = 0');
  await trx.raw(`
    INSERT INTO members (head_id, id, branch_id, external_id, name, is_party_member, is_volunteer)
    SELECT :head, :first + k, (:communities::bigint[])[1 + ${communitySql}], 'bench-' || k, '居民 Resident ' || k,
           (k * 7919) % 1000 < ${partyShare * 1000}, (k * 104729) % 1000 >= 1000 - ${volunteerShare * 1000}
      FROM generate_series(0::bigint, :last::bigint) k`, { head: head.id, first: firstMemberId, communities: communityIds, last: members - 1 });
  await trx.raw(`
    INSERT INTO accounts (head_id, id, branch_id, owner_type, owner_id, purpose, asset_code, asset_scale, allow_negative, deferred_balance)
    SELECT :head, :firstWallet + 3 * k + j, (:communities::bigint[])[1 + ${communitySql}], 'MEMBER', :first + k, 'WALLET',
           (ARRAY['PARTY_SCORE', 'POINTS', 'VOLUNTEER_HOURS'])[j + 1], 2, j = 0, false
      FROM generate_series(0::bigint, :last::bigint) k CROSS JOIN generate_series(0, 2) j`,
  { head: head.id, first: firstMemberId, firstWallet: firstWalletId, communities: communityIds, last: members - 1 });
  });
  await bank.knex.raw('ANALYZE members, accounts');
  const system = await bank.knex('accounts').where({ head_id: head.id, owner_type: 'SYSTEM' }).whereIn('purpose', ['ISSUANCE', 'PENALTY'])
    .select('owner_id', 'purpose', 'asset_code', 'id');
  const systemOf = new Map<string, Record<string, string>>();
  for (const a of system) {
    const map = systemOf.get(String(a.owner_id)) ?? {};
    map[`${a.purpose}:${a.asset_code}`] = String(a.id);
    systemOf.set(String(a.owner_id), map);
  }
  return {
    head, big: communityBranches[0]!, street: streets[1]!, members, firstMemberId, firstWalletId, ruleIds,
    communities: communityBranches.map((b) => ({ id: b.id, system: systemOf.get(b.id)! })),
    communityOf: (k) => (k < bigBranchMembers ? 0 : 1 + (k % (communityCount - 1))),
  };
}

/** Whether member k is a party member / volunteer (the same formulas as the INSERT above). */
const isParty = (k: number) => (k * 7919) % 1000 < partyShare * 1000;
const isVolunteer = (k: number) => (k * 104729) % 1000 >= 1000 - volunteerShare * 1000;

/** Appends transactions (two postings each) up to a total of `postings`, in COPY files, with a progress bar. */
async function loadPostings(bank: Bank, bulk: pg.Client, district: District, from: number, to: number, loadDir: string): Promise<void> {
  const random = generator(from + 1);
  const end = Date.now() - 86_400_000;
  const start = end - historyDays * 86_400_000;
  await bank.knex.raw('SELECT cb_ensure_posting_partitions(?::date, ?)', [new Date(start).toISOString().slice(0, 10), Math.ceil(historyDays / 30) + 2]);
  const total = (to - from) / 2;
  const started = performance.now();
  fs.mkdirSync(loadDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(loadDir, 0o755);
  for (let done = 0; done < total; done += copyChunkTransactions) {
    const n = Math.min(copyChunkTransactions, total - done);
    const { rows: [seq] } = await bank.knex.raw(`SELECT setval('transactions_id_seq', nextval('transactions_id_seq') + ?) AS last`, [n]);
    const firstTxn = Number(seq.last) - n + 1;
    let txns = '';
    let postings = '';
    for (let i = 0; i < n; i++) {
      const id = firstTxn + i;
      // Party members and volunteers are the active ones; every member sorts garbage now and then.
      let k = Math.floor(random() * district.members);
      const roll = random();
      if (roll < 0.35) while (!isParty(k)) k = Math.floor(random() * district.members);
      else if (roll < 0.55) while (!isVolunteer(k)) k = Math.floor(random() * district.members);
      const rule = roll < 0.3 ? 'party.class-attendance' : roll < 0.35 ? 'party.negative-list.absence' : roll < 0.55 ? 'volunteer.hour' : 'garbage.sorted-drop';
      const asset = rule.startsWith('party') ? 'PARTY_SCORE' : rule === 'volunteer.hour' ? 'VOLUNTEER_HOURS' : 'POINTS';
      const deduct = rule === 'party.negative-list.absence';
      const amount = deduct ? '5.00' : rule === 'party.class-attendance' ? '2.00' : rule === 'volunteer.hour' ? '2.00' : '1.00';
      const community = district.communities[district.communityOf(k)]!;
      const at = new Date(start + Math.floor(random() * (end - start))).toISOString();
      const wallet = district.firstWalletId + 3 * k + assetIndex[asset]!;
      const systemAccount = community.system[`${deduct ? 'PENALTY' : 'ISSUANCE'}:${asset}`];
      txns += `${district.head.id},${id},${deduct ? 'DEDUCT' : 'EARN'},POSTED,${community.id},${district.firstMemberId + k},${district.ruleIds[rule]},bench,admin,${at},${at}\n`;
      postings += `${district.head.id},${id},1,${wallet},${asset},2,${deduct ? '-' : ''}${amount},,${at}\n`
        + `${district.head.id},${id},2,${systemAccount},${asset},2,${deduct ? '' : '-'}${amount},,${at}\n`;
    }
    const txnFile = path.join(loadDir, 'transactions.csv');
    const postingFile = path.join(loadDir, 'postings.csv');
    fs.writeFileSync(txnFile, txns, { mode: 0o644 });
    fs.writeFileSync(postingFile, postings, { mode: 0o644 });
    await bulk.query('BEGIN');
    await bulk.query(`COPY transactions (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role, occurred_at, recorded_at)
      FROM '${txnFile}' WITH (FORMAT csv)`);
    await bulk.query(`COPY postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
      FROM '${postingFile}' WITH (FORMAT csv)`);
    await bulk.query('COMMIT');
    progress(`postings ${(from / 1e6).toFixed(0)}M→${(to / 1e6).toFixed(0)}M`, done + n, total, started);
  }
  // Planner statistics first: on a fresh load's empty estimates the balance UPDATE below was planned
  // as a nested loop that re-aggregated postings per account (minutes for 200,000 postings).
  await bulk.query('ANALYZE accounts, transactions, postings, member_rollups, member_year_rollups');
  // The settler folds the journal into the member rollups (migration 062), a COPY chunk at a time.
  const rollupsStarted = performance.now();
  const rolledUp = await foldAllRollups(bank);
  log(`folded ${rolledUp.toLocaleString('en-US')} transactions into the rollups in ${((performance.now() - rollupsStarted) / 1000).toFixed(1)} s, as the settler does`);
  log('balances: member wallets from their postings, system accounts as deltas (the settler folds them)');
  await bulk.query(`
    UPDATE accounts a SET balance = s.amount
      FROM (SELECT p.account_id, sum(p.amount) AS amount FROM postings p JOIN accounts w ON w.head_id = p.head_id AND w.id = p.account_id
             WHERE p.head_id = $1 AND w.owner_type = 'MEMBER' GROUP BY 1) s
     WHERE a.head_id = $1 AND a.id = s.account_id AND a.balance <> s.amount`, [district.head.id]);
  await bulk.query('BEGIN');
  await bulk.query(`DELETE FROM account_deltas WHERE head_id = $1`, [district.head.id]);
  await bulk.query(`
    INSERT INTO account_deltas (head_id, account_id, amount)
    SELECT $1, p.account_id, sum(p.amount) - min(a.balance) FROM postings p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
     WHERE p.head_id = $1 AND a.owner_type = 'SYSTEM' GROUP BY 2`, [district.head.id]);
  await bulk.query('COMMIT');
  // The service's settler folds the branch deltas every second; a COPY chunk appended a delta per branch, asset and year.
  const foldStarted = performance.now();
  const folded = await foldAllBranchDeltas(bank);
  log(`folded ${folded.toLocaleString('en-US')} branch deltas in ${((performance.now() - foldStarted) / 1000).toFixed(1)} s, as the settler does`);
  log('VACUUM (ANALYZE) and CHECKPOINT, as a running bank would have them');
  await bulk.query('VACUUM (ANALYZE)');
  await bulk.query('CHECKPOINT');
}

/** What the rollup and score-year triggers add to one award: sequential single awards through pg, off and on. */
interface AwardCost { off: number; on: number; offScore: number; onScore: number; awardFunctionMs: number; rollupTriggerMs: number; guardTriggerMs: number }

async function measureAwardCost(bank: Bank): Promise<AwardCost> {
  const head = await createHeadBank(bank, { code: 'bench-award-cost', name: 'Award cost' });
  await bank.knex('rules').insert(standardRules.map((rule) => ({
    head_id: head.id, branch_id: head.id, code: `cost.${rule.code}`, version: 1, name: rule.name, category: rule.category,
    outputs: JSON.stringify(rule.outputs), caps: JSON.stringify([]), requires_approval: false, allowed_clients: [], created_by: 'bench',
  })));
  const memberIds: string[] = [];
  for (let i = 0; i < 64; i++) {
    const [row] = await bank.knex('members').insert({ head_id: head.id, branch_id: head.id, external_id: `cost-${i}`, name: `Cost ${i}`, is_party_member: true }).returning('id');
    await openWallets(bank.knex, head.id, head.id, String(row.id));
    memberIds.push(String(row.id));
  }
  const scope = { headId: head.id, sub: 'bench', role: 'admin', scopePath: head.path, timeZone: head.timeZone };
  let n = 0;
  const round = async (rule: string) => {
    const t = performance.now();
    for (let i = 0; i < awardCostAwards; i++) {
      const key = `cost-${++n}`;
      const [r] = await callAwardBatch(bank.pool, scope, [{ key, hash: requestHash('awardPoints', { key }), memberId: memberIds[i % memberIds.length],
        rule, quantity: '1', occurredAt: new Date().toISOString(), memo: null, metadata: null }]);
      if (r.error) throw new Error(`award refused: ${r.error.message}`);
    }
    const elapsed = (performance.now() - t) / awardCostAwards;
    folded += await foldAllRollups(bank);
    return elapsed;
  };
  let folded = 0;
  const setTriggers = (on: boolean) => bank.knex.raw(rollupTriggers.map((t) => `ALTER TABLE postings ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${t};`).join(' '));
  const results = { off: [] as number[], on: [] as number[], offScore: [] as number[], onScore: [] as number[] };
  await round('cost.garbage.sorted-drop'); // warm
  try {
    for (let r = 0; r < awardCostRounds; r++) {
      await setTriggers(false);
      results.off.push(await round('cost.garbage.sorted-drop'));
      results.offScore.push(await round('cost.party.class-attendance'));
      await setTriggers(true);
      results.on.push(await round('cost.garbage.sorted-drop'));
      results.onScore.push(await round('cost.party.class-attendance'));
    }
  } finally {
    await setTriggers(true);
  }
  // The awards made with the triggers off are not in the rollups: this bank is for measuring only.
  // The difference of two noisy wall times is noisy on a shared machine; PostgreSQL's own count of
  // the time spent inside the trigger functions (track_functions, set for this database) is not.
  await bank.knex.raw('SELECT pg_stat_force_next_flush()');
  const { rows } = await bank.knex.raw(`SELECT funcname, calls, total_time FROM pg_stat_user_functions
    WHERE funcname IN ('cb_award_batch', 'cb_fold_rollups', 'cb_guard_score_years')`);
  const msPerCall = (name: string) => { const r = rows.find((x: any) => x.funcname === name); return r ? r.total_time / Number(r.calls) : NaN; };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    off: median(results.off), on: median(results.on), offScore: median(results.offScore), onScore: median(results.onScore),
    awardFunctionMs: msPerCall('cb_award_batch'),
    rollupTriggerMs: (rows.find((x: any) => x.funcname === 'cb_fold_rollups')?.total_time ?? NaN) / folded, guardTriggerMs: msPerCall('cb_guard_score_years'),
  };
}

interface ReportTiming { report: string; p50: number; p99: number; rows: string }

/** The head bank's (:h) monthly (r) and yearly (y) member rollup rows and its branch rollup rows (b). */
const rollupCounts = `(SELECT count(*) FROM member_rollups WHERE head_id = :h)::bigint AS r, (SELECT count(*) FROM member_year_rollups WHERE head_id = :h)::bigint AS y,
  (SELECT count(*) FROM branch_year_rollups WHERE head_id = :h)::bigint AS b`;

async function timeReports(bank: Bank, district: Pick<District, 'head' | 'big' | 'street'>): Promise<ReportTiming[]> {
  const admin: Principal = { sub: 'bench-admin', role: 'admin', branch: district.head, headId: district.head.id, memberId: null, merchantId: null, rules: '*' };
  const year = { year: new Date().getUTCFullYear() };
  const out: ReportTiming[] = [];
  // BENCH_REPORTS=a,b times only the reports whose name contains one of the words.
  const only = process.env.BENCH_REPORTS?.split(',').filter(Boolean) ?? [];
  // BENCH_CALLS caps the calls per report (a quick re-timing on a large data set).
  const callsMax = Number(process.env.BENCH_CALLS ?? Infinity);
  const add = async (report: string, callsWanted: number, work: () => Promise<string>) => {
    const calls = Math.min(callsWanted, callsMax);
    if (only.length > 0 && !only.some((word) => report.includes(word))) return;
    let rows = '';
    const t = await time(calls, async () => { rows = await work(); });
    out.push({ report, ...t, rows });
    log(`${report}: p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms (${rows})`);
  };
  await add(`partyScores, ${bigBranchMembers.toLocaleString('en-US')}-member branch, year, first 50`, callsPerReport, async () => {
    const page = await partyScores(bank, admin, { branch: district.big.code, period: year, first: 50 });
    return `${page.members} party members`;
  });
  await add('partyScores, whole head bank, year, first 50', headBankCallsPerReport, async () => {
    const page = await partyScores(bank, admin, { branch: district.head.code, period: year, first: 50 });
    return `${page.members.toLocaleString('en-US')} party members`;
  });
  await add('leaderboard, head bank, VOLUNTEER_HOURS, year, top 20', headBankCallsPerReport, async () => {
    const rows = await leaderboard(bank, admin, { branch: district.head.code, asset: 'VOLUNTEER_HOURS', period: year, first: 20 });
    return `top ${rows[0]?.total ?? '-'} hours`;
  });
  await add(`leaderboard, ${bigBranchMembers.toLocaleString('en-US')}-member branch, POINTS, year, top 20`, callsPerReport, async () => {
    const rows = await leaderboard(bank, admin, { branch: district.big.code, asset: 'POINTS', period: year, first: 20 });
    return `${rows.length} places`;
  });
  await add('branchStats, a street (24 communities), year', callsPerReport, async () => {
    const stats = await branchStats(bank, admin, { branch: district.street.code, period: year });
    return `${stats.children.length} children`;
  });
  await add('branchStats, whole head bank, year', headBankCallsPerReport, async () => {
    const stats = await branchStats(bank, admin, { branch: district.head.code, period: year });
    return `${stats.children.length} children, ${stats.assets.find((a) => a.asset === 'POINTS')!.activeMembers.toLocaleString('en-US')} active on POINTS`;
  });
  // A period other than a calendar year is read from the member rollups, not the branch rollups: timed too.
  const halfYear = { fromMonth: `${year.year}-01`, toMonth: `${year.year}-06` };
  await add('branchStats, whole head bank, months 01 to 06', headBankCallsPerReport, async () => {
    const stats = await branchStats(bank, admin, { branch: district.head.code, period: halfYear });
    return `${stats.children.length} children, ${stats.assets.find((a) => a.asset === 'POINTS')!.activeMembers.toLocaleString('en-US')} active on POINTS`;
  });
  return out;
}

async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig({
    ...env, SEED_DEMO: 'false', DB_POOL_SIZE: '4',
    PG_DATA_DIR: env.BENCH_PG_DATA_DIR ?? path.join(projectRoot, benchDataDirDefault),
    PG_PORT: env.BENCH_PG_PORT ?? benchPortDefault,
  });
  const members = Number(env.BENCH_MEMBERS ?? membersDefault);
  const sizes = (env.BENCH_POSTINGS ?? '2000000').split(',').map(Number);
  if (!Number.isInteger(members) || members < bigBranchMembers * 2 || sizes.some((s) => !Number.isInteger(s) || s < 2 || s % 2)) {
    throw new Error(`BENCH_MEMBERS must be at least ${bigBranchMembers * 2}; BENCH_POSTINGS a list of even counts`);
  }
  // BENCH_REUSE=1 times the reports again on the data set the last run left (no award cost, no load).
  const reuse = env.BENCH_REUSE === '1';
  const server = await connectDatabaseServer(config, benchDatabase, !reuse, log);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${benchDatabase} SET track_functions = 'pl'`);
  await admin.end();
  const migrator = openDatabase(server.url, 2);
  const migrationStarted = performance.now();
  const applied = await migrateToLatest(migrator.knex, config.partitionMonthsAhead);
  // On a reused data set a new migration (a backfill) runs here: its time is worth knowing.
  if (applied.length > 0) log(`migrated in ${((performance.now() - migrationStarted) / 1000).toFixed(1)} s: ${applied.join(', ')}`);
  await migrator.close();
  const bank = await openBank(config, server.url);
  // Bulk loading and VACUUM run longer than the service's statement timeout allows: a connection of their own.
  const bulk = new pg.Client({ connectionString: server.url, options: '-c statement_timeout=0 -c TimeZone=UTC' });
  await bulk.connect();
  // Beside its own data folder: two runs on different data folders must not share (and delete) COPY files.
  const loadDir = `${config.embeddedDataDir}-load`;
  try {
    if (reuse) {
      const district = { head: await bank.branches.require('bench-district'), big: await bank.branches.require('bench-community-0'), street: await bank.branches.require('bench-street-1') };
      const { rows: [r] } = await bank.knex.raw(`SELECT (SELECT count(*) FROM postings WHERE head_id = :h)::bigint AS p, ${rollupCounts}`, { h: district.head.id });
      const counts = `${Number(r.p).toLocaleString('en-US')} postings, ${Number(r.r).toLocaleString('en-US')} monthly and ${Number(r.y).toLocaleString('en-US')} yearly member rollup rows, ${Number(r.b).toLocaleString('en-US')} branch rollup rows`;
      log(`reusing the last data set: ${counts}`);
      const timings = await timeReports(bank, district);
      console.log(`\nbench:reports (reused data) ${new Date().toISOString().slice(0, 16)} UTC: ${counts}\n`);
      console.log('| report | p50 / p99 ms |\n| --- | --- |');
      for (const t of timings) console.log(`| ${t.report} | ${t.p50.toFixed(1)} / ${t.p99.toFixed(1)} |`);
      return;
    }
    log(`award cost: ${awardCostRounds} rounds of ${awardCostAwards} sequential single awards through pg, triggers off and on`);
    const cost = await measureAwardCost(bank);
    log(`award cost (ms per award, median round): POINTS award ${cost.off.toFixed(3)} without triggers, ${cost.on.toFixed(3)} with; `
      + `PARTY_SCORE award ${cost.offScore.toFixed(3)} without, ${cost.onScore.toFixed(3)} with; inside PostgreSQL per call: cb_award_batch `
      + `${cost.awardFunctionMs.toFixed(3)} ms, of which score-year guard ${cost.guardTriggerMs.toFixed(3)} ms; the rollups' fold ${cost.rollupTriggerMs.toFixed(3)} ms per award`);
    const district = await buildDistrict(bank, members);
    let loaded = 0;
    const results: { postings: number; rollups: number; yearRollups: number; branchRollups: number; timings: ReportTiming[] }[] = [];
    for (const size of sizes) {
      await loadPostings(bank, bulk, district, loaded, size, loadDir);
      loaded = size;
      const { rows: [r] } = await bank.knex.raw(`SELECT ${rollupCounts}`, { h: district.head.id });
      log(`${size.toLocaleString('en-US')} postings, ${Number(r.r).toLocaleString('en-US')} monthly and ${Number(r.y).toLocaleString('en-US')} yearly member rollup rows, ${Number(r.b).toLocaleString('en-US')} branch rollup rows: timing reports`);
      results.push({ postings: size, rollups: Number(r.r), yearRollups: Number(r.y), branchRollups: Number(r.b), timings: await timeReports(bank, district) });
    }
    console.log(`\nbench:reports ${new Date().toISOString().slice(0, 16)} UTC: ${members.toLocaleString('en-US')} members, 500 branches\n`);
    console.log(`award cost, ms per single award (sequential, through pg): POINTS ${cost.off.toFixed(3)} → ${cost.on.toFixed(3)} with rollups; `
      + `PARTY_SCORE ${cost.offScore.toFixed(3)} → ${cost.onScore.toFixed(3)} with rollups and the score-year guard; inside PostgreSQL `
      + `(track_functions, all rounds): cb_award_batch ${cost.awardFunctionMs.toFixed(3)} ms per call, the rollups' fold (settler) ${cost.rollupTriggerMs.toFixed(3)} ms per award, `
      + `score-year guard ${cost.guardTriggerMs.toFixed(3)} ms\n`);
    console.log(`| report | ${results.map((r) => `${(r.postings / 1e6).toFixed(0)}M postings (${(r.rollups / 1e6).toFixed(2)}M monthly, ${(r.yearRollups / 1e6).toFixed(2)}M yearly member rollup rows, ${r.branchRollups.toLocaleString('en-US')} branch rollup rows) p50 / p99 ms`).join(' | ')} |`);
    console.log(`| --- | ${results.map(() => '---').join(' | ')} |`);
    for (const [i, t] of results[0]!.timings.entries()) {
      console.log(`| ${t.report} | ${results.map((r) => `${r.timings[i]!.p50.toFixed(1)} / ${r.timings[i]!.p99.toFixed(1)}`).join(' | ')} |`);
    }
  } finally {
    fs.rmSync(loadDir, { recursive: true, force: true });
    await bulk.end();
    await bank.close();
    await server.stop();
  }
}

main().catch((error) => {
  log(`failed: ${error?.stack ?? error}`);
  process.exit(1);
});
