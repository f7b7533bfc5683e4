// The branches a person may choose from (the console's branch selectors): a subtree in tree order,
// read in one request whatever its depth, and only inside the caller's scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { insertChildBranch } from '../../src/directory/branches.js';

let h: Harness;
const list = `query($under: String) { branches(under: $under) { code depth parent { code } } }`;

beforeAll(async () => {
  h = await startHarness();
  // four levels below branch A: grid → party group → cell → team
  let parent = h.branches[0]!;
  for (const level of ['grid', 'group', 'cell', 'team']) {
    parent = await h.bank.knex.transaction((trx) => insertChildBranch(trx, parent, { code: `${h.tag}-${level}`, name: level, allowGifting: true }));
    h.bank.branches.remember(parent);
  }
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

describe('branches(under)', () => {
  it("lists an admin's whole subtree, every parent before its children, in one request", async () => {
    const res = await h.gql(h.adminToken, list);
    expect(res.errors).toBeUndefined();
    const rows = res.data.branches as { code: string; depth: number; parent: { code: string } | null }[];
    expect(rows.map((b) => b.code).sort()).toEqual([h.head.code, ...h.branches.map((b) => b.code), ...['grid', 'group', 'cell', 'team'].map((l) => `${h.tag}-${l}`)].sort());
    expect(rows[0]!.code).toBe(h.head.code);
    const seen = new Set<string>();
    for (const b of rows) {
      if (b.parent) expect(seen.has(b.parent.code), `${b.code} after its parent`).toBe(true);
      seen.add(b.code);
    }
    expect(rows.find((b) => b.code === `${h.tag}-team`)!.depth).toBe(5);
  });

  it("lists a branch admin's own subtree only, and refuses a sibling's", async () => {
    const admin = h.token({ role: 'admin', branch: h.branches[0]!.code, sub: `admin-a-${h.tag}` });
    const mine = await h.gql(admin, list);
    expect(mine.data.branches.map((b: { code: string }) => b.code)).toEqual([h.branches[0]!.code, ...['grid', 'group', 'cell', 'team'].map((l) => `${h.tag}-${l}`)]);
    expect(codes(await h.gql(admin, list, { under: h.branches[1]!.code }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(admin, list, { under: h.head.code }))).toEqual(['FORBIDDEN']);
  });

  it('is not for members or merchants', async () => {
    const member = await h.addMember(`${h.tag}-m1`);
    expect(codes(await h.gql(h.token({ role: 'member', member, sub: `member-${member}` }), list))).toEqual(['FORBIDDEN']);
  });
});
