// The voucher lifecycle as members and merchants use it: redeem holds points and stock, the merchant
// fulfils at the counter, cancel and expiry release, refund reverses; and the races that must come
// out right under real concurrent requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { expireRedemptions } from '../../src/redemption/sweeper.js';

let h: Harness;
let merchant: string;
let otherMerchant: string;
let merchantToken: string;
let otherMerchantToken: string;

const redeemMutation = `mutation($i: RedeemInput!) { redeem(input: $i) { replayed redemption { id code status cost quantity expiresAt
  item { id title stockLeft } merchant { id name } transaction { kind status postings { amount balanceAfter } } } } }`;
const fulfilMutation = `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { replayed redemption { status fulfilledAt transaction { status } } } }`;
const readVoucher = `query($c: String!) { redemption(code: $c) { status transaction { status } } }`;
const cancelMutation = `mutation($i: VoucherInput!) { cancelRedemption(input: $i) { replayed redemption { status releasedAt transaction { status } } } }`;
const refundMutation = `mutation($i: RefundRedemptionInput!) { refundRedemption(input: $i) { replayed transactionId redemption { status restocked refundTransaction { kind reverses { id } postings { amount } } } } }`;
const upsertItem = `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { created replayed item { id code cost stockLeft limitPerMember limitWindow voucherValidDays activeNow } } }`;

async function addItem(fields: Record<string, unknown> = {}, token = merchantToken): Promise<string> {
  const res = await h.gql(token, upsertItem, { i: { idempotencyKey: h.key(), code: `item-${h.key().slice(-8)}`, title: 'Soap', category: 'daily-goods', cost: '10.00', ...fields } });
  expect(res.errors).toBeUndefined();
  return res.data.upsertCatalogItem.item.id;
}

async function member(points = '100.00'): Promise<{ id: string; token: string }> {
  const id = await h.addMember(`m-${h.key()}`);
  if (points !== '0') await h.fund(id, points);
  return { id, token: h.token({ role: 'member', member: id, sub: `member-${id}` }) };
}

async function redeemOk(token: string, item: string, quantity = 1) {
  const res = await h.gql(token, redeemMutation, { i: { idempotencyKey: h.key(), item, quantity } });
  expect(res.errors).toBeUndefined();
  return res.data.redeem.redemption;
}

async function wallet(memberId: string) {
  const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { accounts { asset balance held available } } }`, { id: memberId });
  return res.data.member.accounts.find((a: any) => a.asset === 'POINTS');
}

async function merchantBalance(id: string): Promise<string> {
  const res = await h.gql(h.adminToken, `query($id: ID!) { merchant(id: $id) { account { balance } } }`, { id });
  return res.data.merchant.account.balance;
}

async function stockOf(item: string): Promise<number | null> {
  const row = await h.bank.knex('catalog_items').where({ head_id: h.head.id, id: item }).first('stock_left');
  return row.stock_left;
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 40 });
  merchant = await h.addMerchant('Caring Grocery');
  otherMerchant = await h.addMerchant('Neighbourhood Barber', h.branches[1]);
  merchantToken = h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` });
  otherMerchantToken = h.token({ role: 'merchant', merchant: otherMerchant, sub: `merchant-${otherMerchant}` });
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('redeem', () => {
  it('holds the points (available drops, balance does not), reserves stock and issues a 10-character voucher', async () => {
    const m = await member('50.00');
    const item = await addItem({ cost: '12.50', stock: 3 });
    const r = await redeemOk(m.token, item, 2);
    expect(r.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    expect(r).toMatchObject({ status: 'PENDING', cost: '25.00', quantity: 2, item: { stockLeft: 1 }, merchant: { name: 'Caring Grocery' } });
    expect(r.transaction).toMatchObject({ kind: 'REDEEM', status: 'PENDING' });
    expect(new Date(r.expiresAt).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(await wallet(m.id)).toMatchObject({ balance: '50.00', held: '25.00', available: '25.00' });
  });

  it('replays the same key with the same voucher and refuses it for another request', async () => {
    const m = await member();
    const item = await addItem();
    const key = h.key();
    const first = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: key, item } });
    const again = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: key, item } });
    expect(again.data.redeem).toMatchObject({ replayed: true, redemption: { code: first.data.redeem.redemption.code } });
    expect(first.data.redeem.replayed).toBe(false);
    const other = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: key, item, quantity: 2 } });
    expect(codes(other)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await wallet(m.id)).toMatchObject({ held: '10.00' });
  });

  it('refuses a key reused under one subject for another member (a shared kiosk subject), and hands out no voucher', async () => {
    const a = await member();
    const b = await member();
    const item = await addItem();
    const key = h.key();
    const kiosk = (id: string) => h.token({ role: 'member', member: id, sub: 'shared-kiosk' });
    const first = await h.gql(kiosk(a.id), redeemMutation, { i: { idempotencyKey: key, item } });
    expect(first.errors).toBeUndefined();
    const second = await h.gql(kiosk(b.id), redeemMutation, { i: { idempotencyKey: key, item } });
    expect(codes(second)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(JSON.stringify(second)).not.toContain(first.data.redeem.redemption.code);
  });

  it('refuses what the wallet cannot cover (held points count as spent) and writes nothing', async () => {
    const m = await member('15.00');
    const item = await addItem({ cost: '10.00', stock: 5 });
    await redeemOk(m.token, item);
    const res = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item } });
    expect(codes(res)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(res.errors![0]!.message).toMatch(/5\.00 POINTS available/);
    expect(await stockOf(item)).toBe(4);
    // A held point cannot be given away either.
    const other = await member('0');
    const gift = await h.gql(m.token, `mutation($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), to: { id: other.id }, amount: '6.00' } });
    expect(codes(gift)).toEqual(['INSUFFICIENT_FUNDS']);
  });

  it('refuses sold-out, inactive and unknown items, bad quantities, and other roles', async () => {
    const m = await member();
    const soldOut = await addItem({ stock: 0 });
    expect(codes(await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item: soldOut } }))).toEqual(['OUT_OF_STOCK']);
    const later = await addItem({ activeFrom: new Date(Date.now() + 86_400_000).toISOString() });
    expect(codes(await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item: later } }))).toEqual(['INVALID_STATE']);
    expect(codes(await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item: '999999999' } }))).toEqual(['NOT_FOUND']);
    const item = await addItem();
    for (const quantity of [0, -1, 101]) {
      const res = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item, quantity } });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions!.field).toBe('quantity');
    }
    expect(codes(await h.gql(h.adminToken, redeemMutation, { i: { idempotencyKey: h.key(), item } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(null, redeemMutation, { i: { idempotencyKey: h.key(), item } }))).toEqual(['UNAUTHENTICATED']);
    expect(await wallet(m.id)).toMatchObject({ held: '0.00' });
  });

  it('offers an item only to the branch subtree it is visible to', async () => {
    const item = await addItem({ visibleTo: h.branches[1]!.code });
    const outside = await member();
    expect(codes(await h.gql(outside.token, redeemMutation, { i: { idempotencyKey: h.key(), item } }))).toEqual(['NOT_FOUND']);
    const insideId = await h.addMember(`in-${h.key()}`, h.branches[1]);
    await h.fund(insideId, '20.00');
    await redeemOk(h.token({ role: 'member', member: insideId }), item);
  });

  it('keeps a per-member limit per window', async () => {
    const m = await member();
    const item = await addItem({ limitPerMember: 2, limitWindow: 'DAY' });
    await redeemOk(m.token, item, 2);
    const res = await h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item } });
    expect(codes(res)).toEqual(['LIMIT_EXCEEDED']);
    expect(res.errors![0]!.message).toMatch(/allows 2 per member per day/);
  });
});

describe('fulfil, cancel, refund', () => {
  it('fulfils at the counter: the hold posts to the merchant, once; a repeat with the same key replays', async () => {
    const m = await member('40.00');
    const item = await addItem({ cost: '15.00' });
    const r = await redeemOk(m.token, item);
    const before = await merchantBalance(merchant);
    const key = h.key();
    // The code as a person types it: lower case, with a dash.
    const typed = `${r.code.slice(0, 5).toLowerCase()}-${r.code.slice(5)}`;
    const done = await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: key, code: typed } });
    expect(done.errors).toBeUndefined();
    // Merchants do not read the journal: the REDEEM transaction is the member's and the admins' to see.
    expect(done.data.fulfillRedemption).toMatchObject({ replayed: false, redemption: { status: 'FULFILLED', transaction: null } });
    expect((await h.gql(m.token, readVoucher, { c: r.code })).data.redemption).toEqual({ status: 'FULFILLED', transaction: { status: 'POSTED' } });
    expect(await wallet(m.id)).toMatchObject({ balance: '25.00', held: '0.00', available: '25.00' });
    expect(Number(await merchantBalance(merchant)) * 100 - Number(before) * 100).toBe(1500);
    const replay = await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: key, code: r.code } });
    expect(replay.data.fulfillRedemption).toMatchObject({ replayed: true, redemption: { status: 'FULFILLED' } });
    // The same till scanning it again under a new key: still a success, nothing posted twice.
    const rescan = await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(rescan.data.fulfillRedemption).toMatchObject({ replayed: true, redemption: { status: 'FULFILLED' } });
    // Another till of the shop: INVALID_STATE naming the status.
    const other = await h.gql(h.token({ role: 'merchant', merchant, sub: 'till-other' }), fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(codes(other)).toEqual(['INVALID_STATE']);
    expect(other.errors![0]!.message).toMatch(/is FULFILLED/);
    expect(Number(await merchantBalance(merchant)) * 100 - Number(before) * 100).toBe(1500);
  });

  it('lets only the merchant that owns the item fulfil, and refuses unknown or malformed codes', async () => {
    const m = await member();
    const r = await redeemOk(m.token, await addItem());
    expect(codes(await h.gql(otherMerchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(m.token, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: '0000000000' } }))).toEqual(['NOT_FOUND']);
    const bad = await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: 'UUUU-UUUU-UU' } });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0]!.extensions!.field).toBe('code');
    expect(await wallet(m.id)).toMatchObject({ held: '10.00' });
  });

  it('cancels before fulfilment (member or merchant): hold and stock come back; a cancelled voucher cannot be fulfilled', async () => {
    const m = await member('30.00');
    const item = await addItem({ stock: 2 });
    const a = await redeemOk(m.token, item);
    const b = await redeemOk(m.token, item);
    const byMember = await h.gql(m.token, cancelMutation, { i: { idempotencyKey: h.key(), code: a.code } });
    expect(byMember.data.cancelRedemption.redemption).toMatchObject({ status: 'CANCELLED', transaction: { status: 'VOIDED' } });
    // A member token that also carries a merchant claim still acts only as the member.
    const sneaky = h.token({ role: 'member', member: (await member()).id, merchant });
    expect(codes(await h.gql(sneaky, cancelMutation, { i: { idempotencyKey: h.key(), code: b.code } }))).toEqual(['FORBIDDEN']);
    const byMerchant = await h.gql(merchantToken, cancelMutation, { i: { idempotencyKey: h.key(), code: b.code } });
    expect(byMerchant.data.cancelRedemption.redemption.status).toBe('CANCELLED');
    expect(await wallet(m.id)).toMatchObject({ balance: '30.00', held: '0.00' });
    expect(await stockOf(item)).toBe(2);
    expect(codes(await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: a.code } }))).toEqual(['INVALID_STATE']);
    expect(codes(await h.gql(m.token, cancelMutation, { i: { idempotencyKey: h.key(), code: a.code } }))).toEqual(['INVALID_STATE']);
    const stranger = await member();
    const c = await redeemOk(m.token, item);
    expect(codes(await h.gql(stranger.token, cancelMutation, { i: { idempotencyKey: h.key(), code: c.code } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(otherMerchantToken, cancelMutation, { i: { idempotencyKey: h.key(), code: c.code } }))).toEqual(['FORBIDDEN']);
  });

  it('refuses a fulfil, cancel or refund key reused for another voucher, writing nothing', async () => {
    const m = await member('50.00');
    const item = await addItem();
    const [a, b] = [await redeemOk(m.token, item), await redeemOk(m.token, item)];
    const fulfilKey = h.key();
    await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: fulfilKey, code: a.code } });
    expect(codes(await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: fulfilKey, code: b.code } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(codes(await h.gql(merchantToken, cancelMutation, { i: { idempotencyKey: fulfilKey, code: b.code } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    const refundKey = h.key();
    await h.gql(merchantToken, refundMutation, { i: { idempotencyKey: refundKey, code: a.code } });
    expect(codes(await h.gql(merchantToken, refundMutation, { i: { idempotencyKey: refundKey, code: a.code, restock: true } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect((await h.gql(m.token, readVoucher, { c: b.code })).data.redemption.status).toBe('PENDING');
  });

  it('a fulfilled voucher cannot be cancelled', async () => {
    const m = await member();
    const r = await redeemOk(m.token, await addItem());
    await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    const res = await h.gql(m.token, cancelMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(codes(res)).toEqual(['INVALID_STATE']);
    expect(res.errors![0]!.message).toMatch(/FULFILLED/);
  });

  it('refunds a fulfilled voucher once, by reversal, with restock as the caller chooses', async () => {
    const m = await member('20.00');
    const item = await addItem({ cost: '8.00', stock: 1 });
    const r = await redeemOk(m.token, item);
    expect(codes(await h.gql(merchantToken, refundMutation, { i: { idempotencyKey: h.key(), code: r.code } }))).toEqual(['INVALID_STATE']);
    await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(await wallet(m.id)).toMatchObject({ balance: '12.00' });
    expect(codes(await h.gql(otherMerchantToken, refundMutation, { i: { idempotencyKey: h.key(), code: r.code } }))).toEqual(['FORBIDDEN']);
    const key = h.key();
    const refund = await h.gql(merchantToken, refundMutation, { i: { idempotencyKey: key, code: r.code, restock: true, reason: 'soap was damp' } });
    expect(refund.errors).toBeUndefined();
    expect(refund.data.refundRedemption.redemption).toMatchObject({ status: 'REFUNDED', restocked: true });
    const asAdmin = await h.gql(h.adminToken, `query($c: String!) { redemption(code: $c) { refundTransaction { kind reverses { kind } } } }`, { c: r.code });
    expect(asAdmin.data.redemption.refundTransaction).toEqual({ kind: 'REVERSAL', reverses: { kind: 'REDEEM' } });
    expect(await wallet(m.id)).toMatchObject({ balance: '20.00', held: '0.00' });
    expect(await stockOf(item)).toBe(1);
    const replay = await h.gql(merchantToken, refundMutation, { i: { idempotencyKey: key, code: r.code, restock: true, reason: 'soap was damp' } });
    expect(replay.data.refundRedemption).toMatchObject({ replayed: true, transactionId: refund.data.refundRedemption.transactionId });
    const twice = await h.gql(h.adminToken, refundMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(codes(twice)).toEqual(['INVALID_STATE']);
    expect(await wallet(m.id)).toMatchObject({ balance: '20.00' });
  });

  it('a REDEEM transaction is undone only through the voucher, not by reverseTransaction', async () => {
    const m = await member('10.00');
    const r = await redeemOk(m.token, await addItem());
    await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    const txn = (await h.gql(m.token, `query($c: String!) { redemption(code: $c) { transaction { id } } }`, { c: r.code })).data.redemption.transaction.id;
    const res = await h.gql(h.adminToken, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), transaction: txn, reason: 'try', force: true } });
    expect(codes(res)).toEqual(['INVALID_STATE']);
    expect(res.errors![0]!.message).toMatch(/refundRedemption/);
    expect(await wallet(m.id)).toMatchObject({ balance: '0.00' });
  });

  it('reads a voucher by code for its member, its merchant and admins in scope only', async () => {
    const m = await member();
    const r = await redeemOk(m.token, await addItem());
    const q = `query($c: String!) { redemption(code: $c) { code status member { id } merchant { id } } }`;
    for (const token of [m.token, merchantToken, h.adminToken]) {
      const res = await h.gql(token, q, { c: r.code });
      expect(res.data.redemption).toMatchObject({ code: r.code, status: 'PENDING', merchant: { id: merchant } });
    }
    expect((await h.gql(merchantToken, q, { c: r.code })).data.redemption.member).toBeNull();
    // another merchant's or member's voucher reads like an unknown code: codes cannot be probed (issue 13 item 5)
    for (const token of [otherMerchantToken, (await member()).token]) {
      const res = await h.gql(token, q, { c: r.code });
      expect(res.errors).toBeUndefined();
      expect(res.data.redemption).toBeNull();
    }
    expect((await h.gql(merchantToken, q, { c: '0000000000' })).data.redemption).toBeNull();
  });
});

describe('expiry', () => {
  async function age(code: string): Promise<void> {
    await h.bank.knex('redemptions').where({ head_id: h.head.id, code }).update({ expires_at: h.bank.knex.raw(`now() - interval '1 second'`) });
  }

  it('a voucher past its expiry reads EXPIRED at once and cannot be fulfilled; the sweeper releases it once', async () => {
    const m = await member('10.00');
    const item = await addItem({ stock: 1 });
    const r = await redeemOk(m.token, item);
    await age(r.code);
    const read = await h.gql(m.token, `query($c: String!) { redemption(code: $c) { status } }`, { c: r.code });
    expect(read.data.redemption.status).toBe('EXPIRED');
    const late = await h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } });
    expect(codes(late)).toEqual(['INVALID_STATE']);
    expect(late.errors![0]!.message).toMatch(/EXPIRED/);
    expect(codes(await h.gql(m.token, cancelMutation, { i: { idempotencyKey: h.key(), code: r.code } }))).toEqual(['INVALID_STATE']);
    expect(await wallet(m.id)).toMatchObject({ held: '10.00' });
    // Several sweepers at once (several service processes): released exactly once.
    const swept = await Promise.all([expireRedemptions(h.bank), expireRedemptions(h.bank), expireRedemptions(h.bank)]);
    expect(swept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await wallet(m.id)).toMatchObject({ balance: '10.00', held: '0.00' });
    expect(await stockOf(item)).toBe(1);
    const row = await h.bank.knex('redemptions').where({ head_id: h.head.id, code: r.code }).first('status', 'released_by');
    expect(row).toEqual({ status: 'EXPIRED', released_by: 'expiry-sweeper' });
  });
});

describe('races, with real concurrent requests', () => {
  it('100 members redeeming the last 5 items: exactly 5 succeed, stock 0, the rest OUT_OF_STOCK, no hold left behind', async () => {
    const item = await addItem({ stock: 5, cost: '3.00' });
    const members = await Promise.all(Array.from({ length: 100 }, () => member('10.00')));
    const results = await Promise.all(members.map((m) => h.gql(m.token, redeemMutation, { i: { idempotencyKey: h.key(), item } })));
    const ok = results.filter((r) => !r.errors);
    expect(ok).toHaveLength(5);
    expect(results.filter((r) => codes(r)[0] === 'OUT_OF_STOCK')).toHaveLength(95);
    expect(await stockOf(item)).toBe(0);
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n, sum(held) AS held FROM accounts
      WHERE head_id = ? AND owner_type = 'MEMBER' AND asset_code = 'POINTS' AND owner_id = ANY(?::bigint[]) AND held > 0`,
    [h.head.id, members.map((m) => m.id)]);
    expect(rows[0]).toMatchObject({ n: 5 });
    expect(Number(rows[0].held)).toBe(15);
  });

  it('two devices fulfilling one voucher at once: one fulfilment', async () => {
    const m = await member('10.00');
    const r = await redeemOk(m.token, await addItem({ cost: '10.00' }));
    const before = await merchantBalance(merchant);
    const deviceA = h.token({ role: 'merchant', merchant, sub: 'till-a' });
    const deviceB = h.token({ role: 'merchant', merchant, sub: 'till-b' });
    const results = await Promise.all([deviceA, deviceB, deviceA, deviceB].map((t) => h.gql(t, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } })));
    // One fulfilment; the winning device's second scan is an idempotent success, the other device's are INVALID_STATE.
    expect(results.filter((x) => !x.errors && !x.data.fulfillRedemption.replayed)).toHaveLength(1);
    expect(results.filter((x) => !x.errors && x.data.fulfillRedemption.replayed)).toHaveLength(1);
    expect(results.filter((x) => codes(x)[0] === 'INVALID_STATE')).toHaveLength(2);
    expect(Number(await merchantBalance(merchant)) - Number(before)).toBe(10);
    expect(await wallet(m.id)).toMatchObject({ balance: '0.00', held: '0.00' });
  });

  it('cancel against fulfil: exactly one outcome, and the balances match it', async () => {
    for (let round = 0; round < 5; round++) {
      const m = await member('10.00');
      const item = await addItem({ stock: 1, cost: '10.00' });
      const r = await redeemOk(m.token, item);
      const [fulfil, cancel] = await Promise.all([
        h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } }),
        h.gql(m.token, cancelMutation, { i: { idempotencyKey: h.key(), code: r.code } }),
      ]);
      expect([fulfil, cancel].filter((x) => !x.errors)).toHaveLength(1);
      const status = (await h.gql(m.token, `query($c: String!) { redemption(code: $c) { status } }`, { c: r.code })).data.redemption.status;
      if (!fulfil.errors) {
        expect(status).toBe('FULFILLED');
        expect(await wallet(m.id)).toMatchObject({ balance: '0.00', held: '0.00' });
        expect(await stockOf(item)).toBe(0);
      } else {
        expect(status).toBe('CANCELLED');
        expect(await wallet(m.id)).toMatchObject({ balance: '10.00', held: '0.00' });
        expect(await stockOf(item)).toBe(1);
      }
    }
  });

  it('expiry against fulfil: exactly one outcome, and the balances match it', async () => {
    for (let round = 0; round < 5; round++) {
      const m = await member('10.00');
      const item = await addItem({ stock: 1, cost: '10.00' });
      const r = await redeemOk(m.token, item);
      // Expires a few milliseconds from now: the fulfilment and the sweeper race around the instant.
      await h.bank.knex('redemptions').where({ head_id: h.head.id, code: r.code }).update({ expires_at: h.bank.knex.raw(`now() + interval '15 milliseconds'`) });
      await new Promise((resolve) => setTimeout(resolve, 10));
      const [fulfil] = await Promise.all([
        h.gql(merchantToken, fulfilMutation, { i: { idempotencyKey: h.key(), code: r.code } }),
        (async () => { await new Promise((resolve) => setTimeout(resolve, 5)); await expireRedemptions(h.bank); })(),
      ]);
      await expireRedemptions(h.bank);
      const row = await h.bank.knex('redemptions').where({ head_id: h.head.id, code: r.code }).first('status');
      if (!fulfil.errors) {
        expect(row.status).toBe('FULFILLED');
        expect(await wallet(m.id)).toMatchObject({ balance: '0.00', held: '0.00' });
      } else {
        expect(codes(fulfil)).toEqual(['INVALID_STATE']);
        expect(row.status).toBe('EXPIRED');
        expect(await wallet(m.id)).toMatchObject({ balance: '10.00', held: '0.00' });
        expect(await stockOf(item)).toBe(1);
      }
    }
  });

  it('a member at their per-member limit redeeming from two devices at once: one succeeds', async () => {
    const m = await member('100.00');
    const item = await addItem({ limitPerMember: 1 });
    const phone = h.token({ role: 'member', member: m.id, sub: `phone-${m.id}` });
    const kiosk = h.token({ role: 'member', member: m.id, sub: `kiosk-${m.id}` });
    const results = await Promise.all([phone, kiosk, phone, kiosk].map((t) => h.gql(t, redeemMutation, { i: { idempotencyKey: h.key(), item } })));
    expect(results.filter((x) => !x.errors)).toHaveLength(1);
    expect(results.filter((x) => codes(x)[0] === 'LIMIT_EXCEEDED')).toHaveLength(3);
    expect(await wallet(m.id)).toMatchObject({ held: '10.00' });
  });

  it('concurrent identical redeems with one key: one redemption, the same voucher for all', async () => {
    const m = await member('100.00');
    const item = await addItem();
    const key = h.key();
    const results = await Promise.all(Array.from({ length: 20 }, () => h.gql(m.token, redeemMutation, { i: { idempotencyKey: key, item } })));
    expect(results.every((x) => !x.errors)).toBe(true);
    expect(new Set(results.map((x) => x.data.redeem.redemption.code)).size).toBe(1);
    expect(results.filter((x) => !x.data.redeem.replayed)).toHaveLength(1);
    expect(await wallet(m.id)).toMatchObject({ held: '10.00' });
  });
});
