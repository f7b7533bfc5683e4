// The tamper-evident journal: every final transaction is sealed into its head bank's digest chain
// once and in order (several sealers at once included), ledgerDigest publishes the chain's head, and
// verifyLedger / npm run verify catch a posting edited, deleted or inserted behind the service's back.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { openBank } from '../../src/bank.js';
import { sealJournal } from '../../src/ledger/seal.js';
import { verifyHeadBank } from '../../src/ledger/verify.js';
import { projectRoot } from '../../src/config.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 8 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const digestQuery = `{ ledgerDigest { sequence digest sealedAt queued } }`;
const verifyQuery = `query($p: PublishedDigestInput) { verifyLedger(published: $p) {
  ok sequence digest transactionsSealed transactionsQueued accountsChecked problemCount
  problems { check message transactionId accountId sequence } trialBalance { asset total balanced } } }`;

async function awardMany(count: number, memberId: string): Promise<string[]> {
  // the negative list has no caps, so any number of entries go through
  const awards = Array.from({ length: count }, () => ({ idempotencyKey: h.key(), memberId, rule: 'party.negative-list.absence' }));
  const res = await h.gql(h.clientToken, `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { results { transactionId error { code } } } }`,
    { input: { awards } });
  expect(res.errors).toBeUndefined();
  expect(res.data.awardPointsBatch.results.filter((r: any) => r.error)).toEqual([]);
  return res.data.awardPointsBatch.results.map((r: any) => r.transactionId);
}

async function verify(published?: { sequence: string; digest: string }) {
  const res = await h.gql(h.adminToken, verifyQuery, { p: published ?? null });
  expect(res.errors).toBeUndefined();
  return res.data.verifyLedger;
}

/** Runs SQL as a superuser who turned triggers off for the transaction (the append-only guard among them). */
async function behindTheServicesBack(sql: string, bindings: unknown[]): Promise<void> {
  await h.bank.knex.transaction(async (trx) => {
    await trx.raw(`SET LOCAL session_replication_role = replica`);
    await trx.raw(sql, bindings as any);
  });
}

/** The report names the transaction first (a broken link), then its imbalance and the account whose balance no longer matches. */
async function expectCaught(transactionId: string, accountId: string): Promise<void> {
  const report = await verify();
  expect(report.ok).toBe(false);
  expect(report.problems[0]).toMatchObject({ check: 'CHAIN', transactionId });
  expect(report.problems).toContainEqual(expect.objectContaining({ check: 'TRANSACTION_BALANCE', transactionId }));
  expect(report.problems).toContainEqual(expect.objectContaining({ check: 'ACCOUNT_BALANCE', accountId }));
}

async function aPosting(transactionId: string): Promise<Record<string, any>> {
  const row = await h.bank.knex('postings').where({ head_id: h.head.id, transaction_id: transactionId }).orderBy('line').first();
  expect(row).toBeDefined();
  return row;
}

describe('sealing the journal', () => {
  it('gives every final transaction one place in the chain, and ledgerDigest moves with it', async () => {
    await sealJournal(h.bank, h.head.id);
    const before = (await h.gql(h.clientToken, digestQuery)).data.ledgerDigest;
    const member = await h.addMember(`${h.tag}-sealed`);
    const ids = await awardMany(5, member);
    expect((await h.gql(h.clientToken, digestQuery)).data.ledgerDigest.queued).toBe(5);
    expect(await sealJournal(h.bank, h.head.id)).toBe(5);
    const after = (await h.gql(h.clientToken, digestQuery)).data.ledgerDigest;
    expect(BigInt(after.sequence) - BigInt(before.sequence)).toBe(5n);
    expect(after.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(after.digest).not.toBe(before.digest);
    expect(after.queued).toBe(0);
    const seals = await h.bank.knex('journal_seals').where({ head_id: h.head.id }).whereIn('transaction_id', ids).select('sequence');
    expect(seals).toHaveLength(5);
    const report = await verify();
    expect(report).toMatchObject({ ok: true, sequence: after.sequence, digest: after.digest, problemCount: 0 });
  });

  it('seals each transaction once and in order when several processes seal at the same moment', async () => {
    const member = await h.addMember(`${h.tag}-racing-sealers`);
    for (let i = 0; i < 4; i++) await awardMany(100, member);
    const banks = await Promise.all([1, 2, 3, 4].map(() => openBank(h.bank.config, inject('databaseUrl'))));
    try {
      const sealed = await Promise.all(banks.map((b) => sealJournal(b, h.head.id)));
      expect(sealed.reduce((a, b) => a + b, 0)).toBe(400);
    } finally {
      await Promise.all(banks.map((b) => b.close()));
    }
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n, count(DISTINCT transaction_id)::int AS d, max(sequence)::int AS top
      FROM journal_seals WHERE head_id = ?`, [h.head.id]);
    expect(rows[0].n).toBe(rows[0].d);
    expect(rows[0].top).toBe(rows[0].n);
    expect(await verify()).toMatchObject({ ok: true, problemCount: 0 });
  });

  it('seals the queue in its order where its ids gain a digit (9,999 then 10,000), not in their text order', async () => {
    await sealJournal(h.bank, h.head.id);
    const { rows: [{ last }] } = await h.bank.knex.raw(`SELECT last_value::text AS last FROM journal_seal_queue_id_seq`);
    // The next ids straddle a power of ten above every id the queue ever gave.
    const power = 10n ** BigInt(String(last).length + 1);
    await h.bank.knex.raw(`ALTER TABLE journal_seal_queue ALTER COLUMN id RESTART WITH ${power - 5n}`);
    const member = await h.addMember(`${h.tag}-sealed-across-a-digit`);
    const ids = await awardMany(10, member);
    const { rows: queued } = await h.bank.knex.raw(`SELECT q.id::text AS id, q.transaction_id::text AS t FROM journal_seal_queue q
      WHERE q.head_id = ? ORDER BY q.id`, [h.head.id]);
    expect(queued.map((r: any) => r.t).sort()).toEqual([...ids].sort());
    expect(queued.map((r: any) => r.id)).toContain(String(power));
    expect(await sealJournal(h.bank, h.head.id)).toBe(10);
    const { rows: sealed } = await h.bank.knex.raw(`SELECT transaction_id::text AS t FROM journal_seals
      WHERE head_id = ? AND transaction_id = ANY(?::bigint[]) ORDER BY sequence`, [h.head.id, ids]);
    expect(sealed.map((r: any) => r.t)).toEqual(queued.map((r: any) => r.t));
    expect(await verify()).toMatchObject({ ok: true, problemCount: 0 });
  });

  it('recomputes the chain from a checkpoint verified earlier (since), and refuses a checkpoint the chain no longer holds', async () => {
    await sealJournal(h.bank, h.head.id);
    const checkpoint = (await h.gql(h.adminToken, digestQuery)).data.ledgerDigest;
    await awardMany(7, await h.addMember(`${h.tag}-after-checkpoint`));
    await sealJournal(h.bank, h.head.id);
    const sinceQuery = `query($s: PublishedDigestInput) { verifyLedger(since: $s) { ok transactionsSealed sequence problems { check sequence } } }`;
    const tail = await h.gql(h.adminToken, sinceQuery, { s: { sequence: checkpoint.sequence, digest: checkpoint.digest } });
    expect(tail.data.verifyLedger).toMatchObject({ ok: true, transactionsSealed: 7, sequence: String(BigInt(checkpoint.sequence) + 7n) });
    const forged = await h.gql(h.adminToken, sinceQuery, { s: { sequence: checkpoint.sequence, digest: 'f'.repeat(64) } });
    expect(forged.data.verifyLedger.ok).toBe(false);
    expect(forged.data.verifyLedger.problems[0]).toMatchObject({ check: 'PUBLISHED_DIGEST', sequence: checkpoint.sequence });
    expect(codes(await h.gql(h.adminToken, sinceQuery, { s: { sequence: 'x', digest: 'nope' } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses changing a final status: the seal covers it', async () => {
    const member = await h.addMember(`${h.tag}-final`);
    const [id] = await awardMany(1, member);
    await expect(h.bank.knex('transactions').where({ head_id: h.head.id, id }).update({ status: 'VOIDED' })).rejects.toThrow(/final status/);
  });

  it('seals a PENDING transaction only once it becomes final', async () => {
    const id = String((await h.bank.knex.raw(`SELECT nextval('transactions_id_seq') AS id`)).rows[0].id);
    await h.bank.knex('transactions').insert({
      head_id: h.head.id, id, kind: 'REDEEM', status: 'PENDING', branch_id: h.branches[0]!.id,
      principal_sub: 'test', principal_role: 'member', occurred_at: new Date(), recorded_at: new Date(),
    });
    await sealJournal(h.bank, h.head.id);
    expect(await h.bank.knex('journal_seals').where({ head_id: h.head.id, transaction_id: id }).first()).toBeUndefined();
    await h.bank.knex('transactions').where({ head_id: h.head.id, id }).update({ status: 'VOIDED' });
    await sealJournal(h.bank, h.head.id);
    expect(await h.bank.knex('journal_seals').where({ head_id: h.head.id, transaction_id: id }).first()).toBeDefined();
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('ledgerDigest is for everyone of the bank; verifyLedger for admins of the head bank only', async () => {
    for (const role of ['admin', 'client', 'member', 'merchant'] as const) {
      const token = h.token({ role, member: '1', merchant: '1' });
      expect(codes(await h.gql(token, digestQuery)), role).toEqual([]);
    }
    expect(codes(await h.gql(h.clientToken, verifyQuery))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.token({ role: 'admin', branch: h.branches[0]!.code }), verifyQuery))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(null, digestQuery))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('verifyLedger catches history changed behind the service', () => {
  let member: string;
  let transactionId: string;
  beforeAll(async () => {
    member = await h.addMember(`${h.tag}-tampered`);
    [transactionId] = await awardMany(3, member) as [string];
    await sealJournal(h.bank, h.head.id);
  });

  it('an edited posting amount: the chain breaks at that transaction, the wallet no longer matches its postings', async () => {
    const posting = await aPosting(transactionId);
    const where = `head_id = ? AND transaction_id = ? AND line = ?`;
    const key = [h.head.id, transactionId, posting.line];
    await behindTheServicesBack(`UPDATE postings SET amount = amount + 100 WHERE ${where}`, key);
    try {
      await expectCaught(transactionId, String(posting.account_id));
    } finally {
      await behindTheServicesBack(`UPDATE postings SET amount = amount - 100 WHERE ${where}`, key);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('a deleted posting: the chain breaks at its transaction, which no longer sums to zero', async () => {
    const posting = await aPosting(transactionId);
    await behindTheServicesBack(`DELETE FROM postings WHERE head_id = ? AND transaction_id = ? AND line = ?`, [h.head.id, transactionId, posting.line]);
    try {
      await expectCaught(transactionId, String(posting.account_id));
    } finally {
      await behindTheServicesBack(`INSERT INTO postings SELECT (r).* FROM (SELECT json_populate_record(NULL::postings, ?::json) AS r) x`, [JSON.stringify(posting)]);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('an inserted posting pair that balances: the chain still breaks at that transaction, and the balances show it', async () => {
    const posting = await aPosting(transactionId);
    const extra = [{ line: 60, amount: '7.00' }, { line: 61, amount: '-7.00' }];
    for (const e of extra) {
      await behindTheServicesBack(`INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)`, [h.head.id, transactionId, e.line, posting.account_id, posting.asset_code, posting.asset_scale, e.amount, posting.recorded_at]);
    }
    try {
      const report = await verify();
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatchObject({ check: 'CHAIN', transactionId });
    } finally {
      await behindTheServicesBack(`DELETE FROM postings WHERE head_id = ? AND transaction_id = ? AND line IN (60, 61)`, [h.head.id, transactionId]);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('a seal removed from the end: the published digest no longer appears in the chain', async () => {
    await awardMany(1, member);
    await sealJournal(h.bank, h.head.id);
    const published = (await h.gql(h.adminToken, digestQuery)).data.ledgerDigest;
    expect(await verify({ sequence: published.sequence, digest: published.digest })).toMatchObject({ ok: true });
    expect((await verify({ sequence: published.sequence, digest: '0'.repeat(64) })).problems[0]).toMatchObject({ check: 'PUBLISHED_DIGEST' });
    const last = await h.bank.knex('journal_seals').where({ head_id: h.head.id, sequence: published.sequence }).first();
    await behindTheServicesBack(`DELETE FROM journal_seals WHERE head_id = ? AND sequence = ?`, [h.head.id, published.sequence]);
    try {
      const report = await verify({ sequence: published.sequence, digest: published.digest });
      expect(report.ok).toBe(false);
      expect(report.problems.map((p: any) => p.check)).toEqual(expect.arrayContaining(['PUBLISHED_DIGEST', 'CHAIN', 'UNSEALED']));
    } finally {
      await behindTheServicesBack(`INSERT INTO journal_seals (head_id, sequence, transaction_id, digest, sealed_at) VALUES (?, ?, ?, ?, ?)`,
        [last.head_id, last.sequence, last.transaction_id, last.digest, last.sealed_at]);
    }
    expect(await verify({ sequence: published.sequence, digest: published.digest })).toMatchObject({ ok: true });
  });

  it('npm run verify exits 0 when the books hold and 1, naming the transaction, when they do not', async () => {
    const run = (args: string[]) => promisify(execFile)('npx', ['tsx', 'src/cli/verify.ts', '--head', h.head.code, ...args], {
      cwd: projectRoot, env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
    }).then((r) => ({ code: 0, out: r.stdout }), (e) => ({ code: e.code as number, out: String(e.stdout) }));
    const good = await run([]);
    expect(good.out).toMatch(/^OK /);
    expect(good.code).toBe(0);
    const posting = await aPosting(transactionId);
    const key = [h.head.id, transactionId, posting.line];
    await behindTheServicesBack(`UPDATE postings SET amount = amount * 2 WHERE head_id = ? AND transaction_id = ? AND line = ?`, key);
    try {
      const bad = await run([]);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain(`CHAIN: transaction ${transactionId}`);
    } finally {
      await behindTheServicesBack(`UPDATE postings SET amount = amount / 2 WHERE head_id = ? AND transaction_id = ? AND line = ?`, key);
    }
  });
});
