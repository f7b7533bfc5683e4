// The shared test harness: starts the service once per test file against the real test database,
// makes the file's own head bank (with the standard rules, three branches and members), mints
// tokens, calls GraphQL over HTTP, and checks the ledger's invariants at the end of the file.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { inject, expect } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import type { Bank } from '../../src/bank.js';
import { buildApp, type BuiltApp } from '../../src/http/app.js';
import { createHeadBank, insertChildBranch, type Branch } from '../../src/directory/branches.js';
import { openWallets } from '../../src/directory/members.js';
import { insertMerchant } from '../../src/redemption/merchants.js';
import { signToken, type TokenClaims } from '../../src/auth/tokens.js';
import { computeTrialBalance, findBalanceMismatches } from '../../src/ledger/accounts.js';
import { foldAllBranchDeltas, foldAllRollups, settleAccountDeltas } from '../../src/ledger/settle.js';
import { sealJournal } from '../../src/ledger/seal.js';
import { verifyHeadBank } from '../../src/ledger/verify.js';
import { formatAmount } from '../../src/ledger/amounts.js';
import { standardRules } from '../../seeds/demo.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';
import { findLotMismatches } from '../../src/expiry/lots.js';

export interface GraphQLResponse<T = any> {
  status: number;
  data: T | null | undefined;
  errors: { message: string; extensions?: { code?: string; field?: string } }[] | undefined;
}

export interface Harness {
  bank: Bank;
  url: string;
  head: Branch;
  branches: Branch[];
  /** A unique prefix for this file's codes and keys. */
  tag: string;
  token(claims: Partial<TokenClaims> & { role: TokenClaims['role'] }, expiresInSeconds?: number): string;
  adminToken: string;
  clientToken: string;
  gql<T = any>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** A member wallet's posted balance, read from the table, at the asset's scale. */
  walletBalance(memberId: string, asset?: string): Promise<string>;
  /** Transactions of the file's head bank matching where (all by default). */
  transactionCount(where?: Record<string, unknown>): Promise<number>;
  /** Creates a merchant with its POINTS account directly (setup only), returns its id. */
  addMerchant(name: string, branch?: Branch): Promise<string>;
  /** Gives a member POINTS through an admin's adjustBalance (setup through the API). */
  fund(memberId: string, amount: string): Promise<void>;
  /** Creates a member directly (setup only), returns its id. */
  addMember(externalId: string, branch?: Branch, flags?: { party?: boolean; volunteer?: boolean }): Promise<string>;
  key(): string;
  /**
   * What any write of the file's head bank leaves behind: rows of every table a mutation writes, and
   * the statuses and stock a voucher, pool, claim or score-year write moves. A refused request must
   * leave it as it was.
   */
  footprint(): Promise<string>;
  /** The SQL statements the service sends (through its pg pool or knex) while work runs. */
  statementsOf(work: () => Promise<void>): Promise<number>;
  checkInvariants(): Promise<void>;
  close(): Promise<void>;
}

export interface RunningApp { bank: Bank; config: Config; url: string; close(): Promise<void> }

/**
 * The service on a free port against the test database, configured by env on top of the process's
 * own. Test files send hundreds of requests a second from one token, so rate limits are off unless
 * env turns them on (test/http/limits.test.ts does).
 */
export async function startApp(env: Record<string, string> = {}, databaseUrl: string = inject('databaseUrl')): Promise<RunningApp> {
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false', RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', ...env });
  const bank = await openBank(config, databaseUrl);
  const built = await buildApp(bank, () => undefined);
  const server: Server = await new Promise((resolve) => {
    const s = built.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    bank, config, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await built.stop();
      await bank.close();
    },
  };
}

/** An app a test built itself (its own logger, metrics or bank), on a free port; close stops it and the app. */
export async function serveApp(built: BuiltApp): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = built.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await built.stop();
    },
  };
}

export async function startHarness(options: { poolSize?: number; env?: Record<string, string>; databaseUrl?: string } = {}): Promise<Harness> {
  const tag = `t${randomUUID().slice(0, 8)}`;
  const { bank, url, close, config } = await startApp({ DB_POOL_SIZE: String(options.poolSize ?? 20), ...options.env }, options.databaseUrl);
  // The end-of-file checks recompute whole head banks from postings: a test's check, not a request,
  // so they run on connections without the service's per-request statement_timeout.
  const checker = await openBank(config, options.databaseUrl ?? inject('databaseUrl'), undefined, 0);
  const head = await createHeadBank(bank, { code: `${tag}-head`, name: `Test head ${tag}`, allowGifting: true });
  const branches = await bank.knex.transaction(async (trx) => [
    await insertChildBranch(trx, head, { code: `${tag}-a`, name: 'Branch A', allowGifting: true }),
    await insertChildBranch(trx, head, { code: `${tag}-b`, name: 'Branch B', allowGifting: true }),
    await insertChildBranch(trx, head, { code: `${tag}-c`, name: 'Branch C (no gifting)', allowGifting: false }),
  ]);
  for (const b of branches) bank.branches.remember(b);
  for (const rule of standardRules) {
    await bank.knex('rules').insert({
      head_id: head.id, branch_id: head.id, code: rule.code, version: 1, name: rule.name, category: rule.category,
      outputs: JSON.stringify(rule.outputs), caps: JSON.stringify(rule.caps), requires_approval: false,
      allowed_clients: [], created_by: 'test-harness',
    });
  }
  const token: Harness['token'] = (claims, expiresInSeconds) =>
    signToken(config, { sub: claims.sub ?? `${claims.role}-${tag}`, branch: head.code, ...claims } as TokenClaims, expiresInSeconds);
  const agent = request(url);
  let keys = 0;
  const harness: Harness = {
    bank, url, head, branches, tag, token,
    adminToken: token({ role: 'admin', sub: `admin-${tag}` }),
    clientToken: token({ role: 'client', sub: `client-${tag}`, rules: '*' }),
    async gql(tokenValue, query, variables) {
      const req = agent.post('/graphql').set('content-type', 'application/json');
      if (tokenValue) req.set('authorization', `Bearer ${tokenValue}`);
      const res = await req.send({ query, variables });
      return { status: res.status, data: res.body?.data, errors: res.body?.errors };
    },
    async addMember(externalId, branch = branches[0]!, flags = {}) {
      const [row] = await bank.knex('members').insert({
        head_id: head.id, branch_id: branch.id, external_id: externalId, name: `Member ${externalId}`,
        is_party_member: flags.party ?? false, is_volunteer: flags.volunteer ?? false,
      }).returning('id');
      await openWallets(bank.knex, head.id, branch.id, String(row.id));
      return String(row.id);
    },
    async addMerchant(name, branch = branches[0]!) {
      return bank.knex.transaction((trx) => insertMerchant(trx, head.id, branch.id, name));
    },
    async fund(memberId, amount) {
      const res = await harness.gql(harness.adminToken, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
        { i: { idempotencyKey: harness.key(), member: { id: memberId }, asset: 'POINTS', amount, reason: 'test funding' } });
      expect(res.errors, 'funding a member').toBeUndefined();
    },
    async walletBalance(memberId, asset = 'POINTS') {
      const row = await bank.knex('accounts')
        .where({ head_id: head.id, owner_type: 'MEMBER', owner_id: memberId, asset_code: asset, purpose: 'WALLET' }).first('balance');
      return formatAmount(row.balance, bank.assets.get(asset).scale);
    },
    async transactionCount(where = {}) {
      const [row] = await bank.knex('transactions').where({ head_id: head.id, ...where }).count({ n: '*' });
      return Number(row!.n);
    },
    key: () => `${tag}-k${++keys}-${randomUUID().slice(0, 8)}`,
    async statementsOf(work) {
      let statements = 0;
      const count = () => { statements++; };
      bank.knex.on('query', count);
      const query = bank.pool.query.bind(bank.pool);
      bank.pool.query = ((...args: any[]) => { statements++; return (query as any)(...args); }) as any;
      try {
        await work();
      } finally {
        bank.knex.off('query', count);
        bank.pool.query = query;
      }
      return statements;
    },
    async footprint() {
      const count = (table: string, what = 'count(*)') => `(SELECT ${what} FROM ${table} WHERE head_id = :head)`;
      const { rows } = await bank.knex.raw(`SELECT
        ${count('transactions')} AS transactions, ${count('transactions', "count(*) FILTER (WHERE status = 'PENDING')")} AS pending,
        ${count('postings')} AS postings, ${count('members')} AS members, ${count('branches')} AS branches, ${count('rules')} AS rules,
        ${count('idempotency_keys')} AS keys, ${count('merchants')} AS merchants,
        ${count('catalog_items', "count(*) || '/' || coalesce(sum(stock_left), 0) || '/' || coalesce(max(updated_at)::text, '')")} AS items,
        ${count('redemptions', "count(*) || '/' || count(*) FILTER (WHERE status = 'PENDING') || '/' || count(*) FILTER (WHERE status = 'FULFILLED')")} AS redemptions,
        ${count('pools', "count(*) || '/' || count(*) FILTER (WHERE status = 'OPEN') || '/' || count(*) FILTER (WHERE status = 'FUNDED') || '/' || coalesce(sum(raised), 0)")} AS pools,
        ${count('pool_donations')} AS donations,
        ${count('claims', "count(*) || '/' || count(*) FILTER (WHERE status = 'PENDING')")} AS claims,
        ${count('score_year_closures', "count(*) || '/' || count(reopened_at)")} AS closures`, { head: head.id });
      return JSON.stringify(rows[0]);
    },
    async checkInvariants() {
      // Invariant 1: per asset the head bank's balances sum to zero (before and after settling).
      for (const line of await computeTrialBalance(checker, head.id)) expect(line, `trial balance of ${line.asset}`).toMatchObject({ balanced: true });
      // Invariant 2: every balance equals the sum of its postings; held equals pending debits.
      expect(await findBalanceMismatches(checker, head.id)).toEqual([]);
      await settleAccountDeltas(checker);
      for (const line of await computeTrialBalance(checker, head.id)) expect(line, `trial balance of ${line.asset} after settling`).toMatchObject({ balanced: true });
      expect(await findBalanceMismatches(checker, head.id)).toEqual([]);
      // Invariant 3: no member or household wallet of a non-negative asset is below zero, unless a forced reversal took it there.
      const { rows } = await checker.knex.raw(`
        SELECT a.id FROM accounts a WHERE a.head_id = ? AND a.owner_type IN ('MEMBER', 'HOUSEHOLD') AND NOT a.allow_negative AND a.balance - a.held < 0
           AND NOT EXISTS (SELECT 1 FROM postings p JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
                            WHERE p.head_id = a.head_id AND p.account_id = a.id AND t.forced)`, [head.id]);
      expect(rows, 'member wallets below zero').toEqual([]);
      // Invariant 6: a redemption's status and its REDEEM transaction's agree (no hold left behind a
      // released voucher, none posted twice), and a pool holds what it raised until it pays out.
      const { rows: vouchers } = await checker.knex.raw(`
        SELECT r.code, r.status, t.status AS txn FROM redemptions r JOIN transactions t ON t.head_id = r.head_id AND t.id = r.transaction_id
         WHERE r.head_id = ? AND t.status <> CASE WHEN r.status = 'PENDING' THEN 'PENDING' WHEN r.status IN ('FULFILLED', 'REFUNDED') THEN 'POSTED' ELSE 'VOIDED' END`, [head.id]);
      expect(vouchers, 'redemptions whose transaction disagrees').toEqual([]);
      const { rows: pools } = await checker.knex.raw(`
        SELECT p.id, p.status, p.raised, a.balance FROM pools p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
         WHERE p.head_id = ? AND a.balance <> CASE WHEN p.status IN ('OPEN', 'FUNDED') THEN p.raised ELSE 0 END`, [head.id]);
      expect(pools, 'pools whose account disagrees with their status').toEqual([]);
      // Report rollups equal the direct computation from POSTED postings, whatever wrote them: with
      // the journal's tail and the branch deltas not yet folded, as reports read them; and once
      // everything is folded, the rows alone.
      expect(await findRollupMismatches(checker, head.id), 'rollups with the unfolded tail that differ from postings').toEqual([]);
      await foldEverything(checker, head.id);
      expect(await findRollupMismatches(checker, head.id), 'rollups that differ from postings after folding').toEqual([]);
      expect(await findRollupMismatches(checker, head.id, { folded: true }), 'folded rollups alone that differ from postings').toEqual([]);
      // Point expiry's lots (issue 16 §3), where a policy is on: open lots less the deficit equal what
      // each wallet has available, each lot's remaining the sum of its moves.
      expect(await findLotMismatches(checker, head.id), 'lots that differ from their wallets').toEqual([]);
      // Invariant 8: every final transaction seals into the chain, and the whole chain recomputes.
      await sealJournal(checker, head.id);
      const report = await verifyHeadBank(checker, head.id);
      expect(report.problems, 'verifyLedger').toEqual([]);
      expect(report.transactionsQueued).toBe(0);
    },
    async close() {
      await checker.close();
      await close();
    },
  };
  return harness;
}

/** How long foldEverything waits for writers of other test files (which hold the fold's horizon back) to finish. */
const foldEverythingMs = 20_000;

/**
 * Folds the journal's tail until none of the head bank's transactions is left in it (other test
 * files' writers running meanwhile hold the fold's horizon back for a moment), then the branch deltas.
 */
export async function foldEverything(bank: Bank, headId: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    await foldAllRollups(bank);
    const { rows: [left] } = await bank.knex.raw(`SELECT count(*)::int AS n FROM transactions t
      WHERE t.head_id = ? AND t.txid >= (SELECT folded_below FROM rollup_fold)`, [headId]);
    if (left.n === 0) break;
    if (Date.now() - started > foldEverythingMs) throw new Error(`${left.n} transactions still unfolded after ${foldEverythingMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await foldAllBranchDeltas(bank);
}

/** The error codes of a response, for compact assertions. */
export function codes(res: GraphQLResponse): (string | undefined)[] {
  return (res.errors ?? []).map((e) => e.extensions?.code);
}
