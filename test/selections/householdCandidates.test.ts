// Households (户) as candidates of a selection: 最美庭院 is a household's, so a selection whose rule
// credits households nominates households; each winning household is paid once into its own wallet
// by the awarding round, as an ordinary award under the rule (householdExternalId). A household is
// refused under a rule that credits members, and outside the selection's branch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';
import { awardDueSelections } from '../../src/selections/awarding.js';

let h: Harness;
let now = new Date('2026-11-02T02:00:00Z');
const householdRule = 'selection.courtyard-household';

beforeAll(async () => {
  h = await startHarness();
  h.bank.clock = () => now;
  for (const [code, beneficiary] of [[householdRule, 'HOUSEHOLD'], ['selection.person', 'MEMBER']]) {
    const res = await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code beneficiary } } }`, { i: {
      idempotencyKey: h.key(), code, name: '最美庭院（户）', category: 'selection', beneficiary, outputs: [{ asset: 'POINTS', amountPerUnit: '80.00' }] } });
    expect(res.errors).toBeUndefined();
  }
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

async function household(name: string, branch = h.branches[0]!): Promise<{ id: string; externalId: string; memberId: string }> {
  const memberExternal = `${h.tag}-hm-${h.key()}`;
  const memberId = await h.addMember(memberExternal, branch);
  const externalId = `${h.tag}-hh-${h.key()}`;
  const res = await h.gql(h.adminToken, `mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { household { id } } }`, {
    i: { idempotencyKey: h.key(), externalId, branch: branch.code, name, head: memberExternal, members: [{ externalId: memberExternal, adult: true }] } });
  expect(res.errors).toBeUndefined();
  return { id: res.data.upsertHousehold.household.id, externalId, memberId };
}

async function ok(res: GraphQLResponse, what: string): Promise<any> {
  expect(res.errors, what).toBeUndefined();
  return res.data;
}

function open(rule: string) {
  return h.gql(h.adminToken, `mutation($i: OpenSelectionInput!) { openSelection(input: $i) { selection { id } } }`,
    { i: { idempotencyKey: h.key(), branch: h.branches[0]!.code, title: '最美庭院 2026年11月（户）', quota: 3, rule } });
}

function nominate(selection: string, target: Record<string, string>) {
  return h.gql(h.adminToken, `mutation($i: NominateInput!) { nominate(input: $i) { selection { candidates { id kind householdId maskedName member { id } } } } }`,
    { i: { idempotencyKey: h.key(), selection, reason: '庭院整洁', ...target } });
}

async function balance(ownerType: 'HOUSEHOLD' | 'MEMBER', ownerId: string): Promise<string> {
  const row = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: ownerType, owner_id: ownerId, asset_code: 'POINTS', purpose: 'WALLET' }).first('balance');
  return Number(row.balance).toFixed(2);
}

describe('household candidates', () => {
  it('are nominated by id or externalId, shown masked, and each paid once into the household wallet', async () => {
    const [wang, zhao] = [await household('王建国家'), await household('赵家')];
    const s = (await ok(await open(householdRule), 'open')).openSelection.selection.id;
    await ok(await nominate(s, { householdId: wang.id }), 'nominate by id');
    const nominated = (await ok(await nominate(s, { householdExternalId: zhao.externalId }), 'nominate by externalId')).nominate.selection.candidates;
    expect(nominated).toEqual([
      { id: expect.any(String), kind: 'HOUSEHOLD', householdId: wang.id, maskedName: '王*家', member: null },
      { id: expect.any(String), kind: 'HOUSEHOLD', householdId: zhao.id, maskedName: '赵*', member: null },
    ]);
    const twice = await nominate(s, { householdExternalId: wang.externalId });
    expect(codes(twice)).toEqual(['INVALID_STATE']);
    expect(twice.errors![0]!.message).toBe(`household ${wang.externalId} is already a candidate of selection ${s}`);
    await ok(await h.gql(h.adminToken, `mutation($i: SelectionActInput!) { publishSelection(input: $i) { selection { periodEndsAt } } }`,
      { i: { idempotencyKey: h.key(), selection: s } }), 'publish');

    expect(await awardDueSelections(h.bank, new Date('2026-11-06T16:00:00Z'), {}, h.head.id)).toMatchObject({ awarded: 2, refused: 0 });
    expect(await awardDueSelections(h.bank, new Date('2026-11-07T16:00:00Z'), {}, h.head.id)).toMatchObject({ awarded: 0 });
    expect(await balance('HOUSEHOLD', wang.id)).toBe('80.00');
    expect(await balance('HOUSEHOLD', zhao.id)).toBe('80.00');
    expect(await balance('MEMBER', wang.memberId)).toBe('0.00');
    const read = (await ok(await h.gql(h.adminToken, `query($id: ID!) { selection(id: $id) { status candidates { status transaction { id } } } }`, { id: s }), 'read')).selection;
    expect(read.status).toBe('AWARDED');
    expect(read.candidates.every((c: any) => c.status === 'AWARDED' && c.transaction)).toBe(true);
    const txns = await h.bank.knex('transactions').where({ head_id: h.head.id }).whereRaw(`metadata->>'selectionId' = ?`, [s]).select('household_id');
    expect(txns.map((t: any) => String(t.household_id)).sort()).toEqual([wang.id, zhao.id].sort());
  });

  it('are refused under a rule that credits members, and outside the selection branch', async () => {
    const [here, there] = [await household('钱家'), await household('孙家', h.branches[1]!)];
    const members = (await ok(await open('selection.person'), 'open')).openSelection.selection.id;
    const refused = await nominate(members, { householdId: here.id });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0]!.message).toBe(`householdId: rule "selection.person" of selection ${members} credits members; a household is nominated only where the rule credits households`);
    const s = (await ok(await open(householdRule), 'open')).openSelection.selection.id;
    expect(codes(await nominate(s, { householdId: there.id }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await nominate(s, { householdExternalId: 'no-such-household' }))).toEqual(['NOT_FOUND']);
    expect(codes(await nominate(s, { householdId: here.id, memberId: here.memberId }))).toEqual(['BAD_USER_INPUT']);
  });
});
