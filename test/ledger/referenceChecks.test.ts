// Six foreign keys of the journal became statement checks (migration 065; the batch path's share
// locks and per-row lookups): each check still refuses what its foreign key refused, with the same
// SQLSTATE (23503) and constraint name, for any writer, and the parents a check relies on are never
// deleted, truncated or re-keyed (what makes a check without a lock exact).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
/** A real award: its transaction, member, rule and wallet, to copy from. */
let award: { txn: any; posting: any; otherMember: string };

beforeAll(async () => {
  h = await startHarness({ poolSize: 4 });
  const member = await h.addMember(`${h.tag}-ref`);
  const otherMember = await h.addMember(`${h.tag}-ref-other`);
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transaction { id } } }`,
    { i: { idempotencyKey: h.key(), memberId: member, rule: 'garbage.bin-duty' } });
  const id = res.data.awardPoints.transaction.id;
  const txn = await h.bank.knex('transactions').where({ head_id: h.head.id, id }).first();
  const posting = await h.bank.knex('postings').where({ head_id: h.head.id, transaction_id: id, line: 1 }).first();
  award = { txn, posting, otherMember };
});
afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

/** Runs sql in a transaction of its own (rolled back by the refusal), and returns the error PostgreSQL raised. */
async function refusal(sql: string, bindings: unknown[] = []): Promise<{ code?: string; constraint?: string; message: string }> {
  try {
    await h.bank.knex.transaction(async (trx) => { await trx.raw(sql, bindings as any); });
  } catch (error) {
    return error as { code?: string; constraint?: string; message: string };
  }
  throw new Error(`not refused: ${sql}`);
}

/** A copy of the award's transaction with a new id and the given columns changed, as one INSERT (with a good row beside it). */
async function insertTransactionRefusal(change: Record<string, unknown>) {
  const { rows: [{ id: good }] } = await h.bank.knex.raw(`SELECT nextval('transactions_id_seq') AS id`);
  const { rows: [{ id: bad }] } = await h.bank.knex.raw(`SELECT nextval('transactions_id_seq') AS id`);
  const base = { ...award.txn, metadata: award.txn.metadata == null ? null : JSON.stringify(award.txn.metadata) };
  const rows = [{ ...base, id: good }, { ...base, id: bad, ...change }];
  return refusal(h.bank.knex('transactions').insert(rows).toString());
}

describe('a transaction refers to its head bank, branch, member and rule', () => {
  it('a member that does not exist is refused (transactions_head_id_member_id_fkey)', async () => {
    expect(await insertTransactionRefusal({ member_id: '999999999' }))
      .toMatchObject({ code: '23503', constraint: 'transactions_head_id_member_id_fkey' });
  });
  it('a member of another head bank is refused: the key is (head_id, member_id)', async () => {
    const other = await h.bank.knex('members').whereNot({ head_id: h.head.id }).first();
    if (other) expect(await insertTransactionRefusal({ member_id: other.id })).toMatchObject({ code: '23503', constraint: 'transactions_head_id_member_id_fkey' });
  });
  it('a rule that does not exist is refused (transactions_head_id_rule_id_fkey)', async () => {
    expect(await insertTransactionRefusal({ rule_id: '999999999' }))
      .toMatchObject({ code: '23503', constraint: 'transactions_head_id_rule_id_fkey' });
  });
  it('a branch that does not exist is refused (transactions_branch_id_fkey)', async () => {
    expect(await insertTransactionRefusal({ branch_id: '999999999' }))
      .toMatchObject({ code: '23503', constraint: 'transactions_branch_id_fkey' });
  });
  it('a head bank that does not exist is refused (transactions_head_id_fkey)', async () => {
    const error = await insertTransactionRefusal({ head_id: '999999999', member_id: null, rule_id: null });
    expect(error).toMatchObject({ code: '23503', constraint: 'transactions_head_id_fkey' });
    expect(error.message).toMatch(/violates foreign key constraint "transactions_head_id_fkey"/);
  });
  it('no member and no rule (a transfer, a redemption) needs none', async () => {
    const { rows: [{ id }] } = await h.bank.knex.raw(`SELECT nextval('transactions_id_seq') AS id`);
    const rolledBack = new Error('rolled back on purpose');
    await expect(h.bank.knex.transaction(async (trx) => {
      await trx('transactions').insert({ ...award.txn, id, member_id: null, rule_id: null, metadata: null });
      throw rolledBack;
    })).rejects.toBe(rolledBack);
  });
});

describe('a posting refers to its transaction and to an account of its asset', () => {
  const insertPosting = (change: Record<string, unknown>) => {
    const row = { ...award.posting, line: 60, recorded_at: new Date(), ...change };
    return refusal(h.bank.knex('postings').insert(row).toString());
  };
  it('a transaction that does not exist is refused (postings_head_id_transaction_id_fkey)', async () => {
    expect(await insertPosting({ transaction_id: '999999999' }))
      .toMatchObject({ code: '23503', constraint: 'postings_head_id_transaction_id_fkey' });
  });
  it('an account that does not exist is refused (postings_head_id_account_id_asset_code_asset_scale_fkey)', async () => {
    expect(await insertPosting({ account_id: '999999999' }))
      .toMatchObject({ code: '23503', constraint: 'postings_head_id_account_id_asset_code_asset_scale_fkey' });
  });
  it('an account of another asset or scale is refused', async () => {
    expect(await insertPosting({ asset_code: 'PARTY_SCORE' }))
      .toMatchObject({ code: '23503', constraint: 'postings_head_id_account_id_asset_code_asset_scale_fkey' });
    expect(await insertPosting({ asset_scale: 3, amount: '1.000' }))
      .toMatchObject({ code: '23503', constraint: 'postings_head_id_account_id_asset_code_asset_scale_fkey' });
  });
});

describe('the parents the checks rely on stay as they are', () => {
  it('a member, rule, branch, account or transaction is never deleted', async () => {
    for (const [table, where] of [
      ['members', { head_id: h.head.id, id: award.txn.member_id }], ['rules', { head_id: h.head.id, id: award.txn.rule_id }],
      ['branches', { id: award.txn.branch_id }], ['accounts', { head_id: h.head.id, id: award.posting.account_id }],
      ['transactions', { head_id: h.head.id, id: award.txn.id }],
    ] as const) {
      const error = await refusal(h.bank.knex(table).where(where).delete().toString());
      expect(error, table).toMatchObject({ code: '23503' });
      expect(error.message, table).toMatch(/DELETE on table .* refused/);
    }
  });
  it('nor truncated', async () => {
    for (const table of ['members', 'rules', 'branches', 'accounts', 'transactions']) {
      expect(await refusal(`TRUNCATE ${table} CASCADE`), table).toMatchObject({ code: '23503' });
    }
  });
  it('their referenced keys never change, nor a transaction\'s parties', async () => {
    const changes: [string, string, unknown[]][] = [
      ['members', 'UPDATE members SET id = id + 1000000000 WHERE head_id = ? AND id = ?', [h.head.id, award.txn.member_id]],
      ['rules', 'UPDATE rules SET id = id + 1000000000 WHERE head_id = ? AND id = ?', [h.head.id, award.txn.rule_id]],
      ['branches', 'UPDATE branches SET id = id + 1000000000 WHERE id = ?', [award.txn.branch_id]],
      ['accounts', `UPDATE accounts SET asset_code = 'PARTY_SCORE' WHERE head_id = ? AND id = ?`, [h.head.id, award.posting.account_id]],
      ['transactions', 'UPDATE transactions SET member_id = ? WHERE head_id = ? AND id = ?', [award.otherMember, h.head.id, award.txn.id]],
      ['transactions', 'UPDATE transactions SET rule_id = NULL WHERE head_id = ? AND id = ?', [h.head.id, award.txn.id]],
    ];
    for (const [table, sql, bindings] of changes) {
      expect(await refusal(sql, bindings), sql).toMatchObject({ code: '23503' });
    }
    // Setting a key column to what it is changes nothing and is allowed (knex updates name whole rows).
    await h.bank.knex.raw('UPDATE members SET id = id WHERE head_id = ? AND id = ?', [h.head.id, award.txn.member_id]);
    expect(await h.bank.knex('members').where({ head_id: h.head.id, id: award.txn.member_id }).first()).toBeTruthy();
  });
});
