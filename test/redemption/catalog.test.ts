// Merchants and their catalog as admins, merchants and members use them: createMerchant, items
// created and updated by code, what each caller may browse, the merchant's list of redemptions and
// the merchants' honour board (公益企业英雄榜).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let merchant: string;
let merchantToken: string;

const createMerchant = `mutation($i: CreateMerchantInput!) { createMerchant(input: $i) { replayed merchant { id name branch { code } account { asset balance } } } }`;
const upsertItem = `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { created replayed item { id code title cost stockLeft limitPerMember limitWindow voucherValidDays activeNow visibleTo { code } merchant { id } } } }`;
const catalogQuery = `query($m: ID, $c: String, $first: Int, $after: String, $all: Boolean) { catalog(merchant: $m, category: $c, first: $first, after: $after, includeInactive: $all) {
  edges { cursor node { id code title cost stockLeft affordable activeNow } } pageInfo { hasNextPage endCursor } } }`;

function item(fields: Record<string, unknown> = {}) {
  return { idempotencyKey: h.key(), code: `c-${h.key().slice(-8)}`, title: 'Rice 5kg', category: 'daily-goods', cost: '30.00', ...fields };
}

beforeAll(async () => {
  h = await startHarness();
  const res = await h.gql(h.adminToken, createMerchant, { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, name: '爱心超市 Caring Grocery' } });
  expect(res.errors).toBeUndefined();
  merchant = res.data.createMerchant.merchant.id;
  merchantToken = h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` });
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('createMerchant', () => {
  it('creates a merchant with a POINTS account in a branch of the admin\'s scope, once per key', async () => {
    const key = h.key();
    const input = { idempotencyKey: key, branch: h.branches[1]!.code, name: '邻里理发 Barber' };
    const first = await h.gql(h.adminToken, createMerchant, { i: input });
    expect(first.data.createMerchant).toMatchObject({ replayed: false, merchant: { name: '邻里理发 Barber', branch: { code: h.branches[1]!.code }, account: { asset: 'POINTS', balance: '0.00' } } });
    const again = await h.gql(h.adminToken, createMerchant, { i: input });
    expect(again.data.createMerchant).toMatchObject({ replayed: true, merchant: { id: first.data.createMerchant.merchant.id } });
    expect(codes(await h.gql(h.adminToken, createMerchant, { i: { ...input, name: 'Other' } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
  });

  it('refuses other roles, out-of-scope branches and bad names', async () => {
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[0]!.code });
    expect(codes(await h.gql(branchAdmin, createMerchant, { i: { idempotencyKey: h.key(), branch: h.branches[1]!.code, name: 'X' } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(merchantToken, createMerchant, { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, name: 'X' } }))).toEqual(['FORBIDDEN']);
    const bad = await h.gql(h.adminToken, createMerchant, { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, name: 'x'.repeat(201) } });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0]!.extensions!.field).toBe('name');
    expect(codes(await h.gql(h.adminToken, createMerchant, { i: { idempotencyKey: h.key(), branch: 'no-such-branch', name: 'X' } }))).toEqual(['NOT_FOUND']);
  });
});

describe('upsertCatalogItem', () => {
  it('creates an item by code, then updates the same item; a replay answers the same', async () => {
    const input = item({ code: 'rice-5kg', stock: 10, limitPerMember: 1, limitWindow: 'WEEK' });
    const created = await h.gql(merchantToken, upsertItem, { i: input });
    expect(created.errors).toBeUndefined();
    expect(created.data.upsertCatalogItem).toMatchObject({
      created: true, replayed: false,
      item: { code: 'rice-5kg', cost: '30.00', stockLeft: 10, limitPerMember: 1, limitWindow: 'WEEK', voucherValidDays: 7, activeNow: true, visibleTo: { code: h.branches[0]!.code }, merchant: { id: merchant } },
    });
    expect((await h.gql(merchantToken, upsertItem, { i: input })).data.upsertCatalogItem.replayed).toBe(true);
    const updated = await h.gql(merchantToken, upsertItem, { i: { ...input, idempotencyKey: h.key(), cost: '28.50', stock: null } });
    expect(updated.data.upsertCatalogItem).toMatchObject({ created: false, item: { id: created.data.upsertCatalogItem.item.id, cost: '28.50', stockLeft: null } });
  });

  it('keeps what an update leaves out, and restocks with addStock without overwriting redemptions made meanwhile', async () => {
    const input = item({ stock: 3, limitPerMember: 2, limitWindow: 'MONTH', voucherValidDays: 3, description: 'Northeast rice' });
    const made = (await h.gql(merchantToken, upsertItem, { i: input })).data.upsertCatalogItem.item;
    const memberId = await h.addMember(`buyer-${h.key()}`);
    await h.fund(memberId, '100.00');
    const bought = await h.gql(h.token({ role: 'member', member: memberId }), `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
      { i: { idempotencyKey: h.key(), item: made.id } });
    expect(bought.errors).toBeUndefined();
    // A title edit that leaves stock, limits and validity out keeps them.
    const edited = await h.gql(merchantToken, upsertItem, { i: { idempotencyKey: h.key(), code: input.code, title: 'Rice 5 kg (new crop)', category: 'daily-goods', cost: '30.00' } });
    expect(edited.data.upsertCatalogItem.item).toMatchObject({ id: made.id, title: 'Rice 5 kg (new crop)', stockLeft: 2, limitPerMember: 2, limitWindow: 'MONTH', voucherValidDays: 3 });
    const restocked = await h.gql(merchantToken, upsertItem, { i: { ...input, idempotencyKey: h.key(), stock: undefined, addStock: 10 } });
    expect(restocked.data.upsertCatalogItem.item.stockLeft).toBe(12);
    const tooMany = await h.gql(merchantToken, upsertItem, { i: { ...input, idempotencyKey: h.key(), stock: undefined, addStock: -13 } });
    expect(codes(tooMany)).toEqual(['BAD_USER_INPUT']);
    expect(tooMany.errors![0]!.extensions!.field).toBe('addStock');
    const both = await h.gql(merchantToken, upsertItem, { i: { ...input, idempotencyKey: h.key(), addStock: 1 } });
    expect(codes(both)).toEqual(['BAD_USER_INPUT']);
    const unlimited = await h.gql(merchantToken, upsertItem, { i: { ...input, idempotencyKey: h.key(), stock: null } });
    expect(unlimited.data.upsertCatalogItem.item.stockLeft).toBeNull();
  });

  it('restocks with only code and addStock; creating needs title, category and cost, each named when missing', async () => {
    const input = item({ stock: 2 });
    expect((await h.gql(merchantToken, upsertItem, { i: input })).errors).toBeUndefined();
    const restocked = await h.gql(merchantToken, upsertItem, { i: { idempotencyKey: h.key(), code: input.code, addStock: 5 } });
    expect(restocked.errors).toBeUndefined();
    expect(restocked.data.upsertCatalogItem).toMatchObject({ created: false, item: { code: input.code, title: 'Rice 5kg', cost: '30.00', stockLeft: 7 } });
    const count = async () => Number((await h.bank.knex('catalog_items').where({ head_id: h.head.id }).count({ n: '*' }))[0]!.n);
    const before = await count();
    for (const missing of ['title', 'category', 'cost'] as const) {
      const fields = item();
      delete (fields as Record<string, unknown>)[missing];
      const res = await h.gql(merchantToken, upsertItem, { i: fields });
      expect(res.status).toBe(200);
      expect(codes(res), missing).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions!.field).toBe(missing);
      expect(res.errors![0]!.message).toBe(`${missing}: is required to create item ${fields.code} (no item of this merchant has that code yet)`);
    }
    const cleared = await h.gql(merchantToken, upsertItem, { i: { idempotencyKey: h.key(), code: input.code, title: null } });
    expect(codes(cleared)).toEqual(['BAD_USER_INPUT']);
    expect(cleared.errors![0]!.extensions!.field).toBe('title');
    expect(await count()).toBe(before);
  });

  it('lets an admin in scope manage a merchant\'s items, and nobody else', async () => {
    const byAdmin = await h.gql(h.adminToken, upsertItem, { i: item({ merchant }) });
    expect(byAdmin.errors).toBeUndefined();
    expect(codes(await h.gql(h.adminToken, upsertItem, { i: item() }))).toEqual(['BAD_USER_INPUT']);
    const otherAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code });
    expect(codes(await h.gql(otherAdmin, upsertItem, { i: item({ merchant }) }))).toEqual(['FORBIDDEN']);
    const other = await h.addMerchant('Other shop');
    expect(codes(await h.gql(merchantToken, upsertItem, { i: item({ merchant: other }) }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.clientToken, upsertItem, { i: item({ merchant }) }))).toEqual(['FORBIDDEN']);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    // (stock and addStock together, and addStock on an unlimited item, are covered above)
    const count = async () => Number((await h.bank.knex('catalog_items').where({ head_id: h.head.id }).count({ n: '*' }))[0]!.n);
    const before = await count();
    const cases: [Record<string, unknown>, string][] = [
      [{ cost: '0' }, 'cost'], [{ cost: '1.005' }, 'cost'], [{ cost: '1e3' }, 'cost'], [{ cost: '-5.00' }, 'cost'],
      [{ stock: -1 }, 'stock'], [{ limitPerMember: 0 }, 'limitPerMember'], [{ limitWindow: 'DAY' }, 'limitWindow'],
      [{ voucherValidDays: 0 }, 'voucherValidDays'], [{ voucherValidDays: 366 }, 'voucherValidDays'],
      [{ code: 'has space' }, 'code'], [{ title: '' }, 'title'], [{ title: 'x'.repeat(201) }, 'title'],
      [{ activeFrom: '2026-12-01T00:00:00Z', activeTo: '2026-11-01T00:00:00Z' }, 'activeTo'],
    ];
    for (const [fields, field] of cases) {
      const res = await h.gql(merchantToken, upsertItem, { i: item(fields) });
      expect(codes(res), JSON.stringify(fields)).toEqual(['BAD_USER_INPUT']);
      // the domain names the input field; GraphQL's own coercion names its path in the variable (i.cost)
      if (res.errors![0]!.extensions!.field) expect(res.errors![0]!.extensions!.field).toMatch(new RegExp(`^(i\\.)?${field}$`));
    }
    expect(await count()).toBe(before);
  });
});

describe('catalog', () => {
  it('shows a member what is offered to its branch now, with whether it can afford it, page by page', async () => {
    const shop = await h.addMerchant('Corner shop', h.branches[2]);
    const shopToken = h.token({ role: 'merchant', merchant: shop });
    const ids: string[] = [];
    for (const [cost, extra] of [['5.00', {}], ['50.00', {}], ['7.00', { activeTo: new Date(Date.now() - 1000).toISOString(), activeFrom: '2026-01-01T00:00:00Z' }], ['9.00', { category: 'haircut' }]] as const) {
      const res = await h.gql(shopToken, upsertItem, { i: item({ cost, ...extra }) });
      ids.push(res.data.upsertCatalogItem.item.id);
    }
    const memberId = await h.addMember(`browser-${h.key()}`, h.branches[2]);
    await h.fund(memberId, '10.00');
    const token = h.token({ role: 'member', member: memberId });
    const page1 = await h.gql(token, catalogQuery, { m: shop, first: 2 });
    expect(page1.data.catalog.edges.map((e: any) => [e.node.cost, e.node.affordable])).toEqual([['5.00', true], ['50.00', false]]);
    expect(page1.data.catalog.pageInfo.hasNextPage).toBe(true);
    const page2 = await h.gql(token, catalogQuery, { m: shop, first: 2, after: page1.data.catalog.pageInfo.endCursor });
    expect(page2.data.catalog.edges.map((e: any) => e.node.id)).toEqual([ids[3]]);
    expect(page2.data.catalog.pageInfo.hasNextPage).toBe(false);
    expect((await h.gql(token, catalogQuery, { m: shop, c: 'haircut' })).data.catalog.edges).toHaveLength(1);
    // A member of another branch does not see this shop's items; its merchant sees all of its own, inactive too.
    const outsider = h.token({ role: 'member', member: await h.addMember(`out-${h.key()}`, h.branches[1]) });
    expect((await h.gql(outsider, catalogQuery, { m: shop })).data.catalog.edges).toEqual([]);
    expect((await h.gql(shopToken, catalogQuery, { all: true })).data.catalog.edges).toHaveLength(4);
    expect((await h.gql(shopToken, catalogQuery, {})).data.catalog.edges).toHaveLength(3);
    expect(codes(await h.gql(h.clientToken, catalogQuery, {}))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(token, catalogQuery, { first: 201 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(token, catalogQuery, { after: 'bm90LWEtY3Vyc29y' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe("a merchant's redemptions and the honour board", () => {
  it('lists a merchant\'s redemptions by status, newest first, and ranks merchants by points redeemed', async () => {
    const shop = await h.addMerchant('Board shop A');
    const rival = await h.addMerchant('Board shop B');
    const shopToken = h.token({ role: 'merchant', merchant: shop, sub: `m-${shop}` });
    const rivalToken = h.token({ role: 'merchant', merchant: rival, sub: `m-${rival}` });
    const a = (await h.gql(shopToken, upsertItem, { i: item({ cost: '4.00' }) })).data.upsertCatalogItem.item.id;
    const b = (await h.gql(rivalToken, upsertItem, { i: item({ cost: '10.00' }) })).data.upsertCatalogItem.item.id;
    const redeemQ = `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`;
    const fulfilQ = `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`;
    const codesOf: string[] = [];
    for (let i = 0; i < 3; i++) {
      const memberId = await h.addMember(`fan-${h.key()}`);
      await h.fund(memberId, '40.00');
      const t = h.token({ role: 'member', member: memberId });
      for (const [itemId, tok] of [[a, shopToken], [a, shopToken], [b, rivalToken]] as const) {
        const code = (await h.gql(t, redeemQ, { i: { idempotencyKey: h.key(), item: itemId } })).data.redeem.redemption.code;
        codesOf.push(code);
        if (i < 2) await h.gql(tok, fulfilQ, { i: { idempotencyKey: h.key(), code } });
      }
    }
    const list = await h.gql(shopToken, `query($s: RedemptionStatus) { redemptions(status: $s, first: 10) { edges { node { code status } } } }`, { s: 'FULFILLED' });
    expect(list.data.redemptions.edges).toHaveLength(4);
    const pending = await h.gql(shopToken, `{ redemptions(status: PENDING) { edges { node { code } } } }`);
    expect(pending.data.redemptions.edges.map((e: any) => e.node.code)).toEqual([codesOf[7], codesOf[6]]);
    expect(codes(await h.gql(shopToken, `query($m: ID) { redemptions(merchant: $m) { edges { node { code } } } }`, { m: rival }))).toEqual(['FORBIDDEN']);
    const byAdmin = await h.gql(h.adminToken, `query($m: ID) { redemptions(merchant: $m) { edges { node { code } } } }`, { m: rival });
    expect(byAdmin.data.redemptions.edges).toHaveLength(3);

    // This month, in the bank's calendar (Asia/Shanghai), as the other reports take periods.
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).format(new Date());
    const period = { fromMonth: month, toMonth: month };
    const board = await h.gql(h.adminToken, `query($p: ReportPeriod!) { merchantLeaderboard(period: $p) {
      branch { code } from to lines { rank merchant { id name } pointsRedeemed residentsServed redemptions } } }`, { p: period });
    expect(board.errors).toBeUndefined();
    const lines = board.data.merchantLeaderboard.lines.filter((l: any) => [shop, rival].includes(l.merchant.id));
    expect(lines.map((l: any) => [l.merchant.name, l.pointsRedeemed, l.residentsServed, l.redemptions])).toEqual([
      ['Board shop B', '20.00', 2, 2], ['Board shop A', '16.00', 2, 4],
    ]);
    const memberView = await h.gql(h.token({ role: 'member', member: await h.addMember(`viewer-${h.key()}`) }),
      `query($p: ReportPeriod!) { merchantLeaderboard(period: $p) { lines { merchant { id } } } }`, { p: period });
    expect(memberView.errors).toBeUndefined();
    const lastYear = await h.gql(h.adminToken, `{ merchantLeaderboard(period: {year: 2020}) { from lines { rank } } }`);
    expect(lastYear.data.merchantLeaderboard).toEqual({ from: '2019-12-31T16:00:00.000Z', lines: [] });
    const badPeriod = await h.gql(h.adminToken, `{ merchantLeaderboard(period: {fromMonth: "2026-05", toMonth: "2026-01"}) { lines { rank } } }`);
    expect(codes(badPeriod)).toEqual(['BAD_USER_INPUT']);
  });
});
