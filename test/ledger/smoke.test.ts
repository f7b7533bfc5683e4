import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

describe('an award', () => {
  it('credits the member once and returns the posting with the new balance', async () => {
    const id = await h.addMember(`${h.tag}-m1`);
    const res = await h.gql(h.clientToken, `mutation($input: AwardPointsInput!) { awardPoints(input: $input) {
      replayed transaction { kind postings { asset amount balanceAfter account { owner { type id } } } } } }`,
    { input: { idempotencyKey: h.key(), memberId: id, rule: 'garbage.bin-duty' } });
    expect(res.errors).toBeUndefined();
    expect(res.data.awardPoints.replayed).toBe(false);
    const wallet = res.data.awardPoints.transaction.postings.find((p: any) => p.account?.owner.type === 'MEMBER');
    expect(wallet).toMatchObject({ asset: 'POINTS', amount: '5.00', balanceAfter: '5.00' });
  });
});
