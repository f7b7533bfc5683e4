// Reading the journal: the transactions connection (order, paging, filters, limits), what a member
// token sees, accounts and members with their balances, the trial balance (invariant 1 made
// visible) and system issuance balances that are exact before the settler has run.
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import { settleAccountDeltas } from '../../src/ledger/settle.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 30 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const listQuery = `query($filter: TransactionFilter, $first: Int, $after: String) {
  transactions(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id kind occurredAt member { id } rule { code } postings { accountId amount account { id owner { type id } } } } }
    pageInfo { hasNextPage endCursor } } }`;

const awardMutation = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transaction { id postings { accountId amount balanceAfter } } } }`;
const adjustMutation = `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { transaction { id } } }`;
const transferMutation = `mutation($input: TransferPointsInput!) { transferPoints(input: $input) { transaction { id } } }`;

async function list(token: string, filter: Record<string, unknown> | null, first?: number, after?: string | null) {
  return h.gql(token, listQuery, { filter, first, after });
}

async function ids(token: string, filter: Record<string, unknown>, first = 200): Promise<string[]> {
  const res = await list(token, filter, first);
  expect(res.errors).toBeUndefined();
  return res.data.transactions.edges.map((e: any) => e.node.id);
}

async function award(memberId: string, rule = 'garbage.bin-duty', extra: Record<string, unknown> = {}): Promise<any> {
  const res = await h.gql(h.clientToken, awardMutation, { input: { idempotencyKey: h.key(), memberId, rule, ...extra } });
  expect(res.errors).toBeUndefined();
  return res.data.awardPoints.transaction;
}

async function adjust(memberId: string, amount: string): Promise<string> {
  const res = await h.gql(h.adminToken, adjustMutation, {
    input: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount, reason: 'test' },
  });
  expect(res.errors).toBeUndefined();
  return res.data.adjustBalance.transaction.id;
}

async function transfer(from: string, to: string, amount: string): Promise<string> {
  const res = await h.gql(h.adminToken, transferMutation, { input: { idempotencyKey: h.key(), from: { id: from }, to: { id: to }, amount } });
  expect(res.errors).toBeUndefined();
  return res.data.transferPoints.transaction.id;
}

async function walletId(memberId: string, asset = 'POINTS'): Promise<string> {
  const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { accounts { id asset } } }`, { id: memberId });
  return res.data.member.accounts.find((a: any) => a.asset === asset).id;
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

describe('the transactions list', () => {
  it('pages newest first with first/after across three pages', async () => {
    const member = await h.addMember(`${h.tag}-pages`);
    const written: string[] = [];
    for (const amount of ['1.00', '2.00', '3.00', '4.00', '5.00']) written.push(await adjust(member, amount));
    const newestFirst = [...written].reverse();

    const seen: string[] = [];
    let after: string | null = null;
    const hasNext: boolean[] = [];
    for (let page = 0; page < 3; page++) {
      const res = await list(h.adminToken, { memberId: member }, 2, after);
      expect(res.errors).toBeUndefined();
      const { edges, pageInfo } = res.data.transactions;
      seen.push(...edges.map((e: any) => e.node.id));
      hasNext.push(pageInfo.hasNextPage);
      expect(pageInfo.endCursor).toBe(edges.at(-1).cursor);
      after = pageInfo.endCursor;
    }
    expect(seen).toEqual(newestFirst);
    expect(hasNext).toEqual([true, true, false]);
  });

  it('defaults to a page of 20 and says when more follow', async () => {
    const member = await h.addMember(`${h.tag}-default-page`);
    for (let i = 0; i < 21; i++) await adjust(member, '1.00');
    const res = await h.gql(h.adminToken, `query($m: ID!) { transactions(filter: { memberId: $m }) { edges { node { id } } pageInfo { hasNextPage } } }`, { m: member });
    expect(res.errors).toBeUndefined();
    expect(res.data.transactions.edges).toHaveLength(20);
    expect(res.data.transactions.pageInfo.hasNextPage).toBe(true);
  });

  it('filters by member id, member externalId, account, kind, rule, period and branch', async () => {
    const alice = await h.addMember(`${h.tag}-filter-alice`, h.branches[0]);
    const bob = await h.addMember(`${h.tag}-filter-bob`, h.branches[1]);
    const earnOld = (await award(alice, 'garbage.bin-duty', { occurredAt: daysAgo(3) })).id;
    const earnNew = (await award(alice, 'garbage.sorted-drop', { occurredAt: daysAgo(1) })).id;
    const adjusted = await adjust(alice, '2.00');
    const sent = await transfer(alice, bob, '1.00');
    const bobEarn = (await award(bob, 'garbage.bin-duty', { occurredAt: daysAgo(2) })).id;

    expect(await ids(h.adminToken, { memberId: alice })).toEqual([sent, adjusted, earnNew, earnOld]);
    expect(await ids(h.adminToken, { memberExternalId: `${h.tag}-filter-alice` })).toEqual([sent, adjusted, earnNew, earnOld]);
    // The transfer is recorded against its sender; bob's wallet shows it through the account filter.
    expect(await ids(h.adminToken, { memberId: bob })).toEqual([bobEarn]);
    expect(await ids(h.adminToken, { accountId: await walletId(bob) })).toEqual([bobEarn, sent]);
    expect(await ids(h.adminToken, { memberId: alice, kind: 'EARN' })).toEqual([earnNew, earnOld]);
    expect(await ids(h.adminToken, { memberId: alice, kind: 'TRANSFER' })).toEqual([sent]);
    expect(await ids(h.adminToken, { memberId: alice, rule: 'garbage.bin-duty' })).toEqual([earnOld]);
    expect(await ids(h.adminToken, { memberId: alice, rule: 'garbage.sorted-drop' })).toEqual([earnNew]);
    // occurredFrom is inclusive, occurredTo exclusive.
    expect(await ids(h.adminToken, { memberId: alice, occurredFrom: daysAgo(4), occurredTo: daysAgo(2) })).toEqual([earnOld]);
    expect(await ids(h.adminToken, { memberId: alice, occurredFrom: daysAgo(2), occurredTo: daysAgo(0.5) })).toEqual([earnNew]);
    expect(await ids(h.adminToken, { accountId: await walletId(bob), occurredFrom: daysAgo(2.5), occurredTo: daysAgo(1.5) })).toEqual([bobEarn]);
    // Branch: a subtree filter, combined with the others.
    const inB = await ids(h.adminToken, { branch: h.branches[1]!.code });
    expect(inB).toContain(bobEarn);
    expect(inB).not.toContain(earnOld);
    expect(inB).not.toContain(sent);
    expect(await ids(h.adminToken, { branch: h.branches[0]!.code, memberId: bob })).toEqual([]);
    expect(await ids(h.adminToken, { branch: h.head.code, memberId: bob })).toEqual([bobEarn]);
    // A member filter that matches no one is an empty page, not an error.
    expect(await ids(h.adminToken, { memberExternalId: `${h.tag}-nobody` })).toEqual([]);
  });

  it.each([0, -1, 201, 1000])('refuses a page size of %d', async (first) => {
    const res = await list(h.adminToken, null, first);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it.each(['not-a-cursor', '', Buffer.from('t:abc').toString('base64url'), Buffer.from('x:12').toString('base64url')])(
    'refuses the cursor %j', async (after) => {
      const res = await list(h.adminToken, null, 5, after);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    });

  it('refuses an unknown kind and a malformed id in a filter', async () => {
    expect(codes(await list(h.adminToken, { kind: 'STEAL' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await list(h.adminToken, { memberId: 'abc' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await list(h.adminToken, { accountId: '1; DROP TABLE postings' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('for an admin of a branch is refused for a sibling branch and covers only its own subtree', async () => {
    const inA = await h.addMember(`${h.tag}-scope-list-a`, h.branches[0]);
    const inB = await h.addMember(`${h.tag}-scope-list-b`, h.branches[1]);
    const a = (await award(inA)).id;
    const b = (await award(inB)).id;
    const adminA = h.token({ role: 'admin', sub: `admin-a-${h.tag}`, branch: h.branches[0]!.code });
    expect(codes(await list(adminA, { branch: h.branches[1]!.code }))).toEqual(['FORBIDDEN']);
    expect(codes(await list(adminA, { branch: h.head.code }))).toEqual(['FORBIDDEN']);
    const visible = await ids(adminA, {});
    expect(visible).toContain(a);
    expect(visible).not.toContain(b);
    expect(await ids(adminA, { memberId: inB })).toEqual([]);
  });
});

describe('a member reading the journal', () => {
  it('sees only transactions touching its own wallets, including a transfer it received, without the sender\'s wallet', async () => {
    const me = await h.addMember(`${h.tag}-reader`, h.branches[0]);
    const other = await h.addMember(`${h.tag}-reader-other`, h.branches[1]);
    const mine = (await award(me)).id;
    const theirs = (await award(other)).id;
    const received = await transfer(other, me, '2.00');
    const token = h.token({ role: 'member', member: me });

    const res = await list(token, null, 50);
    expect(res.errors).toBeUndefined();
    const nodes = res.data.transactions.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.id)).toEqual([received, mine]);

    const gift = nodes[0];
    const myWallet = await walletId(me);
    const otherWallet = await walletId(other);
    expect(gift.postings.find((p: any) => p.accountId === myWallet)).toMatchObject({ amount: '2.00', account: { id: myWallet, owner: { type: 'MEMBER', id: me } } });
    expect(gift.postings.find((p: any) => p.accountId === otherWallet)).toMatchObject({ amount: '-2.00', account: null });
    // The transfer's member is the sender, whom a member token may not read.
    expect(gift.member).toBeNull();

    // Filters cannot widen the view: of the other member's transactions, only the gift shows.
    expect((await list(token, { memberId: other }, 50)).data.transactions.edges.map((e: any) => e.node.id)).toEqual([received]);
    expect((await list(token, { accountId: otherWallet }, 50)).data.transactions.edges.map((e: any) => e.node.id)).toEqual([received]);
    // A branch filter narrows a member's own transactions to those recorded in that branch's subtree
    // (the gift is recorded in the sender's branch B, the award in A); an unknown branch is NOT_FOUND.
    const inBranch = async (code: string) => (await list(token, { branch: code }, 50)).data.transactions.edges.map((e: any) => e.node.id);
    expect(await inBranch(h.branches[1]!.code)).toEqual([received]);
    expect(await inBranch(h.branches[0]!.code)).toEqual([mine]);
    expect(await inBranch(h.head.code)).toEqual([received, mine]);
    expect(codes(await list(token, { branch: `${h.tag}-nowhere` }, 50))).toEqual(['NOT_FOUND']);

    // Reading one transaction by id: its own yes, the other member's no.
    const one = await h.gql(token, `query($id: ID!) { transaction(id: $id) { id postings { account { id } } } }`, { id: received });
    expect(one.errors).toBeUndefined();
    expect(one.data.transaction.id).toBe(received);
    // the other member's read like unknown ids (issue 13 item 5)
    const hidden = await h.gql(token, `query($id: ID!) { transaction(id: $id) { id } }`, { id: theirs });
    expect(hidden.errors).toBeUndefined();
    expect(hidden.data.transaction).toBeNull();
    const account = await h.gql(token, `query($id: ID!) { account(id: $id) { id } }`, { id: otherWallet });
    expect(account.errors).toBeUndefined();
    expect(account.data.account).toBeNull();
  });
});

describe('accounts and members', () => {
  it('an account shows its balance, held and available amounts', async () => {
    const member = await h.addMember(`${h.tag}-account`);
    await award(member);
    await adjust(member, '0.25');
    const wallet = await walletId(member);
    const res = await h.gql(h.adminToken, `query($id: ID!) { account(id: $id) {
      id purpose asset balance held available owner { type id } branch { code } } }`, { id: wallet });
    expect(res.errors).toBeUndefined();
    expect(res.data.account).toEqual({
      id: wallet, purpose: 'WALLET', asset: 'POINTS', balance: '5.25', held: '0.00', available: '5.25',
      owner: { type: 'MEMBER', id: member }, branch: { code: h.branches[0]!.code },
    });
    const own = await h.gql(h.token({ role: 'member', member }), `query($id: ID!) { account(id: $id) { available } }`, { id: wallet });
    expect(own.data.account.available).toBe('5.25');
  });

  it('an unknown account or transaction reads as null', async () => {
    const account = await h.gql(h.adminToken, `{ account(id: "999999999999") { id } }`);
    expect(account.errors).toBeUndefined();
    expect(account.data.account).toBeNull();
    const txn = await h.gql(h.adminToken, `{ transaction(id: "999999999999") { id } }`);
    expect(txn.errors).toBeUndefined();
    expect(txn.data.transaction).toBeNull();
    expect(codes(await h.gql(h.adminToken, `{ transaction(id: "x1") { id } }`))).toEqual(['BAD_USER_INPUT']);
  });

  it('a member by externalId shows its wallets and a balance per asset', async () => {
    const externalId = `${h.tag}-member-read`;
    const member = await h.addMember(externalId, h.branches[1], { volunteer: true });
    await award(member, 'volunteer.hour', { quantity: '1.5' });
    const query = `query($ext: String) { member(externalId: $ext) {
      id externalId isVolunteer isPartyMember branch { code }
      accounts { asset balance available purpose owner { id } }
      points: balance hours: balance(asset: VOLUNTEER_HOURS) score: balance(asset: PARTY_SCORE) } }`;
    const res = await h.gql(h.adminToken, query, { ext: externalId });
    expect(res.errors).toBeUndefined();
    const m = res.data.member;
    expect(m).toMatchObject({ id: member, externalId, isVolunteer: true, isPartyMember: false, branch: { code: h.branches[1]!.code },
      points: '15.00', hours: '1.50', score: '0.00' });
    expect(m.accounts.map((a: any) => [a.asset, a.balance, a.purpose, a.owner.id]).sort()).toEqual([
      ['PARTY_SCORE', '0.00', 'WALLET', member], ['POINTS', '15.00', 'WALLET', member], ['VOLUNTEER_HOURS', '1.50', 'WALLET', member],
    ]);
    // The member itself reads the same; an unknown externalId is null.
    const own = await h.gql(h.token({ role: 'member', member }), query, { ext: externalId });
    expect(own.data.member.points).toBe('15.00');
    const unknown = await h.gql(h.adminToken, query, { ext: `${h.tag}-nobody` });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data.member).toBeNull();
  });

  it('a member query naming both or neither of id and externalId is refused', async () => {
    const member = await h.addMember(`${h.tag}-both`);
    expect(codes(await h.gql(h.adminToken, `query($id: ID, $ext: String) { member(id: $id, externalId: $ext) { id } }`,
      { id: member, ext: `${h.tag}-both` }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, `{ member { id } }`))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('the trial balance', () => {
  it('is balanced for every asset', async () => {
    const member = await h.addMember(`${h.tag}-trial`, h.branches[2], { party: true });
    await award(member, 'volunteer.hour', { quantity: '2' });
    await award(member, 'party.negative-list.absence');
    const res = await h.gql(h.adminToken, `{ trialBalance { balanced lines { asset total balanced accounts } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.trialBalance.balanced).toBe(true);
    const assets = res.data.trialBalance.lines.map((l: any) => l.asset).sort();
    expect(assets).toEqual(['PARTY_SCORE', 'POINTS', 'VOLUNTEER_HOURS']);
    for (const line of res.data.trialBalance.lines) {
      expect(line).toMatchObject({ total: '0.00', balanced: true });
      expect(line.accounts).toBeGreaterThan(0);
    }
  });

  it('is for admins only', async () => {
    const member = await h.addMember(`${h.tag}-trial-forbidden`);
    for (const token of [h.clientToken, h.token({ role: 'member', member }), h.token({ role: 'merchant', merchant: '1' })]) {
      expect(codes(await h.gql(token, `{ trialBalance { balanced } }`))).toEqual(['FORBIDDEN']);
    }
  });
});

describe('a branch issuance account', () => {
  it('reads minus what the branch issued, before the settler has folded anything in', async () => {
    const code = `${h.tag}-issuing`;
    const created = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { id } } }`,
      { input: { idempotencyKey: h.key(), parent: h.head.code, code, name: 'Issuing branch' } });
    expect(created.errors).toBeUndefined();
    const branch = await h.bank.branches.require(code);
    const one = await h.addMember(`${h.tag}-issued-1`, branch);
    const two = await h.addMember(`${h.tag}-issued-2`, branch);
    const first = await award(one, 'garbage.bin-duty');
    await award(two, 'garbage.bin-duty');
    await award(two, 'volunteer.hour', { quantity: '1.25' });

    const issuance = first.postings.find((p: any) => p.balanceAfter === null);
    expect(issuance.amount).toBe('-5.00');
    const read = () => h.gql(h.adminToken, `query($id: ID!) { account(id: $id) {
      purpose asset balance available owner { type id } } }`, { id: issuance.accountId });
    // Hold the branch's deltas so that no settler (other test files settle too) folds them in while
    // we read: the settler skips locked rows, and the API reads them without waiting.
    await h.bank.knex.transaction(async (trx) => {
      const { rows } = await trx.raw(`SELECT id FROM account_deltas WHERE head_id = ? AND account_id = ? FOR UPDATE`, [h.head.id, issuance.accountId]);
      expect(rows).toHaveLength(3);
      const settled = await trx('accounts').where({ head_id: h.head.id, id: issuance.accountId }).first('balance');
      expect(new Decimal(settled.balance).isZero()).toBe(true);
      const res = await read();
      expect(res.errors).toBeUndefined();
      // 5.00 + 5.00 + 12.50 POINTS issued.
      expect(res.data.account).toEqual({ purpose: 'ISSUANCE', asset: 'POINTS', balance: '-22.50', available: '-22.50', owner: { type: 'SYSTEM', id: branch.id } });
    });
    // And the same after settling.
    await settleAccountDeltas(h.bank);
    expect((await read()).data.account.balance).toBe('-22.50');
    const admin = await h.gql(h.adminToken, `query($b: String) { transactions(filter: { branch: $b }, first: 10) { edges { node { id } } } }`, { b: code });
    expect(admin.data.transactions.edges).toHaveLength(3);
  });
});
