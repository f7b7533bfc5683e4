// Point expiry (issue 16 §3): the policy over GraphQL, first-in first-out across interleaved earns and
// spends, refunds and cancels restoring the lots they took with their dates, expiry exactly at the
// boundary instant in the bank's time zone, the yearly reset, what members and admins see, and the
// invariants after the sweeper.
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { sweepPointExpiry } from '../../src/expiry/sweeper.js';
import { expiringPoints, findLotMismatches } from '../../src/expiry/lots.js';
import { journalOf, setPolicy, type Journal } from './journal.js';

let h: Harness;
let j: Journal;
let sink: string;

beforeAll(async () => {
  h = await startHarness();
  j = journalOf(h.bank, h.head.id, h.branches[0]!.id, h.tag);
  sink = await h.addMember(`${h.tag}-sink`);
});

afterAll(async () => {
  expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
  await h.checkInvariants();
  await h.close();
});

/** An instant given as wall-clock time in Beijing (the test bank's zone, UTC+8 all year). */
const beijing = (wall: string) => new Date(`${wall}+08:00`);

const policyFields = 'asset kind months resetMonth resetDay changedBy';
const setPolicyMutation = `mutation($i: SetExpiryPolicyInput!) { setExpiryPolicy(input: $i) { ${policyFields} } }`;

describe('the expiry policy', () => {
  it('is OFF until an admin of the head bank sets it, and a branch admin may not', async () => {
    const read = await h.gql(h.adminToken, `{ expiryPolicy { ${policyFields} } }`);
    expect(read.data.expiryPolicy).toMatchObject({ asset: 'POINTS', kind: 'OFF', months: null, changedBy: null });
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[0]!.code, sub: `branch-admin-${h.tag}` });
    const refused = await h.gql(branchAdmin, setPolicyMutation, { i: { asset: 'POINTS', kind: 'MONTHS_AFTER_EARNING', months: 12 } });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    const member = h.token({ role: 'member', member: sink });
    expect(codes(await h.gql(member, setPolicyMutation, { i: { asset: 'POINTS', kind: 'OFF' } }))).toEqual(['FORBIDDEN']);
    expect(await h.bank.knex('expiry_policies').where({ head_id: h.head.id }).count({ n: '*' })).toEqual([{ n: '0' }]);
  });

  it('refuses a policy that does not make sense, naming the field, and changes nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ asset: 'POINTS', kind: 'MONTHS_AFTER_EARNING' }, 'months'],
      [{ asset: 'POINTS', kind: 'MONTHS_AFTER_EARNING', months: 0 }, 'months'],
      [{ asset: 'POINTS', kind: 'MONTHS_AFTER_EARNING', months: 12, resetMonth: 1 }, 'resetMonth'],
      [{ asset: 'POINTS', kind: 'YEARLY_RESET', resetMonth: 2, resetDay: 29 }, 'resetDay'],
      [{ asset: 'POINTS', kind: 'YEARLY_RESET', resetMonth: 13, resetDay: 1 }, 'resetMonth'],
      [{ asset: 'PARTY_SCORE', kind: 'MONTHS_AFTER_EARNING', months: 12 }, 'asset'],
    ];
    for (const [input, field] of cases) {
      const res = await h.gql(h.adminToken, setPolicyMutation, { i: input });
      expect(codes(res), JSON.stringify(input)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.field).toBe(field);
    }
    expect(await h.bank.knex('expiry_policies').where({ head_id: h.head.id }).count({ n: '*' })).toEqual([{ n: '0' }]);
  });

  it('is set and read back by the head bank admin', async () => {
    const set = await h.gql(h.adminToken, setPolicyMutation, { i: { asset: 'POINTS', kind: 'YEARLY_RESET', resetMonth: 1, resetDay: 1 } });
    expect(set.errors).toBeUndefined();
    expect(set.data.setExpiryPolicy).toMatchObject({ kind: 'YEARLY_RESET', resetMonth: 1, resetDay: 1, months: null, changedBy: `admin-${h.tag}` });
    const all = await h.gql(h.token({ role: 'member', member: sink }), `{ expiryPolicies { ${policyFields} } }`);
    expect(all.data.expiryPolicies).toEqual([expect.objectContaining({ asset: 'POINTS', kind: 'YEARLY_RESET' })]);
    const monthly = await h.gql(h.adminToken, setPolicyMutation, { i: { asset: 'POINTS', kind: 'MONTHS_AFTER_EARNING', months: 12 } });
    expect(monthly.data.setExpiryPolicy).toMatchObject({ kind: 'MONTHS_AFTER_EARNING', months: 12, resetMonth: null });
  });
});

describe('lots', () => {
  it('are spent first-in first-out across interleaved earns and spends', async () => {
    await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 12 });
    const m = await h.addMember(`${h.tag}-fifo`);
    await j.earn(m, '10.00', beijing('2026-03-10T09:00:00'));
    await j.earn(m, '20.00', beijing('2026-01-10T09:00:00')); // recorded later, earned earlier: it is the oldest
    await j.spend(m, sink, '15.00');
    await j.earn(m, '5.00', beijing('2026-04-10T09:00:00'));
    await j.spend(m, sink, '12.00');
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    const lots = await j.lots(m);
    expect(lots.map((l) => [l.amount, l.remaining])).toEqual([['10', '3'], ['20', '0'], ['5', '5']]);
    // Spending the rest takes March before April.
    await j.spend(m, sink, '4.00');
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['0', '0', '4']);
    expect(await h.walletBalance(m)).toBe('4.00');
  });

  it('come back exactly as they were taken, with their dates, when a spend is reversed', async () => {
    const m = await h.addMember(`${h.tag}-refund`);
    await j.earn(m, '10.00', beijing('2026-01-05T09:00:00'));
    await j.earn(m, '10.00', beijing('2026-02-05T09:00:00'));
    const spent = await j.spend(m, sink, '15.00'); // January's 10 and 5 of February
    await j.spend(m, sink, '3.00'); // 3 more of February
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['0', '2']);
    await j.reverse(spent);
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    const lots = await j.lots(m);
    // January gets its 10 back and February its 5: not a new lot dated today
    expect(lots.map((l) => [l.earnedAt.toISOString(), l.remaining])).toEqual([
      [beijing('2026-01-05T09:00:00').toISOString(), '10'], [beijing('2026-02-05T09:00:00').toISOString(), '7']]);
    const restores = await h.bank.knex('wallet_lot_moves').where({ head_id: h.head.id, kind: 'RESTORE', account_id: await j.wallet(m) }).orderBy('id').select('amount');
    expect(restores.map((r) => new Decimal(r.amount).toString())).toEqual(['10', '5']);
  });

  it('held by a voucher come back when it is cancelled, and after a refund of a fulfilled one', async () => {
    const m = await h.addMember(`${h.tag}-voucher`);
    await j.earn(m, '6.00', beijing('2026-01-05T09:00:00'));
    await j.earn(m, '6.00', beijing('2026-02-05T09:00:00'));
    const merchant = await h.addMerchant(`Shop ${h.tag}`);
    const [item] = await h.bank.knex('catalog_items').insert({
      head_id: h.head.id, merchant_id: merchant, code: `${h.tag}-soap`, title: 'Soap', category: 'daily', cost: '8.00',
      stock_left: null, visible_branch_id: h.head.id, voucher_valid_days: 7,
    }).returning('id');
    const memberToken = h.token({ role: 'member', member: m, sub: `member-${m}` });
    const redeem = async () => {
      const res = await h.gql(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`, { i: { idempotencyKey: h.key(), item: String(item.id) } });
      expect(res.errors).toBeUndefined();
      return res.data.redeem.redemption.code as string;
    };
    const voucher = async (mutation: string, code: string, token = memberToken, extra = {}) => {
      const res = await h.gql(token, `mutation($i: ${mutation === 'refundRedemption' ? 'RefundRedemptionInput' : 'VoucherInput'}!) { ${mutation}(input: $i) { redemption { status } } }`,
        { i: { idempotencyKey: h.key(), code, ...extra } });
      expect(res.errors, mutation).toBeUndefined();
    };
    const code = await redeem();
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['0', '4']); // the hold took January's 6 and 2 of February
    await voucher('cancelRedemption', code);
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['6', '6']);
    const merchantToken = h.token({ role: 'merchant', merchant, sub: `till-${h.tag}` });
    const second = await redeem();
    await voucher('fulfillRedemption', second, merchantToken);
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['0', '4']);
    await voucher('refundRedemption', second, h.adminToken, { reason: 'broken soap' });
    await sweepPointExpiry(h.bank, beijing('2026-05-01T00:00:00'));
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['6', '6']);
    expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
  });
});

describe('expiry', () => {
  it('happens exactly at the boundary instant in the bank\'s time zone, once per lot, to the EXPIRY account', async () => {
    await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 1 });
    const m = await h.addMember(`${h.tag}-boundary`);
    // 23:30 on 31 January in Beijing is still January there (15:30 UTC): it lives through February.
    await j.earn(m, '7.00', beijing('2026-01-31T23:30:00'));
    // 00:00 on 1 February in Beijing (16:00 UTC on 31 January) is February's: it lives through March.
    await j.earn(m, '3.00', beijing('2026-02-01T00:00:00'));
    const boundary = beijing('2026-03-01T00:00:00');
    expect(await sweepPointExpiry(h.bank, new Date(boundary.getTime() - 1))).toMatchObject({ expired: 0 });
    expect(await h.walletBalance(m)).toBe('10.00');
    const member = { id: m, headId: h.head.id };
    const soon = await expiringPoints(h.bank, member.headId, member.id, new Date(boundary.getTime() - 1));
    expect(soon).toEqual([expect.objectContaining({ asset: 'POINTS', within30Days: '7.00', within60Days: '10.00', within90Days: '10.00' })]);
    expect(soon[0]!.lots.map((l) => [l.expiresAt.toISOString(), l.amount])).toEqual([
      [boundary.toISOString(), '7.00'], [beijing('2026-04-01T00:00:00').toISOString(), '3.00']]);

    const swept = await sweepPointExpiry(h.bank, boundary);
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    expect(await h.walletBalance(m)).toBe('3.00');
    const expiries = await h.bank.knex('transactions').where({ head_id: h.head.id, kind: 'EXPIRE', member_id: m }).select('id', 'occurred_at', 'metadata');
    expect(expiries).toHaveLength(1);
    expect(expiries[0]!.occurred_at.toISOString()).toBe(boundary.toISOString());
    const postings = await h.bank.knex('postings as p').join('accounts as a', function () { this.on('a.head_id', 'p.head_id').andOn('a.id', 'p.account_id'); })
      .where({ 'p.head_id': h.head.id, 'p.transaction_id': expiries[0]!.id }).orderBy('p.line').select('a.purpose', 'a.owner_type', 'p.amount');
    expect(postings.map((p) => [p.owner_type, p.purpose, String(p.amount)]).sort()).toEqual([['MEMBER', 'WALLET', '-7.00'], ['SYSTEM', 'EXPIRY', '7.00']]);
    // An ordinary transaction, read over the API like any other.
    const read = await h.gql(h.adminToken, `query($id: ID!) { transaction(id: $id) { kind principal principalRole occurredAt metadata postings { asset amount } } }`,
      { id: String(expiries[0]!.id) });
    expect(read.errors).toBeUndefined();
    expect(read.data.transaction).toMatchObject({ kind: 'EXPIRE', principal: 'expiry-sweeper', principalRole: 'admin', occurredAt: boundary.toISOString() });
    // Again, and from a second sweeper at once: nothing more.
    const again = await Promise.all([sweepPointExpiry(h.bank, boundary), sweepPointExpiry(h.bank, boundary)]);
    expect(await h.transactionCount({ kind: 'EXPIRE', member_id: m })).toBe(1);
    expect(again.every((s) => s.expired === 0 || s.expired > 0)).toBe(true);
    expect(await h.walletBalance(m)).toBe('3.00');
    expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
  });

  it('clears everything earned before the yearly reset date on it (年度清零), and not what was earned at it', async () => {
    await setPolicy(h.bank, h.head.id, { kind: 'YEARLY_RESET', resetMonth: 1, resetDay: 1 });
    const m = await h.addMember(`${h.tag}-reset`);
    await j.earn(m, '4.00', beijing('2025-03-01T10:00:00'));
    await j.earn(m, '5.00', beijing('2025-12-31T23:59:59'));
    await j.earn(m, '6.00', beijing('2026-01-01T00:00:00'));
    const reset = beijing('2026-01-01T00:00:00');
    await sweepPointExpiry(h.bank, new Date(reset.getTime() - 1));
    expect(await h.walletBalance(m)).toBe('15.00');
    await sweepPointExpiry(h.bank, reset);
    expect(await h.walletBalance(m)).toBe('6.00');
    expect(await h.transactionCount({ kind: 'EXPIRE', member_id: m })).toBe(2);
    expect((await j.lots(m)).map((l) => l.remaining)).toEqual(['0', '0', '6']);
    // the 6.00 earned at the reset instant lives to the next one
    await sweepPointExpiry(h.bank, beijing('2026-12-31T23:59:59'));
    expect(await h.walletBalance(m)).toBe('6.00');
    await sweepPointExpiry(h.bank, beijing('2027-01-01T00:00:00'));
    expect(await h.walletBalance(m)).toBe('0.00');
  });

  it('of a lot that a refund brings back after its date happens again, once more', async () => {
    await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 1 });
    const m = await h.addMember(`${h.tag}-again`);
    await j.earn(m, '10.00', beijing('2025-06-10T09:00:00'));
    const spent = await j.spend(m, sink, '4.00');
    await sweepPointExpiry(h.bank, beijing('2025-08-01T00:00:00'));
    expect(await h.walletBalance(m)).toBe('0.00');
    await j.reverse(spent);
    await sweepPointExpiry(h.bank, beijing('2025-08-02T00:00:00'));
    expect(await h.walletBalance(m)).toBe('0.00');
    const rounds = await h.bank.knex('wallet_lot_moves').where({ head_id: h.head.id, kind: 'EXPIRE', account_id: await j.wallet(m) }).orderBy('id').select('amount', 'expire_round');
    expect(rounds.map((r) => [new Decimal(r.amount).toString(), r.expire_round])).toEqual([['-6', 1], ['-4', 2]]);
  });
});

describe('wallets and paths', () => {
  it('of a household expire like a member\'s: lots per wallet, the EXPIRE names the household', async () => {
    await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 1 });
    const branch = h.branches[0]!;
    const [household] = await h.bank.knex('households').insert({ head_id: h.head.id, branch_id: branch.id, external_id: `${h.tag}-hh`, name: '东村 1 号' }).returning('id');
    const [wallet] = await h.bank.knex('accounts').insert({
      head_id: h.head.id, branch_id: branch.id, owner_type: 'HOUSEHOLD', owner_id: household.id, purpose: 'WALLET', asset_code: 'POINTS',
      asset_scale: 2, allow_negative: false, deferred_balance: false,
    }).returning('id');
    await j.earnTo(String(wallet.id), '8.00', beijing('2025-09-10T09:00:00'));
    await j.earnTo(String(wallet.id), '2.00', beijing('2025-12-10T09:00:00'));
    await sweepPointExpiry(h.bank, beijing('2025-11-01T00:00:00'));
    const balance = await h.bank.knex('accounts').where({ head_id: h.head.id, id: wallet.id }).first('balance');
    expect(String(balance.balance)).toBe('2.00');
    const expiry = await h.bank.knex('transactions').where({ head_id: h.head.id, kind: 'EXPIRE', household_id: household.id }).select('member_id');
    expect(expiry).toEqual([{ member_id: null }]);
  });

  // The award and spend paths have no expiry code at all (no trigger, no SQL): test/ledger/awards.test.ts
  // counts an award's statements. Here: what the sweeper and the reads do for a head bank with expiry off.
  it('cost nothing while expiry is off: a sweep writes nothing for the head bank, and members see nothing expiring', async () => {
    const other = await startHarness();
    try {
      const m = await other.addMember(`${other.tag}-off`);
      await other.fund(m, '10.00');
      const before = await other.footprint();
      await sweepPointExpiry(other.bank);
      expect(await other.footprint()).toBe(before);
      expect(await other.bank.knex('wallet_lots').where({ head_id: other.head.id }).count({ n: '*' })).toEqual([{ n: '0' }]);
      const me = await other.gql(other.token({ role: 'member', member: m }), '{ me { expiring { asset } } }');
      expect(me.data.me.expiring).toEqual([]);
      await other.checkInvariants();
    } finally {
      await other.close();
    }
  });
});

describe('what people see', () => {
  it('a member sees its points expiring in 30/60/90 days in me and in its statement; admins see breakage', async () => {
    // A reset 45 days from now (in Beijing's calendar): everything earned before it expires then.
    const now = new Date();
    const resetDay = new Date(now.getTime() + 45 * 86_400_000 + 8 * 3_600_000); // its UTC fields are Beijing's wall clock
    const [month, day] = [resetDay.getUTCMonth() + 1, Math.min(resetDay.getUTCDate(), 28)];
    await setPolicy(h.bank, h.head.id, { kind: 'YEARLY_RESET', resetMonth: month, resetDay: day });
    const m = await h.addMember(`${h.tag}-sees`);
    const earned = new Date(now.getTime() - 86_400_000);
    await j.earn(m, '9.00', earned);
    const memberToken = h.token({ role: 'member', member: m, sub: `member-sees-${h.tag}` });
    const me = await h.gql(memberToken, '{ me { expiring { asset within30Days within60Days within90Days lots { earnedAt expiresAt amount } } } }');
    expect(me.errors).toBeUndefined();
    expect(me.data.me.expiring).toHaveLength(1);
    const sees = me.data.me.expiring[0];
    expect(sees).toMatchObject({ asset: 'POINTS', within60Days: '9.00', within90Days: '9.00' });
    expect(['0.00', '9.00']).toContain(sees.within30Days); // 45 days, less the day-of-month clamp to 28
    expect(sees.lots).toEqual([{ earnedAt: earned.toISOString(), expiresAt: expect.any(String), amount: '9.00' }]);
    const statement = await h.gql(memberToken, `query($id: ID!) { member(id: $id) { statement(period: {year: ${now.getUTCFullYear()}}) { expiring { asset within90Days } } } }`, { id: m });
    expect(statement.errors).toBeUndefined();
    expect(statement.data.member.statement.expiring).toEqual([{ asset: 'POINTS', within90Days: '9.00' }]);
    // A client or admin token has no wallet of its own.
    expect((await h.gql(h.adminToken, '{ me { expiring { asset } } }')).data.me.expiring).toEqual([]);

    const breakage = await h.gql(h.adminToken, `{ expiryBreakage(period: {fromMonth: "2025-06", toMonth: "2026-03"}) {
      asset issued spent expired months { month issued spent expired } } }`);
    expect(breakage.errors).toBeUndefined();
    const report = breakage.data.expiryBreakage;
    expect(report.months).toHaveLength(10);
    const expired = await h.bank.knex.raw(`SELECT coalesce(-sum(p.amount), 0)::numeric(20,2)::text AS total FROM transactions t
      JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
      WHERE t.head_id = ? AND t.kind = 'EXPIRE' AND a.owner_type = 'MEMBER' AND t.occurred_at >= ? AND t.occurred_at < ?`,
    [h.head.id, beijing('2025-06-01T00:00:00'), beijing('2026-04-01T00:00:00')]);
    expect(report.expired).toBe(expired.rows[0].total);
    expect(Number(report.expired)).toBeGreaterThan(0);
    const member = h.token({ role: 'member', member: m });
    expect(codes(await h.gql(member, '{ expiryBreakage(period: {year: 2026}) { expired } }'))).toEqual(['FORBIDDEN']);
  });
});
