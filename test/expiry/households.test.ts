// Point expiry on household wallets (issue 16 §1 and §3), through the API households use: a household
// rule credits the member's household (dated awards), the household spends from its wallet first-in
// first-out, a cancelled voucher gives its lots back, and the sweeper expires the household's lots with
// the household named on the EXPIRE. Lots work per wallet, so a household's are a member's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { sweepPointExpiry } from '../../src/expiry/sweeper.js';
import { findLotMismatches, foldWalletLots } from '../../src/expiry/lots.js';
import { formatAmount } from '../../src/ledger/amounts.js';
import { setPolicy } from './journal.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
  await h.checkInvariants();
  await h.close();
});

const beijing = (wall: string) => new Date(`${wall}+08:00`);

it('a household\'s points are spent oldest first, come back when a voucher is cancelled, and expire with the household named', async () => {
  const rule = 'garbage.household-expiry';
  const defined = await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code beneficiary } } }`, { i: {
    idempotencyKey: h.key(), branch: h.head.code, code: rule, name: '户积分 Household points', category: 'garbage', beneficiary: 'HOUSEHOLD',
    outputs: [{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }] } });
  expect(defined.errors).toBeUndefined();
  const externalId = `m-${h.key()}`;
  const memberId = await h.addMember(externalId);
  const memberToken = h.token({ role: 'member', member: memberId, sub: `member-${memberId}` });
  const upserted = await h.gql(h.adminToken, `mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { household { id } } }`,
    { i: { idempotencyKey: h.key(), externalId: `hh-${h.tag}`, branch: h.branches[0]!.code, name: '李家', members: [{ externalId, adult: true }] } });
  expect(upserted.errors).toBeUndefined();
  const householdId = upserted.data.upsertHousehold.household.id as string;
  const award = async (quantity: string, occurredAt: Date) => {
    const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), externalId, rule, quantity, occurredAt: occurredAt.toISOString() } });
    expect(res.errors).toBeUndefined();
  };
  await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months: 1 });
  await award('6', beijing('2025-09-10T09:00:00'));
  await award('5', beijing('2025-10-10T09:00:00'));
  const merchant = await h.addMerchant(`Shop ${h.tag}`);
  const merchantToken = h.token({ role: 'merchant', merchant, sub: `till-${h.tag}` });
  const item = await h.gql(merchantToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
    { i: { idempotencyKey: h.key(), code: `soap-${h.tag}`, title: '洗衣皂 Soap', category: 'daily-goods', cost: '4.00' } });
  expect(item.errors).toBeUndefined();
  const redeem = await h.gql(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code wallet } } }`,
    { i: { idempotencyKey: h.key(), item: item.data.upsertCatalogItem.item.id, wallet: 'HOUSEHOLD' } });
  expect(redeem.data.redeem.redemption.wallet).toBe('HOUSEHOLD');

  const wallet = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD', owner_id: householdId, asset_code: 'POINTS' }).first('id');
  const lots = async () => {
    await foldWalletLots(h.bank, h.head.id, String(wallet.id));
    return (await h.bank.knex('wallet_lots').where({ head_id: h.head.id, account_id: wallet.id }).orderBy('earned_at').select('remaining'))
      .map((l) => formatAmount(l.remaining, 2));
  };
  expect(await lots()).toEqual(['2.00', '5.00']); // the hold took 4 of September's 6
  const cancelled = await h.gql(memberToken, `mutation($i: VoucherInput!) { cancelRedemption(input: $i) { redemption { status } } }`,
    { i: { idempotencyKey: h.key(), code: redeem.data.redeem.redemption.code } });
  expect(cancelled.errors).toBeUndefined();
  expect(await lots()).toEqual(['6.00', '5.00']);

  // September's lot is due from 1 November (Beijing), October's from 1 December.
  await sweepPointExpiry(h.bank, beijing('2025-11-01T00:00:00'));
  const balance = await h.bank.knex('accounts').where({ head_id: h.head.id, id: wallet.id }).first('balance');
  expect(formatAmount(balance.balance, 2)).toBe('5.00');
  const expiries = await h.bank.knex('transactions').where({ head_id: h.head.id, kind: 'EXPIRE' }).select('household_id', 'member_id');
  expect(expiries).toEqual([{ household_id: householdId, member_id: null }]);
  const statement = await h.gql(h.adminToken, `query($x: String!) { household(externalId: $x) { balance } }`, { x: `hh-${h.tag}` });
  expect(statement.data.household.balance).toBe('5.00');
});
