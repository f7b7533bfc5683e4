// npm run chaos: a fault harness a user can run. Starts PostgreSQL (embedded, its own data folder
// and port; or DATABASE_URL) and several service processes, runs many concurrent clients with a
// mixed workload (src/chaos/workload.ts) for a bounded time — each retrying on timeouts, connection
// errors, 5xx and INTERNAL with the same idempotency key, as a mini-program would — while faults
// strike at random moments: SIGKILL of a service process (then restarted), a PostgreSQL restart
// (embedded: an immediate, crash-like stop or a clean one, then start; external: every backend
// terminated), a client disconnecting mid-request. Afterwards it checks src/chaos/checks.ts and
// prints attempted / acknowledged / faults / violations; the exit code is 0 only with no violation.
//
// Settings (environment): CHAOS_SECONDS (60), CHAOS_CLIENTS (24), CHAOS_SERVICES (2), CHAOS_MEMBERS (40),
// CHAOS_FAULT_INTERVAL_MS (4000, the mean time between process faults), CHAOS_DISCONNECT_RATE (0.03,
// the share of requests a client abandons mid-flight), CHAOS_PG_PORT (54363), CHAOS_PG_DATA_DIR
// (.data/pg-chaos), CHAOS_SEED (random), DATABASE_URL (an external PostgreSQL instead), NATS_URL (the
// services also publish the event feed to a JetStream stream of this run's own, and the consumer
// check reads it back; unset: the feed is checked without NATS).
//
// Selections (评选) need a notice period that ends during the run: the services run with
// CLOCK_OFFSET_MS (a drill-only setting production refuses) chosen so that the bank's midnight falls
// halfway through the run (at least 10 s in). Every selection published before it (one-day notice) ends then,
// while the faults go on (a service is SIGKILLed just after it, in the middle of the awarding rounds);
// those held by an objection are paid once it is resolved. Four more are seeded on notice at set-up
// (src/chaos/selections.ts) with periods ending 10% to 50% into the run, one held by an objection the
// harness dismisses through the API 30% in. After the faults, one final awarding round
// runs at the services' clock, and src/chaos/selectionsCheck.ts checks the selections.
//
// Households (户): before the faults, about 80% of the members are put in households of two to four
// (upsertHousehold); then members move between households, leave, turn adult or minor, heads change;
// awards under a HOUSEHOLD rule credit households; members spend from household wallets (the third
// branch lets only the head spend; minors, non-heads there and members in no household are refused).
// src/chaos/householdsCheck.ts checks the wallets against their postings and the membership history.
// One client in six works on selections only and one on households only (all kinds are in everyone's mix).
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig, projectRoot } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { openBank } from '../bank.js';
import { createHeadBank, insertChildBranch } from '../directory/branches.js';
import { openWallets } from '../directory/members.js';
import { insertMerchant } from '../redemption/merchants.js';
import { insertPool } from '../pools/pools.js';
import { signToken } from '../auth/tokens.js';
import { sealJournal } from '../ledger/seal.js';
import { settleAccountDeltas } from '../ledger/settle.js';
import { standardRules } from '../../seeds/demo.js';
import { ServiceProcess, freePort } from '../chaos/services.js';
import { drawWorkload, workloads, type ChaosMember, type ChaosWorld, type KeyOutcome, type WriteRequest } from '../chaos/workload.js';
import { checkAfterFaults, type KeyLedger } from '../chaos/checks.js';
import { checkFeedDelivery } from '../chaos/feedCheck.js';
import { checkSelections } from '../chaos/selectionsCheck.js';
import { selectionWorkloads } from '../chaos/selectionsWorkload.js';
import { householdInput, householdWorkloads, upsertHouseholdQuery } from '../chaos/householdsWorkload.js';
import { checkHouseholds } from '../chaos/householdsCheck.js';
import { awardDueSelections } from '../selections/awarding.js';
import { noticePeriodEnd } from '../selections/selections.js';
import { chaosSelectionRule, seedChaosSelections } from '../chaos/selections.js';
import { produceAllEvents } from '../events/produce.js';
import type { NatsSettings } from '../events/nats.js';

function setting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

const seconds = setting('CHAOS_SECONDS', 60, 1, 24 * 3600);
const clientCount = setting('CHAOS_CLIENTS', 24, 1, 500);
const serviceCount = setting('CHAOS_SERVICES', 2, 1, 8);
const memberCount = setting('CHAOS_MEMBERS', 40, 2, 10_000);
const faultIntervalMs = setting('CHAOS_FAULT_INTERVAL_MS', 4000, 100, 3_600_000);
const disconnectRate = setting('CHAOS_DISCONNECT_RATE', 0.03, 0, 1);
const seed = setting('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31);
/** A request without an answer this long is abandoned and retried (with the same keys). */
const requestTimeoutMs = 10_000;
/** The shop's stock: enough that most redemptions succeed, few enough that it can run out in a long run. */
const shopStock = 20_000;
/** The claims' rule code. */
const claimRule = 'chaos.service-claim';
/** The pool's target in POINTS: reached in a long run, so that LIMIT_EXCEEDED and FUNDED happen too. */
const poolTarget = '1500.00';
/** After the run, clients get this long to finish the writes they started; what is left is "unresolved". */
const drainMs = 90_000;
/** Retries of one write: bounded, like everything (at the backoff's ceiling, minutes of faults). */
const attemptsMax = 400;
const backoffMaxMs = 1_000;
/** Restarts of a killed service are tried this often before the run counts it as a violation. */
const restartAttemptsMax = 30;
/** The rule that pays selections' winners: no approval, no cap (a capped rule could leave a winner unpaid, retried). */
const selectionRule = chaosSelectionRule;
/** How long the services take to start and the members to be funded, for placing the bank's midnight in the run. */
const startupAllowanceMs = 10_000;
/** The rule whose awards credit a household. */
const householdRule = 'chaos.household-sorting';
/** Members put in households at the start (the rest are in none: their household spends are refused). */
const inHouseholdsShare = 0.8;
/** One client in this many works on selections only, and one on households only. */
const focusEvery = 6;
/** The bank's midnight (the end of the notice periods published before it) falls this far into the run. */
const periodsEndAfterMs = Math.max(10_000, seconds * 1000 * 0.5);

const log = (line: string) => console.error(`[chaos] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a seeded generator, so a run's choices can be replayed with CHAOS_SEED. */
function seededRandom(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const stats = {
  attempted: 0, attemptedKeys: 0, acknowledged: 0, acknowledgedKeys: 0, refusedKeys: 0, unresolved: 0, retries: 0,
  refusedByCode: new Map<string, number>(),
  /** Refused keys per kind of write and code ("nominate LIMIT_EXCEEDED"), so a summary shows which refusals each kind met. */
  refusedByWorkload: new Map<string, number>(),
  /** Acknowledged keys per kind of write, so a summary shows that every kind ran. */
  acknowledgedByWorkload: new Map<string, number>(),
  /** Service processes that exited without being killed (restarted and counted; not a violation of SPEC). */
  selfExits: 0,
  faults: { kill: 0, postgres: 0, disconnect: 0 },
};
const ledger: KeyLedger = { acknowledged: new Map(), refused: new Map(), refusedAfterUnanswered: new Map() };
const retryableCodes = new Set(['INTERNAL', 'RATE_LIMITED', 'UNAVAILABLE']);

function record(map: Map<string, Map<string, string>>, subject: string, key: string, value: string): void {
  let bySubject = map.get(subject);
  if (!bySubject) map.set(subject, (bySubject = new Map()));
  bySubject.set(key, value);
}

async function main(): Promise<number> {
  const external = Boolean(process.env.DATABASE_URL);
  const config = loadConfig({
    ...process.env, SEED_DEMO: 'false', DB_POOL_SIZE: '4',
    PG_PORT: process.env.CHAOS_PG_PORT || '54363',
    PG_DATA_DIR: path.resolve(projectRoot, process.env.CHAOS_PG_DATA_DIR || '.data/pg-chaos'),
  });
  const server = await connectDatabaseServer(config, 'civility_chaos', !external, log);
  const migrator = openDatabase(server.url, 2);
  try { await migrateToLatest(migrator.knex, config.partitionMonthsAhead); } finally { await migrator.close(); }
  const random = seededRandom(seed);
  log(`seed ${seed}; ${external ? 'DATABASE_URL' : `embedded PostgreSQL on ${config.embeddedPort}`}; ${serviceCount} services, ${clientCount} clients, ${seconds} s`);

  // The bank under test: a head bank of its own with three gifting branches, the standard rules, members.
  const tag = `chaos-${randomUUID().slice(0, 8)}`;
  const setup = await openBank(config, server.url);
  const head = await createHeadBank(setup, { code: tag, name: 'Chaos head bank', allowGifting: true });
  const branches = await setup.knex.transaction(async (trx) => {
    const made = [];
    for (const i of [1, 2, 3]) made.push(await insertChildBranch(trx, head, { code: `${tag}-b${i}`, name: `Chaos branch ${i}`, allowGifting: true }));
    return made;
  });
  for (const rule of standardRules) {
    await setup.knex('rules').insert({
      head_id: head.id, branch_id: head.id, code: rule.code, version: 1, name: rule.name, category: rule.category,
      outputs: JSON.stringify(rule.outputs), caps: JSON.stringify(rule.caps), requires_approval: false, allowed_clients: [], created_by: 'chaos',
    });
  }
  const members: ChaosMember[] = [];
  for (let i = 0; i < memberCount; i++) {
    const branch = branches[i % branches.length]!;
    const [row] = await setup.knex('members').insert({ head_id: head.id, branch_id: branch.id, external_id: `${tag}-m${i}`, name: `Resident ${i}` }).returning('id');
    await openWallets(setup.knex, head.id, branch.id, String(row.id));
    members.push({ id: String(row.id), externalId: `${tag}-m${i}`, branchCode: branch.code });
  }
  // A rule that needs approval (1 point an hour, at most 3 a day: approvals race on the cap counter).
  await setup.knex('rules').insert({
    head_id: head.id, branch_id: head.id, code: claimRule, version: 1, name: 'Service claimed for approval', category: 'volunteer',
    outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }]), caps: JSON.stringify([{ window: 'DAY', maxCount: '3', maxAmount: null }]),
    requires_approval: true, allowed_clients: [], created_by: 'chaos',
  });
  // The shop (a merchant with a stocked item offered to the whole bank) and an open pool.
  const merchantId = await setup.knex.transaction((trx) => insertMerchant(trx, head.id, branches[0]!.id, 'Chaos shop'));
  const [item] = await setup.knex('catalog_items').insert({
    head_id: head.id, merchant_id: merchantId, code: 'chaos-item', title: 'Chaos item', category: 'chaos', cost: '2.00',
    stock_left: shopStock, visible_branch_id: head.id, voucher_valid_days: 7,
  }).returning('id');
  const poolId = await setup.knex.transaction((trx) => insertPool(trx, head.id, head.id, { title: 'Chaos pool', beneficiary: 'everyone', target: poolTarget, createdBy: 'chaos' }));
  // Households: a rule whose awards credit the member's household (capped per household and day), and
  // the third branch lets only a household's head spend its wallet (the others: any adult).
  await setup.knex('rules').insert({
    head_id: head.id, branch_id: head.id, code: householdRule, version: 1, name: 'Sorted at the household bin', category: 'garbage', beneficiary: 'HOUSEHOLD',
    outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }]), caps: JSON.stringify([{ window: 'DAY', maxCount: '30', maxAmount: null }]),
    requires_approval: false, allowed_clients: [], created_by: 'chaos',
  });
  await setup.knex('branches').where({ id: branches[2]!.id })
    .update({ household_spending: 'HEAD_ONLY', household_spending_changed_by: 'chaos', household_spending_changed_at: setup.knex.fn.now() });
  // The services' clock: ahead of the machine's so that the bank's next midnight comes periodsEndAfterMs into the run.
  const plannedStart = Date.now() + startupAllowanceMs;
  const periodsEnd = plannedStart + periodsEndAfterMs;
  const clockOffsetMs = noticePeriodEnd(new Date(periodsEnd), 1, head.timeZone).getTime() - periodsEnd;
  const bankClock = () => new Date(Date.now() + clockOffsetMs);
  // Selections seeded on notice whose periods end at several moments of the run (by the services' clock), one held by an objection.
  const selectionPlan = await seedChaosSelections(setup.knex, head.id, branches[0]!.id,
    members.filter((m) => m.branchCode === branches[0]!.code).map((m) => m.id), plannedStart + clockOffsetMs, seconds * 1000);
  await setup.close();
  const memberTokens = new Map<string, string>();
  const world: ChaosWorld = {
    headId: head.id, members, random, reversible: [], vouchers: [], fulfilled: [], poolId, claimRule, claims: [],
    selectionRule, clock: bankClock, selections: [], objections: [], householdRule, households: [],
    shop: {
      itemId: String(item.id), tillSubject: 'chaos-till',
      tillToken: signToken(config, { sub: 'chaos-till', role: 'merchant', branch: head.code, merchant: merchantId }),
    },
    adminToken: signToken(config, { sub: 'chaos-admin', role: 'admin', branch: head.code }),
    clientToken: signToken(config, { sub: 'chaos-client', role: 'client', branch: head.code, rules: '*' }),
    memberToken(m) {
      let t = memberTokens.get(m.id);
      if (!t) memberTokens.set(m.id, (t = signToken(config, { sub: `chaos-member-${m.id}`, role: 'member', branch: m.branchCode, member: m.id })));
      return t;
    },
  };

  // The event feed's consumers: the feed itself, and (with NATS_URL) a JetStream stream of this run's own.
  const runToken = tag.slice('chaos-'.length);
  const nats: NatsSettings | undefined = config.nats.url
    ? { ...config.nats, url: config.nats.url, stream: `CHAOS_${runToken}`, subjectPrefix: `chaos_${runToken}`, maxAgeHours: 1 }
    : undefined;
  const services: ServiceProcess[] = [];
  for (let i = 0; i < serviceCount; i++) {
    services.push(new ServiceProcess(`service-${i + 1}`, await freePort(), {
      DATABASE_URL: server.url, SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0',
      SETTLE_INTERVAL_MS: '200', SEAL_INTERVAL_MS: '200', EVENTS_INTERVAL_MS: '200', DB_POOL_SIZE: '8', NODE_ENV: '',
      SELECTIONS_INTERVAL_MS: '250', CLOCK_OFFSET_MS: String(clockOffsetMs),
      ...(nats ? { NATS_URL: nats.url, NATS_STREAM: nats.stream, NATS_SUBJECT_PREFIX: nats.subjectPrefix, NATS_MAX_AGE_HOURS: '1', NATS_PUBLISH_INTERVAL_MS: '200' } : { NATS_URL: '' }),
    }));
  }
  await Promise.all(services.map((s) => s.start()));
  // A service that dies by itself (not killed by the harness, not failing to start while the database
  // is down) is worth a line: it is restarted like a process manager would, and counted.
  const restarting = new Set<ServiceProcess>();
  for (const s of services) {
    s.onExit = (code, signal) => {
      if (signal === 'SIGKILL' || restarting.has(s) || !faultsOn) return;
      stats.selfExits += 1;
      log(`${s.name} exited by itself (${code ?? signal}); its last lines:\n    ${s.tail.join('\n    ')}`);
      restarts.push(restart(s));
    };
  }
  log(`services up: ${services.map((s) => s.url).join(', ')}`);

  let faultsOn = false;
  const hardStop = { at: Infinity };
  const restarts: Promise<void>[] = [];
  const violationsOfHarness: string[] = [];

  /** Sends one write until it has an answer per key (or the retries run out); records the outcome. */
  async function send(request: WriteRequest): Promise<void> {
    stats.attempted += 1;
    stats.attemptedKeys += request.keys.length;
    const body = JSON.stringify({ query: request.query, variables: request.variables });
    // Whether an attempt went out and got no answer: it may still be running on the server.
    let unanswered = false;
    /** Why the last attempt did not count, for the log line of a write left unresolved. */
    let lastFailure = 'no service up';
    for (let attempt = 1; attempt <= attemptsMax && Date.now() < hardStop.at; attempt++) {
      if (attempt > 1) {
        stats.retries += 1;
        await sleep(Math.min(backoffMaxMs, 10 * 2 ** Math.min(attempt, 10)) * (0.5 + random() / 2));
      }
      const up = services.filter((s) => s.running);
      if (!up.length) continue;
      const service = up[Math.floor(random() * up.length)]!;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
      if (faultsOn && random() < disconnectRate) {
        // the client walks away mid-request (a phone losing signal); it retries later with the same key
        stats.faults.disconnect += 1;
        setTimeout(() => controller.abort(), Math.floor(random() * 30));
      }
      let outcomes: KeyOutcome[];
      try {
        const res = await fetch(`${service.url}/graphql`, {
          method: 'POST', body, signal: controller.signal,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${request.token}` },
        });
        lastFailure = `HTTP ${res.status}`;
        if (res.status === 429) continue; // refused at the edge, before anything ran
        if (res.status >= 500) {
          unanswered = true;
          continue;
        }
        const answer = await res.json() as { data?: any; errors?: { message?: string; extensions?: { code?: string } }[] };
        if (answer.errors?.length) {
          const code = answer.errors[0]!.extensions?.code ?? 'NONE';
          lastFailure = `${code}: ${answer.errors[0]!.message}`;
          if (retryableCodes.has(code)) {
            unanswered ||= code === 'INTERNAL' || code === 'UNAVAILABLE';
            continue;
          }
          outcomes = request.keys.map(() => ({ refused: code }));
        } else {
          outcomes = workloads.find((w) => w.name === request.workload)!.read(answer.data, request);
        }
      } catch (error) {
        lastFailure = String((error as Error)?.message ?? error);
        unanswered = true;
        continue; // connection refused or reset, timeout, or our own disconnect: retry with the same keys
      } finally {
        clearTimeout(timer);
      }
      stats.acknowledged += outcomes.some((o) => 'transactionId' in o) ? 1 : 0;
      const workload = workloads.find((w) => w.name === request.workload)!;
      outcomes.forEach((o, i) => {
        const key = request.keys[i]!;
        if ('transactionId' in o) {
          stats.acknowledgedKeys += 1;
          stats.acknowledgedByWorkload.set(request.workload, (stats.acknowledgedByWorkload.get(request.workload) ?? 0) + 1);
          record(ledger.acknowledged, request.subject, key, o.transactionId);
          workload.acknowledged?.(world, o.transactionId, request);
        } else {
          stats.refusedKeys += 1;
          stats.refusedByCode.set(o.refused, (stats.refusedByCode.get(o.refused) ?? 0) + 1);
          const kind = `${request.workload} ${o.refused}`;
          stats.refusedByWorkload.set(kind, (stats.refusedByWorkload.get(kind) ?? 0) + 1);
          record(unanswered ? ledger.refusedAfterUnanswered : ledger.refused, request.subject, key, o.refused);
        }
      });
      return;
    }
    stats.unresolved += 1;
    log(`unresolved: ${request.workload} (keys ${request.keys.slice(0, 3).join(', ')}${request.keys.length > 3 ? ', …' : ''}), last: ${lastFailure}`);
  }

  let keyCount = 0;
  const key = () => `${tag}-${++keyCount}`;
  // Every member starts with points to give (acknowledged writes like any other).
  await Promise.all(members.map((m) => send({
    workload: 'adjustBalance', token: world.adminToken, subject: 'chaos-admin', keys: [`${tag}-fund-${m.id}`],
    query: 'mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }',
    variables: { i: { idempotencyKey: `${tag}-fund-${m.id}`, member: { id: m.id }, asset: 'POINTS', amount: '50.00', reason: 'chaos opening balance' } },
  })));

  // Households of two to four members of a branch (the first an adult and the head, now and then a minor), through upsertHousehold.
  const householdMembers = members.filter(() => random() < inHouseholdsShare);
  for (const branch of branches) {
    const own = householdMembers.filter((m) => m.branchCode === branch.code);
    while (own.length) {
      const group = own.splice(0, 2 + Math.floor(random() * 3));
      world.households.push({ externalId: `${tag}-h${world.households.length + 1}`, branchCode: branch.code, members: [], head: null });
      const household = world.households.at(-1)!;
      const k = key();
      const membership = group.map((member, i) => ({ member, adult: i === 0 || random() < 0.7 }));
      household.members = membership;
      household.head = group[0]!;
      await send({
        workload: 'upsertHousehold', token: world.adminToken, subject: 'chaos-admin', keys: [k], query: upsertHouseholdQuery,
        variables: { i: { idempotencyKey: k, ...householdInput(household, membership, group[0]!) } }, context: {},
      });
    }
  }

  const deadline = Date.now() + seconds * 1000;
  faultsOn = true;
  log(`the bank's clock runs ${Math.round(clockOffsetMs / 1000)} s ahead: its midnight, the end of the notice periods published before it, comes ${((periodsEnd - Date.now()) / 1000).toFixed(1)} s into the run`);
  async function restart(service: ServiceProcess): Promise<void> {
    restarting.add(service);
    try {
      for (let i = 1; i <= restartAttemptsMax; i++) {
        try { await service.start(); return; } catch { await sleep(500); }
      }
      violationsOfHarness.push(`${service.name} could not be restarted: ${service.tail.slice(-3).join(' | ')}`);
    } finally {
      restarting.delete(service);
    }
  }
  async function terminateBackends(): Promise<void> {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    } finally {
      await client.end();
    }
  }
  const faults = (async () => {
    for (let n = 0; Date.now() < deadline; n++) {
      await sleep(faultIntervalMs * (0.5 + random()));
      if (Date.now() >= deadline) break;
      // a service still coming back from an earlier fault is left alone: one restart at a time each
      const up = services.filter((s) => s.running && !restarting.has(s));
      // the first two faults are one of each kind, so that even a short run has both
      if ((n === 0 || (n > 1 && random() < 0.6)) && up.length) {
        const victim = up[Math.floor(random() * up.length)]!;
        victim.kill();
        stats.faults.kill += 1;
        log(`fault: SIGKILL ${victim.name}`);
        restarts.push(restart(victim));
      } else {
        stats.faults.postgres += 1;
        try {
          const crash = random() < 0.7;
          log(`fault: PostgreSQL ${server.restart ? (crash ? 'crash' : 'clean') + ' restart' : 'backends terminated'}`);
          if (server.restart) await server.restart(crash);
          else await terminateBackends();
          log('PostgreSQL back');
        } catch (error) {
          violationsOfHarness.push(`PostgreSQL could not be restarted: ${(error as Error).message}`);
          return;
        }
      }
    }
  })();
  // A service killed just as the periods end: in the middle of the awarding rounds.
  const periodsEndFault = setTimeout(() => {
    const up = services.filter((s) => s.running && !restarting.has(s));
    if (!faultsOn || !up.length) return;
    const victim = up[Math.floor(random() * up.length)]!;
    victim.kill();
    stats.faults.kill += 1;
    log(`fault: SIGKILL ${victim.name} as the notice periods end`);
    restarts.push(restart(victim));
  }, Math.max(0, periodsEnd - Date.now()) + 100 + random() * 600);
  // Every focusEvery-th client works on selections only (they also run in everyone's mix): a steady
  // stream of them, published before the periods end, however busy the rest is.
  // The admin dismisses the objection that holds the first seeded selection, mid-run, through the API:
  // retried with one key until a service answers (it writes no transaction, so it is outside the key ledger).
  const resolving = (async () => {
    await sleep(Math.max(0, selectionPlan.held.resolveAt - bankClock().getTime()));
    const body = JSON.stringify({
      query: 'mutation($i: ResolveObjectionInput!) { resolveObjection(input: $i) { objection { status } } }',
      variables: { i: { idempotencyKey: `${tag}-resolve-objection`, objection: selectionPlan.held.objectionId, decision: 'DISMISSED', reason: 'chaos: checked' } },
    });
    for (let attempt = 1; attempt <= attemptsMax && Date.now() < hardStop.at; attempt++) {
      const up = services.filter((s) => s.running);
      try {
        if (up.length) {
          const res = await fetch(`${up[Math.floor(random() * up.length)]!.url}/graphql`, {
            method: 'POST', body, signal: AbortSignal.timeout(requestTimeoutMs), headers: { 'content-type': 'application/json', authorization: `Bearer ${world.adminToken}` },
          });
          const answer = await res.json() as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
          if (answer.data?.resolveObjection) return;
          const code = answer.errors?.[0]?.extensions?.code ?? '';
          if (!retryableCodes.has(code)) { violationsOfHarness.push(`resolveObjection was refused: ${answer.errors?.[0]?.message}`); return; }
        }
      } catch { /* a fault: retry with the same key */ }
      await sleep(Math.min(backoffMaxMs, 10 * 2 ** Math.min(attempt, 10)));
    }
    violationsOfHarness.push('resolveObjection got no answer');
  })();
  const clients = Array.from({ length: clientCount }, async (_, i) => {
    const list = i % focusEvery === focusEvery - 1 ? selectionWorkloads : i % focusEvery === 2 ? householdWorkloads : workloads;
    while (Date.now() < deadline) {
      const request = drawWorkload(world, list).build(world, key);
      if (request) await send(request);
    }
  });
  const progress = setInterval(() => log(`${stats.attempted} writes, ${stats.acknowledged} acknowledged, faults ${JSON.stringify(stats.faults)}; `
    + `services ${services.map((s) => `${s.name} ${s.running ? 'up' : 'down'}`).join(', ')}`), 10_000);
  await faults;
  faultsOn = false;
  clearTimeout(periodsEndFault);
  await Promise.all(restarts);
  hardStop.at = Date.now() + drainMs;
  await Promise.all(clients);
  await resolving;
  clearInterval(progress);
  await Promise.all(services.map((s) => s.stop()));

  // The services are gone: seal and settle what they left, then check.
  const checker = await openBank(config, server.url, bankClock);
  let violations: string[];
  let feedFigures: string;
  let selectionFigures: string;
  let householdFigures: string;
  try {
    // The final awarding round, at the services' clock: what the faults left due is paid now.
    const finalRound = await awardDueSelections(checker, checker.clock(), {}, head.id);
    const selections = await checkSelections(checker, head.id, checker.clock(), selectionPlan.ids);
    selectionFigures = `${selections.figures}; winners paid by the services' rounds under faults ${selections.paid - finalRound.awarded}, `
      + `by the final round ${finalRound.awarded} (of ${finalRound.selections} selections, ${finalRound.refused} refused)`;
    // How far the services' producer got on its own, before the feed is brought up to date here.
    const { rows: [lag] } = await checker.pool.query(
      `SELECT (SELECT count(*) FROM journal_seals WHERE head_id = $1)::int AS sealed, coalesce((SELECT seal_sequence FROM event_feeds WHERE head_id = $1), 0)::int AS fed`, [head.id]);
    await sealJournal(checker, head.id);
    while ((await settleAccountDeltas(checker)) > 0);
    await produceAllEvents(checker, head.id);
    const feed = await checkFeedDelivery(checker, head.id, nats);
    feedFigures = `${feed.figures}; the services' producers had fed ${lag.fed} of the ${lag.sealed} transactions sealed when they stopped`;
    const households = await checkHouseholds(checker, head.id);
    householdFigures = households.figures;
    violations = [...violationsOfHarness, ...(await checkAfterFaults(checker, head.id, ledger, { itemId: String(item.id), initialStock: shopStock })), ...feed.violations,
      ...selections.violations, ...households.violations];
  } finally {
    await checker.close();
    await server.stop();
  }
  const faultsTotal = stats.faults.kill + stats.faults.postgres + stats.faults.disconnect;
  const refused = [...stats.refusedByCode].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  console.log(`chaos: ${seconds} s, seed ${seed}, ${serviceCount} services, ${clientCount} clients — attempted ${stats.attempted} writes (${stats.attemptedKeys} keys), `
    + `acknowledged ${stats.acknowledged} (${stats.acknowledgedKeys} keys), refused ${stats.refusedKeys} keys (${refused}), unresolved ${stats.unresolved}, retries ${stats.retries}; `
    + `faults ${faultsTotal} (service SIGKILL ${stats.faults.kill}, PostgreSQL ${server.restart ? 'restart' : 'backends terminated'} ${stats.faults.postgres}, client disconnect ${stats.faults.disconnect}); `
    + `services exiting by themselves ${stats.selfExits}; violations ${violations.length}`);
  console.log(`acknowledged keys by kind: ${[...stats.acknowledgedByWorkload].map(([w, n]) => `${w} ${n}`).join(', ')}`);
  console.log(`refused keys by kind: ${[...stats.refusedByWorkload].sort((a, b) => b[1] - a[1]).map(([w, n]) => `${w} ${n}`).join(', ') || 'none'}`);
  console.log(`events: ${feedFigures}`);
  console.log(`selections: ${selectionFigures}`);
  console.log(`households: ${householdFigures}`);
  for (const v of violations) console.log(`  violation: ${v}`);
  return violations.length;
}

main().then((violations) => process.exit(violations ? 1 : 0), (error) => {
  log(`failed: ${error?.stack ?? error}`);
  process.exit(2);
});
