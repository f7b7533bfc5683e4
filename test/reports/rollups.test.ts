// Rollups stay exact for writers this code does not own: a redemption (issue 3) writes its postings
// PENDING (a hold on the wallet) and later becomes POSTED (fulfilled) or VOIDED (cancelled). Here
// such writes are made in SQL, as another writer would, and the rollups are compared with postings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

async function pointsOf(memberId: string, kind: string): Promise<string | null> {
  const row = await h.bank.knex('member_rollups').where({ head_id: h.head.id, member_id: memberId, asset_code: 'POINTS', kind }).sum({ s: 'amount' }).first();
  return row?.s == null ? null : String(Number(row.s).toFixed(2));
}

/** A redemption as issue 3 writes it: a PENDING transaction, its postings, and the hold on the wallet. */
async function redeemPending(memberId: string, amount: string): Promise<string> {
  return h.bank.knex.transaction(async (trx) => {
    const wallet = await trx('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: memberId, asset_code: 'POINTS' }).first('id');
    const sink = await trx('accounts').where({ head_id: h.head.id, owner_type: 'SYSTEM', owner_id: h.branches[0]!.id, asset_code: 'POINTS', purpose: 'ADJUSTMENT' }).first('id');
    const { rows: [t] } = await trx.raw(`INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at)
      VALUES (?, nextval('transactions_id_seq'), 'REDEEM', 'PENDING', ?, ?, 'test', 'member', now(), now()) RETURNING id`, [h.head.id, h.branches[0]!.id, memberId]);
    await trx.raw(`INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, recorded_at)
      VALUES (:head, :t, 1, :wallet, 'POINTS', 2, -:amount::numeric, now()), (:head, :t, 2, :sink, 'POINTS', 2, :amount::numeric, now())`,
    { head: h.head.id, t: t.id, wallet: wallet.id, sink: sink.id, amount });
    await trx('accounts').where({ head_id: h.head.id, id: wallet.id }).update({ held: trx.raw('held + ?::numeric', [amount]) });
    return String(t.id);
  });
}

async function settle(txn: string, status: 'POSTED' | 'VOIDED', memberId: string, amount: string): Promise<void> {
  await h.bank.knex.transaction(async (trx) => {
    await trx('transactions').where({ head_id: h.head.id, id: txn }).update({ status });
    const wallet = trx('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: memberId, asset_code: 'POINTS' });
    if (status === 'POSTED') {
      await wallet.clone().update({ held: trx.raw('held - ?', [amount]), balance: trx.raw('balance - ?', [amount]) });
      const sink = await trx('accounts').where({ head_id: h.head.id, owner_type: 'SYSTEM', owner_id: h.branches[0]!.id, asset_code: 'POINTS', purpose: 'ADJUSTMENT' }).first('id');
      await trx('account_deltas').insert({ head_id: h.head.id, account_id: sink.id, amount });
    } else {
      await wallet.clone().update({ held: trx.raw('held - ?', [amount]) });
    }
  });
}

describe('a redemption written by another writer', () => {
  it('counts in the rollups when it is fulfilled (PENDING → POSTED), never while pending or once voided', async () => {
    const m = await h.addMember(`${h.tag}-shopper`);
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty', quantity: '2' } });
    expect(award.errors).toBeUndefined();
    const fulfilled = await redeemPending(m, '3.00');
    const cancelled = await redeemPending(m, '4.00');
    expect(await pointsOf(m, 'REDEEM')).toBeNull();
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
    await settle(fulfilled, 'POSTED', m, '3.00');
    await settle(cancelled, 'VOIDED', m, '4.00');
    expect(await pointsOf(m, 'REDEEM')).toBe('-3.00');
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
    const stats = await h.gql(h.adminToken, `query($b: String!) { branchStats(branch: $b, period: {year: ${new Date().getUTCFullYear()}}) { assets { asset redeemed } } }`, { b: h.branches[0]!.code });
    expect(stats.data.branchStats.assets.find((a: any) => a.asset === 'POINTS').redeemed).toBe('3.00');
  });

  it('refuses to take a POSTED transaction out of POSTED: rollups cannot drift silently', async () => {
    const m = await h.addMember(`${h.tag}-posted`);
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty' } });
    await expect(h.bank.knex('transactions').where({ head_id: h.head.id, id: award.data.awardPoints.transactionId }).update({ status: 'VOIDED' }))
      .rejects.toThrow(/invariant broken/);
  });
});
