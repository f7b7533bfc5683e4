// Administration over the API: admins add branches under their scope (with the system accounts that
// awards need) and create or update members by externalId, both idempotent by key; `me` tells each
// role who it is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const createBranchMutation = `mutation($input: CreateBranchInput!) { createBranch(input: $input) {
  replayed branch { id code name depth timeZone allowGifting parent { code } children { code } } } }`;
const upsertMemberMutation = `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) {
  created replayed member { id externalId name isPartyMember isVolunteer branch { code }
    accounts { id asset balance held available purpose branch { code } } balance } } }`;
const awardMutation = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) {
  transaction { branch { code } postings { accountId amount balanceAfter } } } }`;

async function createBranch(token: string, input: Record<string, unknown>) {
  return h.gql(token, createBranchMutation, { input: { idempotencyKey: h.key(), ...input } });
}

async function upsertMember(token: string, input: Record<string, unknown>) {
  return h.gql(token, upsertMemberMutation, { input: { idempotencyKey: h.key(), ...input } });
}

function adminOf(code: string): string {
  return h.token({ role: 'admin', sub: `admin-${code}`, branch: code });
}

describe('creating a branch', () => {
  it('adds a child under a branch of the admin\'s scope, inheriting time zone and gifting policy', async () => {
    const code = `${h.tag}-grid-1`;
    const res = await createBranch(h.adminToken, { parent: h.branches[0]!.code, code, name: 'Grid 1 网格' });
    expect(res.errors).toBeUndefined();
    expect(res.data.createBranch).toEqual({
      replayed: false,
      branch: { id: expect.any(String), code, name: 'Grid 1 网格', depth: 2, timeZone: h.branches[0]!.timeZone, allowGifting: true,
        parent: { code: h.branches[0]!.code }, children: [] },
    });
    const parent = await h.gql(h.adminToken, `query($c: String!) { branch(code: $c) { children { code } } }`, { c: h.branches[0]!.code });
    expect(parent.data.branch.children.map((c: any) => c.code)).toContain(code);

    const underNoGifting = await createBranch(h.adminToken, { parent: h.branches[2]!.code, code: `${h.tag}-grid-c`, name: 'Grid C' });
    expect(underNoGifting.data.createBranch.branch.allowGifting).toBe(false);
    const overridden = await createBranch(h.adminToken, { parent: h.branches[2]!.code, code: `${h.tag}-grid-c2`, name: 'Grid C2', allowGifting: true });
    expect(overridden.data.createBranch.branch.allowGifting).toBe(true);
  });

  it('is allowed to an admin of a branch under its own branch, and further down', async () => {
    const adminA = adminOf(h.branches[0]!.code);
    const child = await createBranch(adminA, { parent: h.branches[0]!.code, code: `${h.tag}-a-child`, name: 'A child' });
    expect(child.errors).toBeUndefined();
    const grandchild = await createBranch(adminA, { parent: `${h.tag}-a-child`, code: `${h.tag}-a-grandchild`, name: 'A grandchild' });
    expect(grandchild.errors).toBeUndefined();
    expect(grandchild.data.createBranch.branch).toMatchObject({ depth: 3, parent: { code: `${h.tag}-a-child` } });
    // And an admin scoped to the new branch manages it.
    const adminChild = adminOf(`${h.tag}-a-child`);
    const me = await h.gql(adminChild, `{ me { branch { code depth } } }`);
    expect(me.data.me.branch).toEqual({ code: `${h.tag}-a-child`, depth: 2 });
  });

  it('replayed with the same key returns the same branch, marked replayed', async () => {
    const input = { idempotencyKey: h.key(), parent: h.branches[1]!.code, code: `${h.tag}-replayed`, name: 'Replayed' };
    const first = await h.gql(h.adminToken, createBranchMutation, { input });
    const again = await h.gql(h.adminToken, createBranchMutation, { input });
    expect(first.errors).toBeUndefined();
    expect(again.errors).toBeUndefined();
    expect(again.data.createBranch.replayed).toBe(true);
    expect(again.data.createBranch.branch.id).toBe(first.data.createBranch.branch.id);
    // The same key for a different branch is refused and creates nothing.
    const conflicting = await h.gql(h.adminToken, createBranchMutation, { input: { ...input, code: `${h.tag}-replayed-2` } });
    expect(codes(conflicting)).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(await h.bank.branches.byCodeOrNull(`${h.tag}-replayed-2`)).toBeNull();
  });

  it('with a code already taken, under any parent or head bank, is INVALID_STATE', async () => {
    const code = `${h.tag}-taken`;
    expect((await createBranch(h.adminToken, { parent: h.branches[0]!.code, code, name: 'First' })).errors).toBeUndefined();
    expect(codes(await createBranch(h.adminToken, { parent: h.branches[0]!.code, code, name: 'First' }))).toEqual(['INVALID_STATE']);
    expect(codes(await createBranch(h.adminToken, { parent: h.branches[1]!.code, code, name: 'Second' }))).toEqual(['INVALID_STATE']);
    expect(codes(await createBranch(h.adminToken, { parent: h.branches[1]!.code, code: h.head.code, name: 'Head again' }))).toEqual(['INVALID_STATE']);
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM branches WHERE code = ?`, [code]);
    expect(rows[0].n).toBe(1);
  });

  it('once, when two admins create the same code at the same moment', async () => {
    const code = `${h.tag}-race`;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      createBranch(h.adminToken, { parent: h.branches[i % 2]!.code, code, name: `Racer ${i}` })));
    const outcomes = results.map((r) => (r.errors ? codes(r).join(',') : 'OK'));
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'OK')).toEqual(Array(5).fill('INVALID_STATE'));
  });

  it.each(['bad code', '-leading-dash', '', 'x'.repeat(65), '网格', 'a/b'])('refuses the code %j', async (code) => {
    const res = await createBranch(h.adminToken, { parent: h.branches[0]!.code, code, name: 'Bad' });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses an empty or overlong name and an unknown parent', async () => {
    expect(codes(await createBranch(h.adminToken, { parent: h.branches[0]!.code, code: `${h.tag}-no-name`, name: '  ' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await createBranch(h.adminToken, { parent: h.branches[0]!.code, code: `${h.tag}-long-name`, name: 'n'.repeat(201) }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await createBranch(h.adminToken, { parent: `${h.tag}-nowhere`, code: `${h.tag}-orphan`, name: 'Orphan' }))).toEqual(['NOT_FOUND']);
  });

  it('stops at the deepest level the tree allows', async () => {
    let parent = h.branches[1]!.code;
    let depth = 1;
    for (; depth < 15; depth++) {
      const code = `${h.tag}-deep-${depth + 1}`;
      const res = await createBranch(h.adminToken, { parent, code, name: `Level ${depth + 1}` });
      expect(res.errors, `level ${depth + 1}`).toBeUndefined();
      parent = code;
    }
    const tooDeep = await createBranch(h.adminToken, { parent, code: `${h.tag}-deep-16`, name: 'Too deep' });
    expect(codes(tooDeep)).toEqual(['BAD_USER_INPUT']);
  });

  it('opens the branch\'s system accounts, so that awards to its members work at once', async () => {
    const code = `${h.tag}-new-community`;
    const created = await createBranch(h.adminToken, { parent: h.head.code, code, name: 'New community' });
    expect(created.errors).toBeUndefined();
    const branchId = created.data.createBranch.branch.id;
    const accounts = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'SYSTEM', owner_id: branchId }).select('purpose', 'asset_code');
    expect(accounts.map((a) => `${a.purpose}/${a.asset_code}`).sort()).toEqual(
      ['ADJUSTMENT', 'EXPIRY', 'ISSUANCE', 'PENALTY'].flatMap((p) => ['PARTY_SCORE', 'POINTS', 'VOLUNTEER_HOURS'].map((a) => `${p}/${a}`)).sort());

    const member = await upsertMember(h.adminToken, { externalId: `${h.tag}-newcomer`, branch: code, name: 'Newcomer', isPartyMember: true });
    expect(member.errors).toBeUndefined();
    const memberId = member.data.upsertMember.member.id;
    const awarded = await h.gql(h.clientToken, awardMutation, { input: { idempotencyKey: h.key(), memberId, rule: 'garbage.bin-duty' } });
    expect(awarded.errors).toBeUndefined();
    expect(awarded.data.awardPoints.transaction.branch.code).toBe(code);
    const system = awarded.data.awardPoints.transaction.postings.find((p: any) => p.balanceAfter === null);
    const issuance = await h.bank.knex('accounts').where({ head_id: h.head.id, id: system.accountId }).first();
    expect(issuance).toMatchObject({ owner_type: 'SYSTEM', purpose: 'ISSUANCE', asset_code: 'POINTS' });
    expect(String(issuance.owner_id)).toBe(branchId);
    // A deduction posts to the new branch's penalty account.
    const deducted = await h.gql(h.clientToken, awardMutation, { input: { idempotencyKey: h.key(), memberId, rule: 'party.negative-list.absence' } });
    expect(deducted.errors).toBeUndefined();
    const adjusted = await h.gql(adminOf(code), `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { transaction { id } } }`,
      { input: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount: '1.00', reason: 'welcome' } });
    expect(adjusted.errors).toBeUndefined();
    const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { points: balance score: balance(asset: PARTY_SCORE) } }`, { id: memberId });
    expect(res.data.member).toEqual({ points: '6.00', score: '-5.00' });
  });
});

describe('upserting a member', () => {
  it('creates a new member with a wallet for every asset, all at zero', async () => {
    const externalId = `${h.tag}-new-member`;
    const res = await upsertMember(h.adminToken, { externalId, branch: h.branches[1]!.code, name: '王伟', isVolunteer: true });
    expect(res.errors).toBeUndefined();
    const { created, replayed, member } = res.data.upsertMember;
    expect({ created, replayed }).toEqual({ created: true, replayed: false });
    expect(member).toMatchObject({ externalId, name: '王伟', isPartyMember: false, isVolunteer: true, branch: { code: h.branches[1]!.code }, balance: '0.00' });
    expect(member.accounts.map((a: any) => [a.asset, a.balance, a.held, a.available, a.purpose, a.branch.code]).sort()).toEqual([
      ['PARTY_SCORE', '0.00', '0.00', '0.00', 'WALLET', h.branches[1]!.code],
      ['POINTS', '0.00', '0.00', '0.00', 'WALLET', h.branches[1]!.code],
      ['VOLUNTEER_HOURS', '0.00', '0.00', '0.00', 'WALLET', h.branches[1]!.code],
    ]);
  });

  it('by an externalId that exists updates that member: same id, new name and flags, created false', async () => {
    const externalId = `${h.tag}-updated-member`;
    const first = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'Old name', isVolunteer: true });
    const id = first.data.upsertMember.member.id;
    const second = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'New name', isPartyMember: true });
    expect(second.errors).toBeUndefined();
    expect(second.data.upsertMember).toMatchObject({
      created: false, replayed: false,
      // isVolunteer was omitted: unchanged.
      member: { id, name: 'New name', isPartyMember: true, isVolunteer: true },
    });
    expect(second.data.upsertMember.member.accounts.map((a: any) => a.id).sort()).toEqual(first.data.upsertMember.member.accounts.map((a: any) => a.id).sort());
    const third = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'New name', isVolunteer: false });
    expect(third.data.upsertMember.member).toMatchObject({ id, isPartyMember: true, isVolunteer: false });
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM members WHERE head_id = ? AND external_id = ?`, [h.head.id, externalId]);
    expect(rows[0].n).toBe(1);
  });

  it('keeps the balance of a member it updates', async () => {
    const externalId = `${h.tag}-updated-with-points`;
    const first = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'Saver' });
    const id = first.data.upsertMember.member.id;
    expect((await h.gql(h.clientToken, awardMutation, { input: { idempotencyKey: h.key(), memberId: id, rule: 'garbage.bin-duty' } })).errors).toBeUndefined();
    const second = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'Saver renamed' });
    expect(second.data.upsertMember.member).toMatchObject({ id, name: 'Saver renamed', balance: '5.00' });
  });

  it('replayed with the same key returns the same member, marked replayed, and changes nothing', async () => {
    const externalId = `${h.tag}-replayed-member`;
    const input = { idempotencyKey: h.key(), externalId, branch: h.branches[0]!.code, name: 'Replay me' };
    const first = await h.gql(h.adminToken, upsertMemberMutation, { input });
    const again = await h.gql(h.adminToken, upsertMemberMutation, { input });
    expect(again.errors).toBeUndefined();
    expect(again.data.upsertMember).toMatchObject({ replayed: true, member: { id: first.data.upsertMember.member.id, name: 'Replay me' } });
    const conflicting = await h.gql(h.adminToken, upsertMemberMutation, { input: { ...input, name: 'Another name' } });
    expect(codes(conflicting)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const row = await h.bank.knex('members').where({ head_id: h.head.id, external_id: externalId }).first();
    expect(row.name).toBe('Replay me');
  });

  it('of one new externalId by several requests at once makes one member, and none of them fails', async () => {
    const externalId = `${h.tag}-racing-member`;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: `Racer ${i}` })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(results.filter((r) => r.data.upsertMember.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.data.upsertMember.member.id)).size).toBe(1);
    const { rows } = await h.bank.knex.raw(`SELECT count(*)::int AS n FROM accounts a JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id
      WHERE a.head_id = ? AND a.owner_type = 'MEMBER' AND m.external_id = ?`, [h.head.id, externalId]);
    expect(rows[0].n).toBe(3);
  });

  it('moved to another branch of the scope is then managed there, wallets included', async () => {
    const externalId = `${h.tag}-moving`;
    const first = await upsertMember(h.adminToken, { externalId, branch: h.branches[0]!.code, name: 'Mover' });
    const id = first.data.upsertMember.member.id;
    const moved = await upsertMember(h.adminToken, { externalId, branch: h.branches[1]!.code, name: 'Mover' });
    expect(moved.errors).toBeUndefined();
    expect(moved.data.upsertMember.member).toMatchObject({ id, branch: { code: h.branches[1]!.code } });
    expect(moved.data.upsertMember.member.accounts.map((a: any) => a.branch.code)).toEqual(Array(3).fill(h.branches[1]!.code));
    const adminB = adminOf(h.branches[1]!.code);
    const wallet = moved.data.upsertMember.member.accounts.find((a: any) => a.asset === 'POINTS').id;
    const read = await h.gql(adminB, `query($id: ID!) { account(id: $id) { balance } }`, { id: wallet });
    expect(read.errors).toBeUndefined();
    // the old branch's admin no longer sees it: it reads like an unknown account
    expect((await h.gql(adminOf(h.branches[0]!.code), `query($id: ID!) { account(id: $id) { balance } }`, { id: wallet })).data.account).toBeNull();
  });

  it('takes its wallets along whoever moves it, and a wallet cannot be put in another branch than its member\'s', async () => {
    // The database holds it (migration 032): branchStats of a head bank groups wallets by their branch.
    const id = await h.addMember(`${h.tag}-moved-by-sql`, h.branches[0]!);
    const walletBranches = async () => (await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: id })
      .select('branch_id')).map((a) => String(a.branch_id));
    await h.bank.knex('members').where({ head_id: h.head.id, id }).update({ branch_id: h.branches[2]!.id });
    expect(await walletBranches()).toEqual(Array(3).fill(h.branches[2]!.id));
    await expect(h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: id }).update({ branch_id: h.branches[1]!.id }))
      .rejects.toThrow(/not in its member \d+'s branch/);
    const [asset] = await h.bank.knex('assets').where({ code: 'POINTS' }).select('code', 'scale');
    const [{ id: other }] = await h.bank.knex('members').insert({ head_id: h.head.id, branch_id: h.branches[0]!.id, external_id: `${h.tag}-no-wallets`, name: 'No wallets' }).returning('id');
    const walletIn = (branch: string) => h.bank.knex('accounts').insert({ head_id: h.head.id, branch_id: branch, owner_type: 'MEMBER', owner_id: other,
      purpose: 'WALLET', asset_code: asset.code, asset_scale: asset.scale, allow_negative: false, deferred_balance: false });
    await expect(walletIn(h.branches[1]!.id)).rejects.toThrow(/not in its member \d+'s branch/);
    await walletIn(h.branches[0]!.id);
    expect(await walletBranches()).toEqual(Array(3).fill(h.branches[2]!.id));
  });

  it.each([
    ['an empty externalId', { externalId: '' }, 'BAD_USER_INPUT'],
    ['an overlong externalId', { externalId: 'x'.repeat(129) }, 'BAD_USER_INPUT'],
    ['a control character in the externalId', { externalId: 'a\nb' }, 'BAD_USER_INPUT'],
    ['an empty name', { name: ' ' }, 'BAD_USER_INPUT'],
    ['an overlong name', { name: 'n'.repeat(201) }, 'BAD_USER_INPUT'],
    ['an unknown branch', { branch: 'no-such-branch-anywhere' }, 'NOT_FOUND'],
  ])('refuses %s', async (_, change, code) => {
    const res = await upsertMember(h.adminToken, { externalId: `${h.tag}-refused`, branch: h.branches[0]!.code, name: 'Refused', ...change });
    expect(codes(res)).toEqual([code]);
    const row = await h.bank.knex('members').where({ head_id: h.head.id, external_id: `${h.tag}-refused` }).first();
    expect(row).toBeUndefined();
  });
});

describe('me', () => {
  const meQuery = `{ me { sub role branch { code } member { id externalId } rules } }`;

  it('tells an admin its subject and scope', async () => {
    const res = await h.gql(h.adminToken, meQuery);
    expect(res.data.me).toEqual({ sub: `admin-${h.tag}`, role: 'admin', branch: { code: h.head.code }, member: null, rules: [] });
    const adminA = await h.gql(adminOf(h.branches[0]!.code), meQuery);
    expect(adminA.data.me).toMatchObject({ role: 'admin', branch: { code: h.branches[0]!.code } });
  });

  it('tells a client the rules it may apply', async () => {
    expect((await h.gql(h.clientToken, meQuery)).data.me).toEqual({ sub: `client-${h.tag}`, role: 'client', branch: { code: h.head.code }, member: null, rules: ['*'] });
    const listed = h.token({ role: 'client', sub: `kiosk-${h.tag}`, branch: h.branches[1]!.code, rules: ['garbage.sorted-drop', 'garbage.bin-duty'] });
    expect((await h.gql(listed, meQuery)).data.me).toEqual({
      sub: `kiosk-${h.tag}`, role: 'client', branch: { code: h.branches[1]!.code }, member: null, rules: ['garbage.sorted-drop', 'garbage.bin-duty'],
    });
  });

  it('tells a member which member it is', async () => {
    const id = await h.addMember(`${h.tag}-me-member`);
    const res = await h.gql(h.token({ role: 'member', sub: `resident-${h.tag}`, member: id }), meQuery);
    expect(res.data.me).toEqual({ sub: `resident-${h.tag}`, role: 'member', branch: { code: h.head.code }, member: { id, externalId: `${h.tag}-me-member` }, rules: [] });
  });

  it('tells a merchant its role', async () => {
    const res = await h.gql(h.token({ role: 'merchant', sub: `shop-${h.tag}`, merchant: '7' }), meQuery);
    expect(res.data.me).toEqual({ sub: `shop-${h.tag}`, role: 'merchant', branch: { code: h.head.code }, member: null, rules: [] });
  });
});
