// awardPointsBatch over real HTTP against real PostgreSQL: what a station uploading a day of scans
// depends on. Each award of a batch has its own key and its own result, in input order; a failed
// award writes nothing and keeps its key free; a key writes once however often and however
// concurrently it is sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const batch = `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) {
  succeeded failed
  results { index idempotencyKey replayed error { code message field }
    transaction { id kind member { id externalId } rule { code }
      postings { asset amount balanceAfter account { owner { type } } } } } } }`;

const award = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { replayed transaction { id } } }`;

interface ItemResult {
  index: number;
  idempotencyKey: string;
  replayed: boolean;
  error: { code: string; message: string; field: string | null } | null;
  transaction: { id: string; kind: string; member: { id: string; externalId: string }; rule: { code: string };
    postings: { asset: string; amount: string; balanceAfter: string | null; account: { owner: { type: string } } }[] } | null;
}

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-m${++members}`;
  return { id: await h.addMember(externalId, branch), externalId };
}

async function sendBatch(awards: Record<string, unknown>[], token = h.clientToken) {
  return h.gql<{ awardPointsBatch: { succeeded: number; failed: number; results: ItemResult[] } }>(token, batch, { input: { awards } });
}



/** How many transactions each key has produced (through its idempotency row), and how many key rows exist. */
async function writesByKey(keys: string[]): Promise<{ keyRows: number; transactions: number; postings: number }> {
  const [k] = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id }).whereIn('key', keys).count({ n: '*' });
  const ids = h.bank.knex('idempotency_keys').where({ head_id: h.head.id }).whereIn('key', keys).select('transaction_id');
  const [t] = await h.bank.knex('transactions').where({ head_id: h.head.id }).whereIn('id', ids).count({ n: '*' });
  const [p] = await h.bank.knex('postings').where({ head_id: h.head.id }).whereIn('transaction_id', ids).count({ n: '*' });
  return { keyRows: Number(k!.n), transactions: Number(t!.n), postings: Number(p!.n) };
}

function memberPosting(item: ItemResult) {
  return item.transaction!.postings.find((p) => p.account.owner.type === 'MEMBER' && p.asset === 'POINTS');
}

describe('a batch of awards', () => {
  it('answers one result per award, in input order, whatever order they are written in', async () => {
    // Members created in this order get increasing ids; the batch names them in reverse, so the
    // server (which writes in member order to keep lock order) must put the answers back.
    const ms = [await newMember(), await newMember(h.branches[1]!), await newMember(h.branches[2]!)];
    const input = [
      { idempotencyKey: h.key(), memberId: ms[2]!.id, rule: 'garbage.bin-duty' },
      { idempotencyKey: h.key(), externalId: ms[1]!.externalId, rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: ms[0]!.id, rule: 'volunteer.hour', quantity: '2' },
    ];
    const res = await sendBatch(input);
    expect(res.errors).toBeUndefined();
    const { results, succeeded, failed } = res.data!.awardPointsBatch;
    expect({ succeeded, failed }).toEqual({ succeeded: 3, failed: 0 });
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(results.map((r) => r.idempotencyKey)).toEqual(input.map((a) => a.idempotencyKey));
    expect(results.map((r) => r.transaction!.member.id)).toEqual([ms[2]!.id, ms[1]!.id, ms[0]!.id]);
    expect(results.map((r) => r.transaction!.rule.code)).toEqual(['garbage.bin-duty', 'garbage.sorted-drop', 'volunteer.hour']);
    expect(results.map((r) => memberPosting(r)!.amount)).toEqual(['5.00', '1.00', '20.00']);
    expect(results.every((r) => r.replayed === false && r.error === null)).toBe(true);
    expect(new Set(results.map((r) => r.transaction!.id)).size).toBe(3);
    expect([await h.walletBalance(ms[0]!.id), await h.walletBalance(ms[1]!.id), await h.walletBalance(ms[2]!.id)]).toEqual(['20.00', '1.00', '5.00']);
  });

  it('writes the good awards and refuses the bad ones one by one, each with its code', async () => {
    const ok = await newMember();
    const capped = await newMember();
    const outside = await newMember(h.branches[1]!);
    const first = await sendBatch([{ idempotencyKey: h.key(), memberId: capped.id, rule: 'garbage.sorted-drop' }]);
    expect(first.data!.awardPointsBatch.succeeded).toBe(1);
    const before = await h.transactionCount();
    const kiosk = h.token({ role: 'client', sub: `${h.tag}-kiosk-a`, rules: ['garbage.sorted-drop', 'garbage.bin-duty', 'garbage.retired-rule'], branch: h.branches[0]!.code });
    const input = [
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), externalId: `${h.tag}-not-yet-registered`, rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: capped.id, rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'garbage.bin-duty', quantity: '1.234' },
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'volunteer.hour' },
      { idempotencyKey: h.key(), memberId: outside.id, rule: 'garbage.sorted-drop' },
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'garbage.retired-rule' },
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'garbage.bin-duty', memo: 'x'.repeat(501) },
      { idempotencyKey: h.key(), memberId: ok.id, rule: 'garbage.bin-duty', quantity: '2' },
    ];
    const res = await sendBatch(input, kiosk);
    expect(res.errors).toBeUndefined();
    const { results, succeeded, failed } = res.data!.awardPointsBatch;
    expect({ succeeded, failed }).toEqual({ succeeded: 2, failed: 7 });
    expect(results.map((r) => r.error?.code ?? 'OK')).toEqual([
      'OK', 'NOT_FOUND', 'CAP_EXCEEDED', 'BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'OK',
    ]);
    // volunteer.hour is not on the kiosk's list: NOT_FOUND naming the item's rule, like an unknown rule.
    expect(results[4]!.error!.field).toBe('awards[4].rule');
    expect(results[3]!.error!.field).toBe('awards[3].quantity');
    expect(results[7]!.error!.field).toBe('awards[7].memo');
    for (const r of results) {
      expect(r.idempotencyKey).toBe(input[r.index]!.idempotencyKey);
      if (r.error) {
        expect(r.transaction).toBeNull();
        expect(r.replayed).toBe(false);
        expect(r.error.message.length).toBeGreaterThan(10);
      }
    }
    // Awards of one batch are written in member and key order (one lock order for all writers), so
    // which of the two came first is not promised; both amounts are.
    expect(memberPosting(results[0]!)!.amount).toBe('1.00');
    expect(memberPosting(results[8]!)!.amount).toBe('10.00');
    // Only the two successes were written, and the failures hold no key.
    expect(await h.transactionCount()).toBe(before + 2);
    expect(await writesByKey(input.map((a) => a.idempotencyKey))).toEqual({ keyRows: 2, transactions: 2, postings: 4 });
    expect(await h.walletBalance(ok.id)).toBe('11.00');
    expect(await h.walletBalance(capped.id)).toBe('1.00');
    expect(await h.walletBalance(outside.id)).toBe('0.00');
  });

  it('lets a failed award be sent again with the same key once its cause is fixed', async () => {
    const m = await newMember();
    const lateExternalId = `${h.tag}-registers-later`;
    const missing = { idempotencyKey: h.key(), externalId: lateExternalId, rule: 'garbage.sorted-drop' };
    const badQuantity = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty', quantity: '0' };
    const capped = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop', occurredAt: '2026-11-18T03:00:00Z' };
    const filler = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop', occurredAt: '2026-11-18T02:00:00Z' };
    expect((await sendBatch([filler])).data!.awardPointsBatch.succeeded).toBe(1);
    const res = await sendBatch([missing, badQuantity, capped]);
    expect(res.data!.awardPointsBatch.results.map((r) => r.error?.code ?? 'OK')).toEqual(['NOT_FOUND', 'BAD_USER_INPUT', 'CAP_EXCEEDED']);

    // The resident registers; the quantity is corrected; the capped drop was really on another day.
    const lateId = await h.addMember(lateExternalId, h.branches[0]!);
    const retry = await sendBatch([missing, { ...badQuantity, quantity: '1' }, { ...capped, occurredAt: '2026-11-17T03:00:00Z' }]);
    expect(retry.errors).toBeUndefined();
    const { results, succeeded } = retry.data!.awardPointsBatch;
    expect(succeeded).toBe(3);
    expect(results.map((r) => r.replayed)).toEqual([false, false, false]);
    expect(results[0]!.transaction!.member.id).toBe(lateId);
    expect(await h.walletBalance(lateId)).toBe('1.00');
    expect(await h.walletBalance(m.id)).toBe('7.00');
    // And sending that fixed batch once more replays it: nothing new is written.
    const before = await h.transactionCount();
    const again = await sendBatch([missing, { ...badQuantity, quantity: '1' }, { ...capped, occurredAt: '2026-11-17T03:00:00Z' }]);
    expect(again.data!.awardPointsBatch.results.map((r) => [r.replayed, r.transaction!.id])).toEqual(results.map((r) => [true, r.transaction!.id]));
    expect(await h.transactionCount()).toBe(before);
  });

  it('refuses more than 1,000 awards as a whole, writing none of them', async () => {
    const m = await newMember();
    const before = await h.transactionCount();
    const input = Array.from({ length: 1001 }, () => ({ idempotencyKey: h.key(), memberId: m.id, rule: 'party.negative-list.absence' }));
    const res = await sendBatch(input);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.field ?? res.errors![0]!.message).toContain('awards');
    expect(res.data?.awardPointsBatch ?? null).toBeNull();
    expect(await h.transactionCount()).toBe(before);
    expect((await writesByKey(input.map((a) => a.idempotencyKey))).keyRows).toBe(0);
  });

  it('checks a quantity repeated across its awards for each award: a refused one is refused at every index, a good one counts everywhere', async () => {
    // The service parses each distinct quantity text once per request; a refusal must still name its own item.
    const m = await newMember();
    const input = ['1001', '2', '1001', '2', '0.5'].map((quantity) => ({ idempotencyKey: h.key(), memberId: m.id, rule: 'volunteer.hour', quantity }));
    const { results, succeeded } = (await sendBatch(input)).data!.awardPointsBatch;
    expect(succeeded).toBe(3);
    expect(results.map((r) => r.error?.field ?? 'OK')).toEqual(['awards[0].quantity', 'OK', 'awards[2].quantity', 'OK', 'OK']);
    expect(results[0]!.error!.message).toBe(results[2]!.error!.message.replace('awards[2]', 'awards[0]'));
    expect(results.filter((r) => !r.error).map((r) => memberPosting(r)!.amount)).toEqual(['20.00', '20.00', '5.00']);
  });

  it('refuses an empty batch', async () => {
    const before = await h.transactionCount();
    const res = await sendBatch([]);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.field ?? res.errors![0]!.message).toContain('awards');
    expect(await h.transactionCount()).toBe(before);
  });

  it('takes exactly 1,000 awards in one call', async () => {
    const ms = [await newMember(), await newMember(), await newMember(), await newMember()];
    const input = Array.from({ length: 1000 }, (_, i) => ({ idempotencyKey: h.key(), memberId: ms[i % 4]!.id, rule: 'party.negative-list.absence' }));
    const before = await h.transactionCount();
    // 1,000 whole transactions with their postings would pass the query cost limit (each result counts): ask for less of each
    const res = await h.gql(h.clientToken, `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) {
      succeeded failed results { index idempotencyKey replayed error { code } transaction { id } } } }`, { input: { awards: input } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.awardPointsBatch).toMatchObject({ succeeded: 1000, failed: 0 });
    expect(res.data!.awardPointsBatch.results.map((r: { index: number }) => r.index)).toEqual(input.map((_, i) => i));
    expect(await h.transactionCount()).toBe(before + 1000);
    for (const m of ms) {
      expect(await h.walletBalance(m.id, 'PARTY_SCORE')).toBe('-1250.00');
    }
  });

  it('writes a key that appears twice in one batch once, and replays it for the second', async () => {
    const m = await newMember();
    const key = h.key();
    const item = { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' };
    const res = await sendBatch([item, { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.sorted-drop' }, item]);
    expect(res.errors).toBeUndefined();
    const { results, succeeded, failed } = res.data!.awardPointsBatch;
    expect({ succeeded, failed }).toEqual({ succeeded: 3, failed: 0 });
    expect(results[0]!.replayed).toBe(false);
    expect(results[2]!.replayed).toBe(true);
    expect(results[2]!.transaction).toEqual(results[0]!.transaction);
    expect(await writesByKey([key])).toEqual({ keyRows: 1, transactions: 1, postings: 2 });
    expect(await h.transactionCount({ member_id: m.id })).toBe(2);
    expect(await h.walletBalance(m.id)).toBe('6.00');
  });

  it('refuses the second use of a key in one batch when it asks for something else', async () => {
    const m = await newMember();
    const key = h.key();
    const res = await sendBatch([
      { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty' },
      { idempotencyKey: key, memberId: m.id, rule: 'garbage.bin-duty', quantity: '2' },
    ]);
    expect(res.errors).toBeUndefined();
    const { results } = res.data!.awardPointsBatch;
    expect(results.map((r) => r.error?.code ?? 'OK')).toEqual(['OK', 'IDEMPOTENCY_CONFLICT']);
    expect(await writesByKey([key])).toEqual({ keyRows: 1, transactions: 1, postings: 2 });
    expect(await h.walletBalance(m.id)).toBe('5.00');
  });

  it('replays a key already written by awardPoints', async () => {
    const m = await newMember();
    const item = { idempotencyKey: h.key(), memberId: m.id, rule: 'garbage.bin-duty' };
    const single = await h.gql(h.clientToken, award, { input: item });
    expect(single.errors).toBeUndefined();
    const res = await sendBatch([item]);
    expect(res.data!.awardPointsBatch.results[0]).toMatchObject({ replayed: true, error: null, transaction: { id: single.data.awardPoints.transaction.id } });
    expect(await h.walletBalance(m.id)).toBe('5.00');
  });

  it('writes each key once when two batches carrying the same keys arrive together', async () => {
    const ms = [await newMember(), await newMember(), await newMember()];
    const input = Array.from({ length: 60 }, (_, i) => ({ idempotencyKey: h.key(), memberId: ms[i % 3]!.id, rule: 'party.negative-list.absence' }));
    const keys = input.map((a) => a.idempotencyKey);
    const before = await h.transactionCount();
    // The second batch carries the same awards in the opposite order, plus a few of its own.
    const extra = Array.from({ length: 5 }, () => ({ idempotencyKey: h.key(), memberId: ms[0]!.id, rule: 'party.negative-list.absence' }));
    const [a, b, c] = await Promise.all([sendBatch(input), sendBatch([...input].reverse().concat(extra)), sendBatch(input.slice(0, 30))]);
    for (const res of [a, b, c]) {
      expect(res.errors).toBeUndefined();
      expect(res.data!.awardPointsBatch.failed).toBe(0);
    }
    const byKey = new Map<string, ItemResult[]>();
    for (const res of [a, b, c]) for (const r of res.data!.awardPointsBatch.results) byKey.set(r.idempotencyKey, [...(byKey.get(r.idempotencyKey) ?? []), r]);
    for (const key of keys) {
      const answers = byKey.get(key)!;
      expect(new Set(answers.map((r) => r.transaction!.id)).size, `one transaction for ${key}`).toBe(1);
      expect(answers.filter((r) => !r.replayed), `one first write for ${key}`).toHaveLength(1);
    }
    expect(await writesByKey(keys)).toEqual({ keyRows: 60, transactions: 60, postings: 120 });
    expect(await h.transactionCount()).toBe(before + 65);
    const [posted] = await h.bank.knex('postings as p').join('accounts as a', function join() { this.on('a.head_id', 'p.head_id').andOn('a.id', 'p.account_id'); })
      .where({ 'p.head_id': h.head.id, 'a.owner_type': 'MEMBER' }).whereIn('a.owner_id', ms.map((m) => m.id)).count({ n: '*' });
    expect(Number(posted!.n)).toBe(65);
  });
});
