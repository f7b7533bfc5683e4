// npx tsx src/cli/profileBatch.ts: what one cb_award_batch call of 500 awards costs PostgreSQL, without HTTP:
// the backend's own CPU per award (from /proc), WAL bytes per award, and, with PROFILE_EXPLAIN=1,
// the plan and time of every statement inside the function (auto_explain, nested statements);
// PROFILE_SETUP runs a statement on the measuring connection first (an A/B: drop a trigger, add a key back).
// PROFILE_FOLD_EVERY=N: after every N calls the same backend runs the settler's fold (cb_fold_rollups,
// in its transaction with the settler's settings, then cb_fold_branch_year_deltas), as the settler does once a second, and the fold's CPU per award is
// printed apart from the calls' (so a batch of 500 is folded on its own with N=1).
// It makes its own database afresh (the embedded cluster of the bench, or DATABASE_URL's server).
import fs from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { openBank } from '../bank.js';
import { createHeadBank, insertChildBranch, type Branch } from '../directory/branches.js';
import { openWallets } from '../directory/members.js';
import { requestHash } from '../ledger/idempotency.js';
import type { AwardScope } from '../ledger/sql/award.js';
import { foldSettings, settleBatchRows } from '../ledger/settle.js';

const profileDatabase = 'civility_profile_batch';
/** As the bench: 64 branches of 64 members, awards spread over them, 500 per call. */
const branchCount = 64;
const membersPerBranch = 64;
/** Awards per call (PROFILE_BATCH_SIZE: smaller calls, a smaller tail per fold). */
const batchSize = Number(process.env.PROFILE_BATCH_SIZE ?? 500);
/** Calls measured (after warmupCalls): enough for a steady mean on a loaded 2-core machine. */
const callsDefault = 40;
const warmupCalls = 5;
const rule = { code: 'profile.award', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }] };
const ticksMs = 10;

/** CPU ms (user + system) of one local process. */
function processCpuMs(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * ticksMs;
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, PG_DATA_DIR: process.env.BENCH_PG_DATA_DIR || '.data/pg-bench', PG_PORT: process.env.BENCH_PG_PORT || '54359' });
  const calls = Number(process.env.PROFILE_CALLS ?? callsDefault);
  const server = await connectDatabaseServer(config, profileDatabase, true, (line) => console.error(line));
  const migrator = openDatabase(server.url, 2);
  await migrateToLatest(migrator.knex, config.partitionMonthsAhead);
  await migrator.close();
  const bank = await openBank(config, server.url);
  const tag = Date.now().toString(36);
  const head = await createHeadBank(bank, { code: `prof-${tag}`, name: 'Profile head bank' });
  const branches: Branch[] = await bank.knex.transaction(async (trx) => {
    const made: Branch[] = [];
    for (let b = 0; b < branchCount; b++) made.push(await insertChildBranch(trx, head, { code: `prof-${tag}-b${b}`, name: `Branch ${b}` }));
    return made;
  });
  await bank.knex('rules').insert({
    head_id: head.id, branch_id: head.id, code: rule.code, version: 1, name: 'Profile award', category: 'profile',
    outputs: JSON.stringify(rule.outputs), caps: '[]', requires_approval: false, allowed_clients: [], created_by: 'profile',
  });
  const byBranch: string[][] = [];
  for (const [b, branch] of branches.entries()) {
    const ids = Array.from({ length: membersPerBranch }, (_, m) => `m${b}-${m}`);
    const rows = await bank.knex('members').insert(ids.map((externalId) => ({ head_id: head.id, branch_id: branch.id, external_id: externalId, name: externalId }))).returning('id');
    await Promise.all(rows.map((row) => openWallets(bank.knex, head.id, branch.id, String(row.id))));
    byBranch.push(ids);
  }
  const spread: string[] = [];
  for (let m = 0; m < membersPerBranch; m++) for (let b = 0; b < branchCount; b++) spread.push(byBranch[b]![m]!);
  const scope: AwardScope = { headId: head.id, sub: 'profile', role: 'admin', scopePath: head.path, timeZone: head.timeZone };

  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  const { rows: [{ pid }] } = await client.query('SELECT pg_backend_pid() AS pid');
  if (process.env.PROFILE_SETUP) await client.query(process.env.PROFILE_SETUP);
  let n = 0;
  const items = () => Array.from({ length: batchSize }, () => {
    n++;
    const externalId = spread[n % spread.length]!;
    return { key: `k${n}`, hash: requestHash('awardPoints', { externalId, n }), externalId, rule: rule.code, quantity: '1',
      occurredAt: new Date().toISOString(), memo: null, metadata: null };
  });
  const call = async (batch: object[]) => {
    const { rows } = await client.query({ name: 'cb_award_batch', text: 'SELECT cb_award_batch($1, $2, $3, $4, $5, $6) AS r',
      values: [scope.headId, scope.sub, scope.role, scope.scopePath, scope.timeZone, JSON.stringify(batch)] });
    const failed = (rows[0].r as any[]).filter((r) => r.error);
    if (failed.length) throw new Error(`batch refused ${failed.length}: ${JSON.stringify(failed[0])}`);
  };
  for (let i = 0; i < warmupCalls; i++) await call(items());
  await client.query('VACUUM (ANALYZE)');
  await client.query('CHECKPOINT');
  const batches = Array.from({ length: calls }, items);
  // PROFILE_REPLAY=1: the batches are sent once unmeasured, then measured again (every item a replay).
  const replay = Boolean(process.env.PROFILE_REPLAY);
  if (replay) for (const batch of batches) await call(batch);
  if (process.env.PROFILE_EXPLAIN) {
    await client.query("LOAD 'auto_explain'");
    await client.query("SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on; SET auto_explain.log_buffers = on; SET auto_explain.log_level = 'notice'; SET auto_explain.log_triggers = on");
    client.on('notice', (msg) => console.log(msg.message));
    await call(batches[0]!);
    await client.end(); await bank.close(); await server.stop();
    return;
  }
  const foldEvery = Number(process.env.PROFILE_FOLD_EVERY ?? 0);
  // As the settler runs it (src/ledger/settle.ts): its own database transaction with the fold's settings.
  const fold = async () => {
    await client.query('BEGIN');
    await client.query(foldSettings);
    await client.query({ name: 'cb_fold_rollups', text: 'SELECT cb_fold_rollups($1)', values: [settleBatchRows] });
    await client.query('COMMIT');
    await client.query({ name: 'cb_fold_branch_deltas', text: 'SELECT cb_fold_branch_year_deltas($1)', values: [settleBatchRows] });
  };
  if (foldEvery) await fold();
  const [{ lsn: lsnBefore }] = (await client.query('SELECT pg_current_wal_lsn() AS lsn')).rows;
  let foldMs = 0;
  const cpuBefore = processCpuMs(pid);
  const started = performance.now();
  for (const [i, batch] of batches.entries()) {
    await call(batch);
    if (foldEvery && (i + 1) % foldEvery === 0) {
      const before = processCpuMs(pid);
      await fold();
      foldMs += processCpuMs(pid) - before;
    }
  }
  const wallMs = performance.now() - started;
  const cpuMs = processCpuMs(pid) - cpuBefore - foldMs;
  const { rows: [{ bytes }] } = await client.query('SELECT pg_current_wal_lsn() - $1::pg_lsn AS bytes', [lsnBefore]);
  const awards = calls * batchSize;
  console.log(`${calls} calls x ${batchSize}${replay ? ' replayed' : ''}: backend CPU ${(cpuMs * 1000 / awards).toFixed(1)} µs/award, wall ${(wallMs * 1000 / awards).toFixed(1)} µs/award `
    + `(${Math.round(awards / (wallMs / 1000))} awards/s), WAL ${Math.round(Number(bytes) / awards)} B/award`
    + (foldEvery ? `; the fold every ${foldEvery} call(s): backend CPU ${(foldMs * 1000 / awards).toFixed(1)} µs/award` : ''));
  await client.end();
  await bank.close();
  await server.stop();
}

main().catch((error) => { console.error(error); process.exit(1); });
