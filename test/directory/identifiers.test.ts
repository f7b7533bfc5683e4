// Identifiers and names that look alike are one, and nothing hides in them (issue 13 item 11): the
// rule of src/inputChecks.ts (NFKC; no control, invisible or bidi characters; no Latin mixed with
// Cyrillic or Greek in an identifier; no tab, CR or LF in a name), for externalIds and for the names
// of members, merchants, rules, branches, items and pools. A refusal writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 4 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const upsert = (externalId: string, name = 'Resident') => h.gql(h.adminToken,
  `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { created member { id externalId name } } }`,
  { i: { idempotencyKey: h.key(), externalId, branch: h.branches[0]!.code, name } });

describe('a member\'s externalId', () => {
  it.each([
    ['a Cyrillic letter among Latin ones', (t: string) => `${t}-demо-user`], // о is U+043E
    ['a Greek letter among Latin ones', (t: string) => `${t}-user-Α1`], // Α is U+0391
    ['a zero-width space', (t: string) => `${t}-user\u200b1`],
    ['a zero-width joiner', (t: string) => `${t}-user\u200d1`],
    ['a right-to-left override', (t: string) => `${t}-\u202euser1`],
    ['a bidi isolate', (t: string) => `${t}-\u2066user1\u2069`],
    ['a tab', (t: string) => `${t}-user\t1`],
    ['a space', (t: string) => `${t}-user 1`],
    ['a byte-order mark', (t: string) => `\ufeff${t}-user1`],
  ])('with %s is refused with BAD_USER_INPUT naming externalId, and writes nothing', async (_, make) => {
    const before = await h.footprint();
    const res = await upsert(make(h.tag));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions?.field).toBe('externalId');
    expect(await h.footprint()).toBe(before);
  });

  it('in fullwidth forms is the same member as in ASCII (NFKC), for upserts and awards', async () => {
    const ascii = `${h.tag}-ABC123`;
    const fullwidth = ascii.replace(/[A-Za-z0-9-]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    expect(fullwidth).not.toBe(ascii);
    const first = await upsert(fullwidth);
    expect(first.errors).toBeUndefined();
    expect(first.data.upsertMember).toMatchObject({ created: true, member: { externalId: ascii } });
    const second = await upsert(ascii);
    expect(second.data.upsertMember).toMatchObject({ created: false, member: { id: first.data.upsertMember.member.id } });
    const award = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transaction { member { id } } } }`,
      { i: { idempotencyKey: h.key(), externalId: fullwidth, rule: 'garbage.sorted-drop' } });
    expect(award.errors).toBeUndefined();
    expect(award.data.awardPoints.transaction.member.id).toBe(first.data.upsertMember.member.id);
  });

  it('may mix Han characters and digits with Latin letters', async () => {
    expect((await upsert(`${h.tag}-街道-01`)).errors).toBeUndefined();
  });
});

describe('names', () => {
  it.each([['a tab', 'Wang\tMing'], ['a line feed', 'Wang\nMing'], ['a carriage return', 'Wang\rMing'], ['a zero-width space', 'Wang\u200bMing'],
    ['a right-to-left override', 'Wang\u202eMing'], ['a line separator', 'Wang\u2028Ming'], ['a leading space', ' Wang Ming']])(
    'of a member with %s are refused with BAD_USER_INPUT naming name', async (_, name) => {
      const before = await h.footprint();
      const res = await upsert(`${h.tag}-named-${h.key()}`, name);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.field).toBe('name');
      expect(await h.footprint()).toBe(before);
    });

  it('are normalised (NFKC) and keep spaces and Chinese as written', async () => {
    const res = await upsert(`${h.tag}-named-ok`, '王明 Ｗａｎｇ Ming');
    expect(res.errors).toBeUndefined();
    expect(res.data.upsertMember.member.name).toBe('王明 Wang Ming');
  });

  it('of merchants, rules, branches, items and pools refuse line breaks and bidi controls too', async () => {
    const before = await h.footprint();
    const refused = [
      await h.gql(h.adminToken, `mutation($i: CreateMerchantInput!) { createMerchant(input: $i) { merchant { id } } }`,
        { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, name: 'Grocery\nFree money' } }),
      await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`,
        { i: { idempotencyKey: h.key(), code: `${h.tag}.bidi`, name: 'Rule \u202eevil', category: 'test', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }] } }),
      await h.gql(h.adminToken, `mutation($i: CreateBranchInput!) { createBranch(input: $i) { branch { id } } }`,
        { i: { idempotencyKey: h.key(), parent: h.head.code, code: `${h.tag}-tabbed`, name: 'Grid\t7' } }),
      await h.gql(h.adminToken, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
        { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, title: 'Ramp\r\n', beneficiary: 'Block 3', target: '10.00' } }),
    ];
    for (const res of refused) expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(await h.footprint()).toBe(before);
  });
});
