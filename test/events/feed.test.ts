// The event feed as an integrator reads it: every kind of change (transactions, vouchers, claims,
// pools, score years, members) appears once with its documented fields, numbered without gaps, in
// the order of the journal's chain, a change never before the transaction committed with or before it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { eventTypes, readEvents, type BankEvent } from '../../src/events/feed.js';
import { produceAllEvents, produceEvents } from '../../src/events/produce.js';
import { checkFeed } from '../../src/events/check.js';
import { sealJournal } from '../../src/ledger/seal.js';

let h: Harness;

async function ok<T = any>(token: string, query: string, input: Record<string, unknown>): Promise<T> {
  const res = await h.gql(token, query, { i: { idempotencyKey: h.key(), ...input } });
  expect(res.errors, query).toBeUndefined();
  return res.data as T;
}

async function allEvents(): Promise<BankEvent[]> {
  const events: BankEvent[] = [];
  for (;;) {
    const page = await readEvents(h.bank.pool, { headId: h.head.id, afterSeq: events.at(-1)?.seq ?? '0', limit: 100 });
    if (!page.length) return events;
    events.push(...page);
  }
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 30 });
  await ok(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code } } }`, {
    code: 'party.service-claim', name: '志愿服务申报 Claimed service', category: 'party-service',
    outputs: [{ asset: 'PARTY_SCORE', amountPerUnit: '3.00' }], caps: [], requiresApproval: true,
  });
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

describe('the event feed', () => {
  it('has an event of every type in the catalogue, with the documented fields, numbered 1..n in chain order', async () => {
    const a = h.branches[0]!;
    const b = h.branches[1]!;
    // Members: created, then moved.
    const created = await ok(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { externalId: `${h.tag}-resident`, branch: a.code, name: 'Resident', isPartyMember: true });
    const memberId = created.upsertMember.member.id;
    await ok(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { externalId: `${h.tag}-resident`, branch: b.code, name: 'Resident' });
    // A transaction posted.
    await ok(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`, { memberId, rule: 'garbage.sorted-drop' });
    await h.fund(memberId, '100.00');
    // Claims: one approved (its transaction commits with the decision), one rejected.
    const claim = async () => (await ok(h.adminToken, `mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }`,
      { memberId, rule: 'party.service-claim', quantity: '1' })).submitClaim.claim.id;
    const approved = await claim();
    const rejected = await claim();
    const approval = await ok(h.adminToken, `mutation($i: DecideClaimInput!) { approveClaim(input: $i) { claim { status transaction { id } } } }`, { claim: approved });
    await ok(h.adminToken, `mutation($i: DecideClaimInput!) { rejectClaim(input: $i) { claim { status } } }`, { claim: rejected, reason: 'no sign-in sheet' });
    // A pool opened, funded by a donation, then closed (donations refunded).
    const pool = (await ok(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
      { branch: b.code, title: 'Wheelchair', beneficiary: 'Household 3', target: '10.00' })).createPool.pool.id;
    const memberToken = h.token({ role: 'member', member: memberId });
    await ok(memberToken, `mutation($i: DonateInput!) { donate(input: $i) { transactionId } }`, { pool, amount: '10.00' });
    await ok(h.adminToken, `mutation($i: ClosePoolInput!) { closePool(input: $i) { refunds } }`, { pool, reason: 'bought by the street office' });
    // Vouchers: one fulfilled, one cancelled.
    const merchant = await h.addMerchant('Grocery', b);
    const merchantToken = h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` });
    const item = (await ok(merchantToken, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
      { code: `soap-${h.tag}`, title: 'Soap', category: 'daily', cost: '5.00' })).upsertCatalogItem.item.id;
    const redeem = async () => (await ok(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`, { item })).redeem.redemption.code;
    const fulfilled = await redeem();
    const cancelled = await redeem();
    await ok(merchantToken, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`, { code: fulfilled });
    await ok(memberToken, `mutation($i: VoucherInput!) { cancelRedemption(input: $i) { redemption { status } } }`, { code: cancelled });
    // A score year closed and reopened.
    await ok(h.adminToken, `mutation($i: CloseScoreYearInput!) { closeScoreYear(input: $i) { closure { id } } }`, { branch: a.code, year: 2024 });
    await ok(h.adminToken, `mutation($i: ReopenScoreYearInput!) { reopenScoreYear(input: $i) { closure { id } } }`, { branch: a.code, year: 2024, reason: 'late class records' });

    await produceAllEvents(h.bank, h.head.id);
    const events = await allEvents();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(eventTypes));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => String(i + 1)));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) {
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(e).toMatchObject({ headId: h.head.id, head: h.head.code });
      expect(e.branchPath.startsWith(h.head.path)).toBe(true);
      expect(new Date(e.occurredAt).toISOString()).toBe(e.occurredAt);
      expect(e.data).toBeTypeOf('object');
    }
    const check = await checkFeed(h.bank.knex, h.head.id);
    expect(check.problems).toEqual([]);
    expect(check.transactionEvents).toBe(await h.transactionCount({ status: 'POSTED' }) + await h.transactionCount({ status: 'VOIDED' }));

    const of = (type: string) => events.filter((e) => e.type === type) as (BankEvent & { data: any })[];
    // Members: as the API shows them, in the branch they were in at each change.
    expect(of('member.created').find((e) => e.data.id === memberId)).toMatchObject({ branchPath: a.path, data: { externalId: `${h.tag}-resident`, branchId: a.id, isPartyMember: true } });
    expect(of('member.moved').find((e) => e.data.id === memberId)).toMatchObject({ branchPath: b.path, data: { branchId: b.id } });
    // Claims, and the approved claim's transaction before its decision.
    expect(of('claim.submitted').map((e) => e.data.id)).toEqual([approved, rejected]);
    expect(of('claim.decided').map((e) => [e.data.id, e.data.status])).toEqual([[approved, 'APPROVED'], [rejected, 'REJECTED']]);
    const awardEvent = events.find((e) => e.type === 'transaction.posted' && (e.data as any).id === approval.approveClaim.claim.transaction.id)!;
    expect(awardEvent.data).toMatchObject({ kind: 'EARN', status: 'POSTED', postings: expect.any(Array) });
    expect(Number(awardEvent.seq)).toBeLessThan(Number(of('claim.decided')[0]!.seq));
    // Pools: each status as it was at its change.
    expect(of('pool.status_changed').map((e) => e.data.status)).toEqual(['OPEN', 'FUNDED', 'CLOSED']);
    // Vouchers: issued, then fulfilled or cancelled; the REDEEM transactions final as POSTED and VOIDED.
    expect(of('voucher.status_changed').map((e) => [e.data.code, e.data.status])).toEqual([
      [fulfilled, 'PENDING'], [cancelled, 'PENDING'], [fulfilled, 'FULFILLED'], [cancelled, 'CANCELLED']]);
    const voided = of('transaction.voided');
    expect(voided).toHaveLength(1);
    expect(voided[0]!.data).toMatchObject({ kind: 'REDEEM', status: 'VOIDED' });
    expect(of('score_year.closed')[0]!.data).toMatchObject({ year: 2024, branchId: a.id, reopenedAt: null });
    expect(of('score_year.reopened')[0]!.data).toMatchObject({ year: 2024, reopenReason: 'late class records' });
    // Types filter, and a branch subtree.
    const onlyClaims = await readEvents(h.bank.pool, { headId: h.head.id, afterSeq: '0', limit: 100, types: ['claim.submitted', 'claim.decided'] });
    expect(onlyClaims.map((e) => e.seq)).toEqual(events.filter((e) => e.type.startsWith('claim.')).map((e) => e.seq));
    const underA = await readEvents(h.bank.pool, { headId: h.head.id, afterSeq: '0', limit: 1000, branchPath: a.path });
    expect(underA.length).toBeGreaterThan(0);
    expect(underA.every((e) => e.branchPath.startsWith(a.path))).toBe(true);

    // Over GraphQL: an admin pages through its subtree's events; others may not read the feed.
    const query = `query($after: String, $first: Int, $types: [String!]) { events(after: $after, first: $first, types: $types) {
      edges { cursor node { id seq type head branchPath occurredAt data } } pageInfo { hasNextPage endCursor } } }`;
    const firstPage = await h.gql(h.adminToken, query, { first: 5 });
    expect(firstPage.errors).toBeUndefined();
    expect(firstPage.data.events.edges.map((e: any) => e.node)).toEqual(events.slice(0, 5).map(({ headId: _, ...e }) => e));
    expect(firstPage.data.events.pageInfo).toEqual({ hasNextPage: true, endCursor: '5' });
    const branchAdmin = h.token({ role: 'admin', branch: a.code });
    const scoped = await h.gql(branchAdmin, query, { first: 500, types: ['member.created', 'member.moved'] });
    expect(scoped.data.events.edges.map((e: any) => e.node.seq)).toEqual(underA.filter((e) => e.type.startsWith('member.')).map((e) => e.seq));
    expect((await h.gql(h.clientToken, query, {})).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await h.gql(h.adminToken, query, { types: ['no.such'] })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('puts every transaction in the feed once, in chain order, while awards and several producers run together', async () => {
    const members = await Promise.all([0, 1, 2, 3].map((i) => h.addMember(`${h.tag}-busy-${i}`)));
    let running = true;
    const producers = [0, 1, 2].map(async () => {
      while (running) {
        await produceEvents(h.bank, h.head.id);
        await sealJournal(h.bank, h.head.id);
      }
    });
    const awards = members.map(async (memberId) => {
      for (let i = 0; i < 25; i++) {
        await ok(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
          { memberId, rule: 'volunteer.hour', occurredAt: new Date(Date.UTC(2026, 0, 1 + i, 4)).toISOString() });
        if (i % 10 === 0) await ok(h.adminToken, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
          { externalId: `${h.tag}-late-${memberId}-${i}`, branch: h.branches[2]!.code, name: 'Newcomer' });
      }
    });
    try {
      await Promise.all(awards);
    } finally {
      running = false;
      await Promise.all(producers);
    }
    await produceAllEvents(h.bank, h.head.id);
    const check = await checkFeed(h.bank.knex, h.head.id);
    expect(check.problems).toEqual([]);
    expect(check.sealsFed).toBe(check.transactionEvents);
    expect(check.transactionEvents).toBe(await h.transactionCount({ status: 'POSTED' }) + await h.transactionCount({ status: 'VOIDED' }));
    const newcomers = (await allEvents()).filter((e) => e.type === 'member.created' && (e.data as any).externalId.startsWith(`${h.tag}-late-`));
    expect(newcomers).toHaveLength(12);
  });
});
