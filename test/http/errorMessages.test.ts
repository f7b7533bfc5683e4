// Error answers as a client depends on them: one shape for every error (a stable code, the field at
// fault even when graphql-js refused the input before any resolver ran, the message's parameters in
// extensions), messages in Chinese when Accept-Language prefers zh, instants in ISO 8601 in the
// bank's time zone (never PostgreSQL's text), and English where a message has no translation.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInstant, matchMessage, parseInstant, pickLanguage } from '../../src/errorMessages.js';
import { codes, startApp, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let merchant: string;

beforeAll(async () => {
  h = await startHarness();
  merchant = await h.addMerchant('爱心超市 Caring Grocery');
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

async function gql(token: string | null, query: string, variables: Record<string, unknown> = {}, language?: string) {
  const req = request(h.url).post('/graphql').set('content-type', 'application/json');
  if (token) req.set('authorization', `Bearer ${token}`);
  if (language) req.set('accept-language', language);
  const res = await req.send({ query, variables });
  return { status: res.status, body: res.body, error: res.body?.errors?.[0] as { message: string; extensions: Record<string, any> } | undefined };
}

const adjust = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`;
const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transactionId } }`;
const transfer = `mutation($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId } }`;
const isoShanghai = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/;

describe('input refused by graphql-js before any resolver names its field', () => {
  it('a Decimal given as a number, in a variable and written inline', async () => {
    const m = await h.addMember(`${h.tag}-coerce`);
    const viaVariable = await gql(h.adminToken, adjust, { i: { idempotencyKey: h.key(), member: { id: m }, asset: 'POINTS', amount: 12, reason: 'x' } });
    expect(viaVariable.status).toBe(400);
    expect(viaVariable.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'i.amount' });
    const inline = await gql(h.adminToken, `mutation { adjustBalance(input: { idempotencyKey: "k-${h.tag}", member: { id: "${m}" }, asset: POINTS, amount: 12, reason: "x" }) { transactionId } }`);
    expect(inline.status).toBe(400);
    expect(inline.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
  });

  it('a missing field, a bad DateTime, an item of a list, and a missing argument', async () => {
    const missing = await gql(h.adminToken, adjust, { i: { idempotencyKey: h.key(), member: { id: '1' }, asset: 'POINTS', reason: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'i.amount' });
    const missingInline = await gql(h.adminToken, `mutation { adjustBalance(input: { idempotencyKey: "k", member: { id: "1" }, asset: POINTS, reason: "x" }) { transactionId } }`);
    expect(missingInline.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    const nestedMissing = await gql(h.adminToken, adjust, { i: { idempotencyKey: h.key(), member: {}, asset: 'POINTS', amount: '1.00', reason: 'x', extra: 1 } });
    expect(nestedMissing.error!.extensions.field).toMatch(/^i\.(extra|member)/);
    const badDate = await gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: '1', rule: 'garbage.sorted-drop', occurredAt: 'yesterday' } });
    expect(badDate.status).toBe(400);
    expect(badDate.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.occurredAt' });
    const inList = await gql(h.clientToken, `mutation { awardPointsBatch(input: { awards: [{ idempotencyKey: "a", memberId: "1", rule: "r" }, { idempotencyKey: "b", memberId: "1", rule: "r", quantity: 2 }] }) { succeeded } }`);
    expect(inList.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.awards[1].quantity' });
    const noArgument = await gql(h.clientToken, `mutation { awardPoints { transactionId } }`);
    expect(noArgument.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    const nullVariable = await gql(h.clientToken, award, { input: null });
    expect(nullVariable.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
  });
});

describe('messages in the caller\'s language, with their parameters', () => {
  it('insufficient funds: Chinese when Accept-Language prefers zh, the figures in extensions either way', async () => {
    const from = await h.addMember(`${h.tag}-giver`);
    const to = await h.addMember(`${h.tag}-receiver`);
    await h.fund(from, '3.00');
    const input = { i: { idempotencyKey: h.key(), from: { id: from }, to: { id: to }, amount: '5.00' } };
    const en = await gql(h.adminToken, transfer, input);
    expect(en.error!.message).toBe(`member ${h.tag}-giver has 3.00 POINTS available, 5.00 needed`);
    expect(en.error!.extensions).toMatchObject({ code: 'INSUFFICIENT_FUNDS', member: `${h.tag}-giver`, available: '3.00', required: '5.00', asset: 'POINTS' });
    const zh = await gql(h.adminToken, transfer, { i: { ...input.i, idempotencyKey: h.key() } }, 'zh-CN,zh;q=0.9,en;q=0.8');
    expect(zh.error!.message).toBe(`储户 ${h.tag}-giver 可用 POINTS 为 3.00，需要 5.00`);
    expect(zh.error!.extensions).toMatchObject({ code: 'INSUFFICIENT_FUNDS', available: '3.00', required: '5.00' });
  });

  it('respects q-values: English preferred over zh stays English, zh preferred over en is Chinese', async () => {
    const query = `{ member(id: "999999999") { id } }`;
    const noToken = async (language: string) => (await gql(null, query, {}, language)).error!.message;
    expect(await noToken('en;q=0.9, zh;q=0.8')).toMatch(/^send an Authorization/);
    expect(await noToken('zh;q=0.5, en;q=0.4')).toMatch(/^请在请求头中附带/);
    expect(await noToken('fr, zh-TW;q=0.5')).toMatch(/^请在请求头中附带/);
    expect(pickLanguage(undefined)).toBe('en');
    expect(pickLanguage('zh-CN')).toBe('zh-CN');
    expect(pickLanguage('en-US,en;q=0.9,zh-CN;q=0.8')).toBe('en');
    expect(pickLanguage('zh;q=0, en;q=0.1')).toBe('en');
    expect(pickLanguage('de')).toBe('en');
  });

  it('cap exceeded and a voucher fulfilled before: instants in ISO 8601 in the bank\'s time zone, never PostgreSQL\'s text', async () => {
    const m = await h.addMember(`${h.tag}-capped`);
    expect((await gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.sorted-drop' } })).error).toBeUndefined();
    const capped = await gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId: m, rule: 'garbage.sorted-drop' } }, 'zh');
    expect(capped.error!.extensions.code).toBe('CAP_EXCEEDED');
    // The window starts at midnight in the bank's zone: an ISO 8601 instant with its +08:00 offset, or the ISO date.
    expect(capped.error!.extensions.windowStart).toMatch(/^\d{4}-\d{2}-\d{2}(T00:00:00\.000\+08:00)?$/);
    expect(capped.error!.message).toContain(capped.error!.extensions.windowStart);
    expect(capped.error!.message).toMatch(/^规则「garbage\.sorted-drop」每日对储户/);
    expect(capped.error!.message).not.toMatch(/\d{2}:\d{2}:\d{2}(\.\d+)?\+00\b/);

    const itemRes = await gql(h.token({ role: 'merchant', merchant, sub: `till-a-${h.tag}` }),
      `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
      { i: { idempotencyKey: h.key(), code: `soap-${h.tag}`, title: 'Soap', category: 'daily', cost: '1.00' } });
    const buyer = await h.addMember(`${h.tag}-buyer`);
    await h.fund(buyer, '5.00');
    const redeemed = await gql(h.token({ role: 'member', member: buyer }), `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
      { i: { idempotencyKey: h.key(), item: itemRes.body.data.upsertCatalogItem.item.id } });
    const code = redeemed.body.data.redeem.redemption.code;
    const fulfil = `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`;
    expect((await gql(h.token({ role: 'merchant', merchant, sub: `till-a-${h.tag}` }), fulfil, { i: { idempotencyKey: h.key(), code } })).error).toBeUndefined();
    const twice = await gql(h.token({ role: 'merchant', merchant, sub: `till-b-${h.tag}` }), fulfil, { i: { idempotencyKey: h.key(), code } });
    expect(twice.error!.extensions).toMatchObject({ code: 'INVALID_STATE' });
    expect(twice.error!.extensions.fulfilledAt).toMatch(isoShanghai);
    expect(twice.error!.message).toBe(`voucher ${code} is FULFILLED (at ${twice.error!.extensions.fulfilledAt}); only a PENDING voucher can be fulfilled`);
    const twiceZh = await gql(h.token({ role: 'merchant', merchant, sub: `till-b-${h.tag}` }), fulfil, { i: { idempotencyKey: h.key(), code } }, 'zh-CN');
    expect(twiceZh.error!.message).toBe(`兑换券 ${code} 已于 ${twice.error!.extensions.fulfilledAt} 核销；只有待核销的兑换券才能核销`);
  });

  it('not found, forbidden, unauthenticated, bad input and idempotency conflicts have Chinese messages; an untranslated one stays English', async () => {
    const zh = 'zh-CN';
    const notFound = await gql(h.clientToken, award, { input: { idempotencyKey: h.key(), externalId: 'nobody-here', rule: 'garbage.sorted-drop' } }, zh);
    expect(notFound.error!.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'member', externalId: 'nobody-here' });
    expect(notFound.error!.message).toBe('本行没有 externalId 为 "nobody-here" 的储户');
    const narrow = h.token({ role: 'client', sub: `${h.tag}-narrow`, rules: ['garbage.sorted-drop'] });
    const ruleRefused = await gql(narrow, award, { input: { idempotencyKey: h.key(), externalId: 'x', rule: 'garbage.bin-duty' } }, zh);
    expect(ruleRefused.error!.message).toBe('rule：没有您的令牌可用的规则「garbage.bin-duty」');
    const forbidden = await gql(h.token({ role: 'merchant', merchant }), award, { input: { idempotencyKey: h.key(), externalId: 'x', rule: 'garbage.sorted-drop' } }, zh);
    expect(forbidden.error!.extensions).toMatchObject({ code: 'FORBIDDEN', roles: 'client or admin', role: 'merchant' });
    expect(forbidden.error!.message).toBe('此操作需要 客户端或管理员 角色；您的令牌角色是 商户');
    const expired = await gql(h.token({ role: 'admin' }, -60), `{ me { role } }`, {}, zh);
    expect(expired.status).toBe(401);
    expect(expired.error!.message).toBe('令牌已过期：请重新登录或重新获取令牌');
    const m = await h.addMember(`${h.tag}-input`);
    const badAmount = await gql(h.adminToken, adjust, { i: { idempotencyKey: h.key(), member: { id: m }, asset: 'POINTS', amount: '1.005', reason: 'x' } }, zh);
    expect(badAmount.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount', value: '1.005', scale: '2' });
    expect(badAmount.error!.message).toBe('amount：1.005 的小数位超过 2 位');
    const key = h.key();
    expect((await gql(h.adminToken, adjust, { i: { idempotencyKey: key, member: { id: m }, asset: 'POINTS', amount: '1.00', reason: 'x' } })).error).toBeUndefined();
    const conflict = await gql(h.adminToken, adjust, { i: { idempotencyKey: key, member: { id: m }, asset: 'POINTS', amount: '2.00', reason: 'x' } }, zh);
    expect(conflict.error!.extensions).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', key });
    expect(conflict.error!.message).toMatch(/^幂等键 ".*" 已用于另一个不同的 .* 请求；新请求请使用新的键$/);
    // No translation (a rare check): the English message, unchanged, with its code.
    const untranslated = await gql(h.token({ role: 'merchant', merchant }), `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
      { i: { idempotencyKey: h.key(), code: `x-${h.tag}`, title: 'X', category: 'c', cost: '1.00', limitWindow: 'DAY' } }, zh);
    expect(untranslated.error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limitWindow' });
    expect(untranslated.error!.message).toBe('limitWindow: needs limitPerMember');
  });

  it('a batch\'s failed items are in the caller\'s language too, with instants in the bank\'s time zone', async () => {
    const m = await h.addMember(`${h.tag}-batch`);
    const batch = `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { results { error { code message field } } } }`;
    const awards = [0, 1].map(() => ({ idempotencyKey: h.key(), memberId: m, rule: 'garbage.sorted-drop' }));
    const res = await gql(h.clientToken, batch, { input: { awards: [...awards, { idempotencyKey: h.key(), externalId: 'nobody-at-all', rule: 'garbage.sorted-drop' }] } }, 'zh-CN');
    const errors = res.body.data.awardPointsBatch.results.map((r: any) => r.error);
    expect(errors[0]).toBeNull();
    expect(errors[1].code).toBe('CAP_EXCEEDED');
    expect(errors[1].message).toMatch(/^规则「garbage\.sorted-drop」每日对储户 .* 最多 1 units/);
    expect(errors[1].message).not.toMatch(/\d{2}:\d{2}:\d{2}(\.\d+)?\+00\b/);
    expect(errors[2]).toMatchObject({ code: 'NOT_FOUND', message: '本行没有 externalId 为 "nobody-at-all" 的储户' });
  });

  it('rate limited: 429 with Retry-After and a Chinese message', async () => {
    const app = await startApp({ RATE_LIMIT_REQUESTS: '1', RATE_LIMIT_WINDOW_MS: '60000' });
    try {
      const send = () => request(app.url).post('/graphql').set('content-type', 'application/json').set('accept-language', 'zh')
        .set('authorization', `Bearer ${h.adminToken}`).send({ query: '{ __typename }' });
      await send();
      const limited = await send();
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: Number(limited.headers['retry-after']) });
      expect(limited.body.errors[0].message).toMatch(/^请求过于频繁；请在 \d+ 秒后重试/);
    } finally {
      await app.close();
    }
  });
});

describe('the catalogue', () => {
  it('recovers a SQL function\'s message id and parameters, and turns PostgreSQL timestamps into ISO 8601 in a time zone', () => {
    const matched = matchMessage('INVALID_STATE', 'pool "Roof repair" closed for donations at 2026-12-02 11:38:55.284299+00');
    expect(matched?.id).toBe('pool.closedForDonations');
    expect(formatInstant(matched!.params.deadline as Date, 'Asia/Shanghai')).toBe('2026-12-02T19:38:55.284+08:00');
    expect(parseInstant('2026-12-02 11:38:55+05:30')!.toISOString()).toBe('2026-12-02T06:08:55.000Z');
    expect(formatInstant(new Date('2026-06-01T00:00:00Z'), 'UTC')).toBe('2026-06-01T00:00:00.000+00:00');
    expect(codes({ status: 200, data: null, errors: [{ message: '', extensions: { code: 'X' } }] })).toEqual(['X']);
  });
});
