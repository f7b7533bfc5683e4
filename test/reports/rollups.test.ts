// Rollups stay exact for writers this code does not own: a redemption (issue 3) writes its postings
// PENDING (a hold on the wallet) and later becomes POSTED (fulfilled) or VOIDED (cancelled). Here
// such writes are made in SQL, as another writer would, and the rollups (monthly and yearly) are
// compared with postings. The check itself is tried on a rollup row made wrong on purpose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldEverything, startHarness, type Harness } from '../support/harness.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';
import { rollupSlices, sinceSlices } from '../../src/reports/period.js';
import { foldBranchDeltas, foldRollups } from '../../src/ledger/settle.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

async function pointsOf(memberId: string, kind: string, rollup = 'member_rollups'): Promise<string | null> {
  const row = await h.bank.knex(rollup).where({ head_id: h.head.id, member_id: memberId, asset_code: 'POINTS', kind }).sum({ s: 'amount' }).first();
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
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
    await foldEverything(h.bank, h.head.id);
    expect(await pointsOf(m, 'REDEEM')).toBe('-3.00');
    expect(await pointsOf(m, 'REDEEM', 'member_year_rollups')).toBe('-3.00');
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

describe('the rollup check', () => {
  it('finds a yearly or a monthly rollup row that differs from the postings, and nothing once it is put back', async () => {
    const m = await h.addMember(`${h.tag}-drift`);
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty', occurredAt: '2025-12-31T20:00:00Z' } });
    expect(award.errors).toBeUndefined();
    await foldEverything(h.bank, h.head.id);
    for (const [rollup, column] of [['member_year_rollups', 'year'], ['member_rollups', 'month']] as const) {
      const row = h.bank.knex(rollup).where({ head_id: h.head.id, member_id: m, asset_code: 'POINTS' });
      const [before] = await row.clone().select(column, 'amount');
      await row.clone().update({ amount: h.bank.knex.raw('amount + 1') });
      try {
        const found = await findRollupMismatches(h.bank, h.head.id);
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({ rollup, memberId: m, asset: 'POINTS', kind: 'EARN' });
        // The month or year of occurredAt in the bank's time zone (in Asia/Shanghai, 2025-12-31 20:00 UTC is in 2026).
        const [year, month] = new Intl.DateTimeFormat('en-CA', { timeZone: h.head.timeZone, year: 'numeric', month: '2-digit' })
          .format(new Date('2025-12-31T20:00:00Z')).split('-');
        expect(found[0]!.period).toBe(column === 'year' ? `${year}-01-01` : `${year}-${month}-01`);
      } finally {
        await row.clone().update({ amount: before.amount });
      }
    }
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
  });

  it('finds a branch rollup that differs from the postings, and nothing once it is put back', async () => {
    const m = await h.addMember(`${h.tag}-branch-drift`);
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty' } });
    expect(award.errors).toBeUndefined();
    await foldEverything(h.bank, h.head.id);
    const [year] = await h.bank.knex('branch_year_rollups').where({ head_id: h.head.id, branch_id: h.branches[0]!.id, asset_code: 'POINTS' }).pluck('year');
    const [bogus] = await h.bank.knex('branch_year_deltas').insert({
      head_id: h.head.id, branch_id: h.branches[0]!.id, asset_code: 'POINTS', year, earned: 0, deducted: 0, redeemed: 0, reversed: 0, net: 0, postings: 0, active_members: 1,
    }).returning('id');
    try {
      const found = await findRollupMismatches(h.bank, h.head.id);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ rollup: 'branch_year_rollups', memberId: null, branchId: h.branches[0]!.id, asset: 'POINTS' });
    } finally {
      await h.bank.knex('branch_year_deltas').where({ head_id: h.head.id, id: bogus.id }).delete();
    }
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
  });
});

describe('the branch rollups', () => {
  const year = new Date().getUTCFullYear();
  const stats = async (branch: string) => {
    const res = await h.gql(h.adminToken, `query($b: String!) { branchStats(branch: $b, period: {year: ${year}}) {
      assets { asset issued deducted redeemed reversed outstanding activeMembers } children { assets { asset issued outstanding activeMembers } } } }`, { b: branch });
    expect(res.errors).toBeUndefined();
    return res.data.branchStats;
  };

  // Awards to 40 members of one branch run concurrently with moves of some of them to another
  // branch and back (each takes the member's sums along) and with settlers folding the deltas; each
  // count and sum must come out exact, and the same whether the deltas are folded or not.
  it('stay exact under concurrent awards, moves of members between branches and settlers folding', async () => {
    const members = await Promise.all(Array.from({ length: 40 }, (_, i) => h.addMember(`${h.tag}-busy-${i}`)));
    const movers = members.slice(0, 6);
    const moveTo = async (memberId: string, branch: string) => {
      const [m] = await h.bank.knex('members').where({ head_id: h.head.id, id: memberId }).select('external_id', 'name');
      return h.gql(h.adminToken, `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { id } } }`,
        { input: { idempotencyKey: h.key(), externalId: m.external_id, branch, name: m.name } });
    };
    let awarding = true;
    const settlers = [0, 1].map(async () => {
      let folded = 0;
      while (awarding) folded += (await foldRollups(h.bank)) + (await foldBranchDeltas(h.bank));
      return folded;
    });
    const awards = members.flatMap((m) => [0, 1].map(() => h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty' } })));
    const moves = movers.map(async (m) => [await moveTo(m, h.branches[1]!.code), await moveTo(m, h.branches[0]!.code), await moveTo(m, h.branches[1]!.code)]);
    for (const res of await Promise.all(awards)) expect(res.errors).toBeUndefined();
    for (const res of (await Promise.all(moves)).flat()) expect(res.errors).toBeUndefined();
    awarding = false;
    expect((await Promise.all(settlers)).reduce((a, b) => a + b)).toBeGreaterThan(0);
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
    // The moved members count in their new branch, each active once (the rule allows two awards a day).
    const points = (await stats(h.branches[1]!.code)).assets.find((a: any) => a.asset === 'POINTS');
    const direct = await h.bank.knex.raw(`SELECT count(DISTINCT a.owner_id)::int AS n FROM postings p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
      JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id WHERE p.head_id = ? AND a.owner_type = 'MEMBER' AND a.asset_code = 'POINTS' AND m.branch_id = ?`,
    [h.head.id, h.branches[1]!.id]);
    expect(points.activeMembers).toBe(direct.rows[0].n);
    expect(points.activeMembers).toBeGreaterThanOrEqual(movers.length);
  });

  it('give the same figures before and after the settler folds the tail and the deltas, and folding leaves none', async () => {
    const m = await h.addMember(`${h.tag}-fold`);
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.bin-duty' } });
    expect(award.errors).toBeUndefined();
    const pending = () => h.bank.knex.raw(`SELECT (SELECT count(*) FROM branch_year_deltas WHERE head_id = :head)
        + (SELECT count(*) FROM transactions WHERE head_id = :head AND txid >= (SELECT folded_below FROM rollup_fold)) AS n`, { head: h.head.id })
      .then((r) => Number(r.rows[0].n));
    expect(await pending()).toBeGreaterThan(0);
    const before = await stats(h.head.code);
    await foldEverything(h.bank, h.head.id);
    expect(await pending()).toBe(0);
    expect(await stats(h.head.code)).toEqual(before);
    expect(before.assets.find((a: any) => a.asset === 'POINTS').activeMembers).toBeGreaterThan(0);
  });
});

describe('a report period', () => {
  it('is read as whole calendar years from the yearly rollups and the months around them from the monthly', () => {
    expect(rollupSlices('2026-01-01', '2027-01-01')).toEqual([{ grain: 'year', from: '2026-01-01', to: '2027-01-01' }]);
    expect(rollupSlices('2025-11-01', '2026-03-01')).toEqual([{ grain: 'month', from: '2025-11-01', to: '2026-03-01' }]);
    expect(rollupSlices('2025-04-01', '2027-03-01')).toEqual([
      { grain: 'month', from: '2025-04-01', to: '2026-01-01' }, { grain: 'year', from: '2026-01-01', to: '2027-01-01' },
      { grain: 'month', from: '2027-01-01', to: '2027-03-01' }]);
    expect(rollupSlices('2025-01-01', '2025-07-01')).toEqual([{ grain: 'month', from: '2025-01-01', to: '2025-07-01' }]);
    // Everything from a period's start on (branchStats: the period, and what today's balances hold that is dated later), never straddling its end.
    expect(sinceSlices('2026-01-01', '2027-01-01')).toEqual([{ grain: 'year', from: '2026-01-01', to: null }]);
    expect(sinceSlices('2025-04-01', '2025-10-01')).toEqual([{ grain: 'month', from: '2025-04-01', to: '2026-01-01' }, { grain: 'year', from: '2026-01-01', to: null }]);
    expect(sinceSlices('2025-04-01', '2027-03-01')).toEqual([
      { grain: 'month', from: '2025-04-01', to: '2026-01-01' }, { grain: 'year', from: '2026-01-01', to: '2027-01-01' },
      { grain: 'month', from: '2027-01-01', to: '2028-01-01' }, { grain: 'year', from: '2028-01-01', to: null }]);
  });
});
