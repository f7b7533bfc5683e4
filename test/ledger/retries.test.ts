// A client that lost the answer to a write retries it with the same key, possibly while the first
// request is still being written: every copy must answer with the one transaction (invariant 4).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 24 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

it('a reversal retried while its first attempt commits replays, never INVALID_STATE', async () => {
  const member = await h.addMember(`${h.tag}-retried`);
  for (let round = 0; round < 5; round++) {
    const award = await h.gql(h.adminToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: member, rule: 'party.negative-list.absence' } });
    const input = { idempotencyKey: h.key(), transaction: award.data.awardPoints.transactionId, reason: 'lost answer' };
    const answers = await Promise.all(Array.from({ length: 12 }, () =>
      h.gql(h.adminToken, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`, { i: input })));
    expect(answers.flatMap((a) => a.errors ?? [])).toEqual([]);
    expect(new Set(answers.map((a) => a.data.reverseTransaction.transactionId)).size).toBe(1);
  }
});
