// Invariant 5 over real HTTP against real PostgreSQL: a rule's caps per member per window are never
// exceeded, not even by awards that arrive together, and windows are the bank's calendar days and
// weeks (Asia/Shanghai), not UTC ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction {
  id postings { asset amount balanceAfter account { owner { type } } } } } }`;

const defineRule = `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { code version caps { window maxCount maxAmount } } } }`;

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-m${++members}`;
  return { id: await h.addMember(externalId, branch), externalId };
}



function send(memberId: string, rule: string, extra: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  return h.gql(h.clientToken, award, { input: { idempotencyKey: h.key(), memberId, rule, ...extra } });
}

function outcome(res: GraphQLResponse): string {
  if (!res.errors) return 'OK';
  return codes(res).join(',');
}

describe('a once-a-day rule', () => {
  it('credits once when 200 awards for one member arrive together', async () => {
    const m = await newMember();
    const answers = await Promise.all(Array.from({ length: 200 }, () => send(m.id, 'garbage.sorted-drop')));
    const outcomes = answers.map(outcome);
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'CAP_EXCEEDED')).toHaveLength(199);
    const refusal = answers.find((res) => res.errors)!.errors![0]!.message;
    expect(refusal).toContain('garbage.sorted-drop');
    expect(refusal).toContain(m.externalId);
    expect(await h.walletBalance(m.id)).toBe('1.00');
    expect(await h.transactionCount({ member_id: m.id })).toBe(1);
  });

  it('counts each member on its own: 50 members awarded together each get their one credit', async () => {
    const ms = await Promise.all(Array.from({ length: 50 }, () => newMember()));
    const answers = await Promise.all(ms.flatMap((m) => [send(m.id, 'garbage.sorted-drop'), send(m.id, 'garbage.sorted-drop')]));
    expect(answers.map(outcome).filter((o) => o === 'OK')).toHaveLength(50);
    for (const m of ms) expect(await h.walletBalance(m.id)).toBe('1.00');
  });

  it('counts its days in Asia/Shanghai: 15:59Z and 16:01Z are two days there', async () => {
    const m = await newMember();
    // 2026-11-22T15:59Z is 23:59 on the 22nd in Shanghai; 16:01Z is 00:01 on the 23rd.
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-22T15:59:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-22T16:01:00Z' }))).toBe('OK');
    expect(await h.walletBalance(m.id)).toBe('2.00');
  });

  it('counts its days in Asia/Shanghai: 16:01Z and 15:00Z the next UTC day are one day there', async () => {
    const m = await newMember();
    // 2026-11-15T16:01Z is 00:01 on the 16th in Shanghai; 2026-11-16T15:00Z is 23:00 on the 16th.
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-15T16:01:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-16T15:00:00Z' }))).toBe('CAP_EXCEEDED');
    // The next Shanghai day starts at 16:00Z.
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-16T16:00:00Z' }))).toBe('OK');
    // An award dated with an offset counts in Shanghai too: 2026-11-16T07:30+08:00 is the 16th there.
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-16T07:30:00+08:00' }))).toBe('CAP_EXCEEDED');
    expect(await h.walletBalance(m.id)).toBe('2.00');
    expect(await h.transactionCount({ member_id: m.id })).toBe(2);
  });

  it('leaves the day used once the award is written: a later award that day is still refused', async () => {
    const m = await newMember();
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-10T01:00:00Z' }))).toBe('OK');
    // The refused award itself uses nothing up: the next day still has its one credit.
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-10T02:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-10T03:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(outcome(await send(m.id, 'garbage.sorted-drop', { occurredAt: '2026-11-11T01:00:00Z' }))).toBe('OK');
  });
});

describe('a two-shifts-a-day rule (bin-side duty)', () => {
  it('takes two shifts at once, then refuses a third that day', async () => {
    const m = await newMember();
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '2', occurredAt: '2026-11-20T01:00:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { occurredAt: '2026-11-20T09:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '0.5', occurredAt: '2026-11-20T09:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });

  it('refuses three shifts in one award, writing nothing', async () => {
    const m = await newMember();
    const res = await send(m.id, 'garbage.bin-duty', { quantity: '3', occurredAt: '2026-11-20T01:00:00Z' });
    expect(outcome(res)).toBe('CAP_EXCEEDED');
    expect(res.errors![0]!.message).toContain('garbage.bin-duty');
    expect(await h.walletBalance(m.id)).toBe('0.00');
    // The day is untouched: two shifts still fit.
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '2', occurredAt: '2026-11-20T02:00:00Z' }))).toBe('OK');
  });

  it('adds shifts up: one, one, then a third is refused; half shifts count as halves', async () => {
    const m = await newMember();
    expect(outcome(await send(m.id, 'garbage.bin-duty', { occurredAt: '2026-11-21T01:00:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '0.5', occurredAt: '2026-11-21T02:00:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '0.75', occurredAt: '2026-11-21T03:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '0.5', occurredAt: '2026-11-21T04:00:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, 'garbage.bin-duty', { quantity: '0.01', occurredAt: '2026-11-21T05:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });

  it('gives exactly two shifts when 100 single-shift check-ins arrive together', async () => {
    const m = await newMember();
    const answers = await Promise.all(Array.from({ length: 100 }, () => send(m.id, 'garbage.bin-duty', { occurredAt: '2026-11-19T01:00:00Z' })));
    const outcomes = answers.map(outcome);
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'CAP_EXCEEDED')).toHaveLength(98);
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });

  it('gives exactly two shifts in a batch of ten', async () => {
    const m = await newMember();
    const res = await h.gql(h.clientToken, `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { succeeded failed results { error { code } } } }`, {
      input: { awards: Array.from({ length: 10 }, () => ({ idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', occurredAt: '2026-11-19T01:00:00Z' })) },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data.awardPointsBatch).toMatchObject({ succeeded: 2, failed: 8 });
    expect(res.data.awardPointsBatch.results.filter((r: any) => r.error?.code === 'CAP_EXCEEDED')).toHaveLength(8);
    expect(await h.walletBalance(m.id)).toBe('10.00');
  });
});

describe('weekly caps', () => {
  it('a weekly count cap (party class twice a week) counts Monday to Sunday in Shanghai', async () => {
    const m = await newMember(h.branches[0]!);
    // Monday 2026-11-16 starts at 2026-11-15T16:00Z in Shanghai.
    expect(outcome(await send(m.id, 'party.class-attendance', { occurredAt: '2026-11-09T02:00:00Z' }))).toBe('OK'); // Mon 9th
    expect(outcome(await send(m.id, 'party.class-attendance', { occurredAt: '2026-11-15T15:59:00Z' }))).toBe('OK'); // Sun 15th 23:59
    expect(outcome(await send(m.id, 'party.class-attendance', { occurredAt: '2026-11-12T02:00:00Z' }))).toBe('CAP_EXCEEDED'); // Thu 12th
    expect(outcome(await send(m.id, 'party.class-attendance', { occurredAt: '2026-11-15T16:01:00Z' }))).toBe('OK'); // Mon 16th 00:01
    expect(await h.walletBalance(m.id, 'PARTY_SCORE')).toBe('6.00');
  });

  it('a rule defined with a weekly amount cap stops at the amount', async () => {
    const code = `${h.tag}.weekly-amount`;
    const defined = await h.gql(h.adminToken, defineRule, { input: {
      idempotencyKey: h.key(), code, name: 'Community clean-up', category: 'environment',
      outputs: [{ asset: 'POINTS', amountPerUnit: '3.00' }], caps: [{ window: 'WEEK', maxAmount: '10' }],
    } });
    expect(defined.errors).toBeUndefined();
    expect(defined.data.defineRule.rule.caps).toEqual([{ window: 'WEEK', maxCount: null, maxAmount: '10.00' }]);
    const m = await newMember();
    expect(outcome(await send(m.id, code, { occurredAt: '2026-11-09T02:00:00Z' }))).toBe('OK'); // 3.00
    expect(outcome(await send(m.id, code, { quantity: '2', occurredAt: '2026-11-11T02:00:00Z' }))).toBe('OK'); // 9.00
    expect(outcome(await send(m.id, code, { occurredAt: '2026-11-13T02:00:00Z' }))).toBe('CAP_EXCEEDED'); // 12.00 > 10
    expect(outcome(await send(m.id, code, { quantity: '0.33', occurredAt: '2026-11-13T03:00:00Z' }))).toBe('OK'); // 0.99 → 9.99
    expect(outcome(await send(m.id, code, { quantity: '0.01', occurredAt: '2026-11-13T04:00:00Z' }))).toBe('CAP_EXCEEDED'); // 10.02 > 10
    expect(await h.walletBalance(m.id)).toBe('9.99');
    // Sunday 23:59 in Shanghai is still that week; Monday 00:01 starts a new one.
    expect(outcome(await send(m.id, code, { quantity: '0.01', occurredAt: '2026-11-15T15:59:00Z' }))).toBe('CAP_EXCEEDED');
    expect(outcome(await send(m.id, code, { quantity: '3', occurredAt: '2026-11-15T16:01:00Z' }))).toBe('OK');
    expect(await h.walletBalance(m.id)).toBe('18.99');

    // Under load the amount cap holds too: of 50 awards of 3.00 sent together, three fit under 10.
    const other = await newMember();
    const answers = await Promise.all(Array.from({ length: 50 }, () => send(other.id, code, { occurredAt: '2026-11-04T02:00:00Z' })));
    expect(answers.map(outcome).filter((o) => o === 'OK')).toHaveLength(3);
    expect(answers.map(outcome).filter((o) => o === 'CAP_EXCEEDED')).toHaveLength(47);
    expect(await h.walletBalance(other.id)).toBe('9.00');
  });
});

describe('several caps on one rule', () => {
  it('must all hold: once a day and three times a month', async () => {
    const code = `${h.tag}.daily-monthly`;
    const defined = await h.gql(h.adminToken, defineRule, { input: {
      idempotencyKey: h.key(), code, name: 'Library volunteer', category: 'volunteer',
      outputs: [{ asset: 'POINTS', amountPerUnit: '2.00' }],
      caps: [{ window: 'MONTH', maxCount: '3' }, { window: 'DAY', maxCount: '1' }],
    } });
    expect(defined.errors).toBeUndefined();
    // Stored in window order, whatever order they were given in.
    expect(defined.data.defineRule.rule.caps.map((c: any) => c.window)).toEqual(['DAY', 'MONTH']);
    const m = await newMember();
    const at = (day: number) => `2026-10-${String(day).padStart(2, '0')}T02:00:00Z`;
    expect(outcome(await send(m.id, code, { occurredAt: at(1) }))).toBe('OK');
    expect(outcome(await send(m.id, code, { occurredAt: at(1) }))).toBe('CAP_EXCEEDED'); // day
    expect(outcome(await send(m.id, code, { occurredAt: at(2) }))).toBe('OK');
    expect(outcome(await send(m.id, code, { occurredAt: at(3) }))).toBe('OK');
    expect(outcome(await send(m.id, code, { occurredAt: at(4) }))).toBe('CAP_EXCEEDED'); // month
    // The refused award used up nothing, not even the day cap it passed before the month cap refused it
    // (its day's counter row may exist, at zero: counter rows are created before they are locked).
    const usage = await h.bank.knex('rule_usage').where({ head_id: h.head.id, member_id: m.id, rule_code: code }).andWhere('units', '>', 0)
      .select('window_kind', h.bank.knex.raw('window_start::text AS day'), 'units').orderBy(['window_kind', 'window_start']);
    expect(usage.map((u) => [u.window_kind, u.day, Number(u.units)]))
      .toEqual([['DAY', '2026-10-01', 1], ['DAY', '2026-10-02', 1], ['DAY', '2026-10-03', 1], ['MONTH', '2026-10-01', 3]]);
    // October 31st 16:30Z is November 1st in Shanghai: a new month.
    expect(outcome(await send(m.id, code, { occurredAt: '2026-10-31T16:30:00Z' }))).toBe('OK');
    expect(await h.walletBalance(m.id)).toBe('8.00');
  });

  it('a yearly cap counts the Shanghai calendar year', async () => {
    const code = `${h.tag}.yearly`;
    const defined = await h.gql(h.adminToken, defineRule, { input: {
      idempotencyKey: h.key(), code, name: 'Model household', category: 'honours',
      outputs: [{ asset: 'POINTS', amountPerUnit: '50.00' }], caps: [{ window: 'YEAR', maxCount: '1' }],
    } });
    expect(defined.errors).toBeUndefined();
    const m = await newMember();
    // 2025-12-31T16:30Z is already 2026 in Shanghai.
    expect(outcome(await send(m.id, code, { occurredAt: '2025-12-31T15:30:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, code, { occurredAt: '2025-12-31T16:30:00Z' }))).toBe('OK');
    expect(outcome(await send(m.id, code, { occurredAt: '2026-06-01T00:00:00Z' }))).toBe('CAP_EXCEEDED');
    expect(await h.walletBalance(m.id)).toBe('100.00');
  });
});
