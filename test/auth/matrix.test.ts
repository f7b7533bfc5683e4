// The authorization matrix: every operation × every role × a target inside / outside the token's
// scope → allowed, or FORBIDDEN and nothing written, exactly as SPEC's "who may do what" says.
// Roles: an admin of the head bank (its scope is everything), an admin and a client (rules '*') of
// branch A, a member of branch A (scope: its own wallet), a merchant of branch A. In scope is a member
// of branch A (for the member token: itself); out of scope a member of sibling branch B. For spending
// and claims the same split holds for what an operation acts on: in scope is branch A's merchant,
// its item (offered to branch A), branch A's pool, the in-scope member's voucher at branch A's
// merchant and its claim (for the merchant token: itself, its item, its vouchers); out of scope the
// same things of branch B.
// (Tokens that are expired, not yet valid, of the wrong issuer or audience, alg none or signed with
// the wrong key are UNAUTHENTICATED: test/auth/authorization.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 8 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

type RoleName = 'adminHead' | 'adminA' | 'clientA' | 'memberA' | 'merchant';
type Scope = 'in' | 'out';
/** hidden: answered like an unknown id (null, no error), so that ids cannot be probed outside a scope (issue 13 item 5). */
type Outcome = 'ok' | 'FORBIDDEN' | 'hidden';
const roleNames: RoleName[] = ['adminHead', 'adminA', 'clientA', 'memberA', 'merchant'];

interface Target { memberId: string; externalId: string; branchCode: string; accountId: string; transactionId: string }
interface World {
  tokens: Record<RoleName, string>;
  targets: Record<Scope, Target>;
  /** A second member in each branch, for transfers. */
  peers: Record<Scope, Target>;
  /** A member token for each target (the in-scope one is memberA's), to redeem and donate in preparations. */
  targetTokens: Record<Scope, string>;
  /** A merchant of each branch; the merchant role's token is the in-scope one's. */
  merchants: Record<Scope, { id: string; token: string }>;
  /** An unlimited item of each branch's merchant, offered to that branch. */
  items: Record<Scope, string>;
  /** An item of branch B's merchant offered to the whole bank, and an OPEN pool of the whole bank. */
  bankWideItem: string;
  bankWidePool: string;
  /** An OPEN pool, a PENDING voucher and a PENDING claim of each branch, for the reads. */
  pools: Record<Scope, string>;
  vouchers: Record<Scope, string>;
  claims: Record<Scope, string>;
}
const claimRule = 'matrix.claimed-service';
let world: World;

async function member(label: string, branch: 0 | 1): Promise<Target> {
  const externalId = `${h.tag}-${label}`;
  const memberId = await h.addMember(externalId, h.branches[branch]!);
  // Funds for transfers out of it, written by the head admin.
  const res = await h.gql(h.adminToken, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount: '1000.00', reason: 'matrix funds' } });
  expect(res.errors).toBeUndefined();
  const account = await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: memberId, asset_code: 'POINTS' }).first('id');
  return { memberId, externalId, branchCode: h.branches[branch]!.code, accountId: String(account.id), transactionId: res.data.adjustBalance.transactionId };
}

/** A fresh transaction of the target, written by `token` (reversals need one each). */
async function freshTransaction(token: string, target: Target): Promise<string> {
  const res = await h.gql(token, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' } });
  expect(res.errors).toBeUndefined();
  return res.data.awardPoints.transactionId;
}

const scopeOf = (target: Target): Scope => (target === world.targets.in ? 'in' : 'out');

/** A setup write that must succeed; its data. */
async function written(token: string, mutation: string, inputType: string, input: Record<string, unknown>, select: string): Promise<any> {
  const res = await h.gql(token, `mutation($i: ${inputType}!) { ${mutation}(input: $i) { ${select} } }`, { i: { idempotencyKey: h.key(), ...input } });
  expect(res.errors, `setup ${mutation}`).toBeUndefined();
  return res.data[mutation];
}

/** A fresh PENDING voucher of the target member at its branch's merchant (fulfilled too, if asked). */
async function voucher(target: Target, fulfilled = false): Promise<string> {
  const scope = scopeOf(target);
  const { code } = (await written(world.targetTokens[scope], 'redeem', 'RedeemInput', { item: world.items[scope] }, 'redemption { code }')).redemption;
  if (fulfilled) await written(world.merchants[scope].token, 'fulfillRedemption', 'VoucherInput', { code }, 'redemption { status }');
  return code;
}

/** A fresh pool of the target's branch, with one donation of the target member: FUNDED when that meets the target. */
async function pool(target: Target, amount: string): Promise<string> {
  const { id } = (await written(h.adminToken, 'createPool', 'CreatePoolInput', { branch: target.branchCode, title: 'Ramp', beneficiary: 'Block 3', target: amount }, 'pool { id }')).pool;
  await written(world.targetTokens[scopeOf(target)], 'donate', 'DonateInput', { pool: id, amount: '1.00' }, 'transactionId');
  return id;
}

/** A fresh PENDING claim of the target member, submitted by the head admin. */
const claim = async (target: Target): Promise<string> =>
  (await written(h.adminToken, 'submitClaim', 'SubmitClaimInput', { memberId: target.memberId, rule: claimRule }, 'claim { id }')).claim.id;

/** Party-score years closed here are long past (one year per closing), so that no write of this file is dated in them. */
let nextYear = 2000;

interface Operation {
  name: string;
  /** Expected outcome per role, [in scope, out of scope]. */
  expected: Record<RoleName, [Outcome, Outcome]>;
  /** Writes what the operation needs before the footprint is taken (a transaction to reverse). */
  prepare?(token: string, role: RoleName, target: Target): Promise<string>;
  run(token: string, role: RoleName, target: Target, peer: Target, prepared: string): Promise<{ codes: string[]; data: any }>;
}

async function call(token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await h.gql(token, query, variables);
  const codes = (res.errors ?? []).map((e) => e.extensions?.code ?? 'NONE');
  return { codes, data: res.data };
}

const writers = (admin: [Outcome, Outcome], client: [Outcome, Outcome], member: [Outcome, Outcome], merchant: [Outcome, Outcome] = ['FORBIDDEN', 'FORBIDDEN']) =>
  ({ adminHead: ['ok', 'ok'], adminA: admin, clientA: client, memberA: member, merchant } as Record<RoleName, [Outcome, Outcome]>);
const no: [Outcome, Outcome] = ['FORBIDDEN', 'FORBIDDEN'];
const scoped: [Outcome, Outcome] = ['ok', 'FORBIDDEN'];
const everywhere: [Outcome, Outcome] = ['ok', 'ok'];
/** A read of one object by its id: in scope it answers, out of scope it reads like an unknown id. */
const seen: [Outcome, Outcome] = ['ok', 'hidden'];

const operations: Operation[] = [
  {
    name: 'awardPoints', expected: writers(scoped, scoped, no),
    run: (t, _, target) => call(t, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' } }),
  },
  {
    name: 'awardPointsBatch', expected: writers(scoped, scoped, no),
    run: async (t, _, target) => {
      const r = await call(t, `mutation($i: AwardPointsBatchInput!) { awardPointsBatch(input: $i) { results { error { code } } } }`,
        { i: { awards: [{ idempotencyKey: h.key(), memberId: target.memberId, rule: 'party.negative-list.absence' }] } });
      const itemCodes = (r.data?.awardPointsBatch?.results ?? []).flatMap((x: any) => (x.error ? [x.error.code] : []));
      return { codes: [...r.codes, ...itemCodes], data: r.data };
    },
  },
  {
    // A member gifts from its own wallet only (here: to the target, from itself; out of scope: naming another's wallet).
    name: 'transferPoints', expected: writers(scoped, no, scoped),
    run: (t, role, target, peer) => call(t, `mutation($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId } }`, {
      i: role === 'memberA'
        ? { idempotencyKey: h.key(), from: target === world.targets.in ? undefined : { id: target.memberId }, to: { id: peer.memberId }, amount: '1.00' }
        : { idempotencyKey: h.key(), from: { id: target.memberId }, to: { id: peer.memberId }, amount: '1.00' },
    }),
  },
  {
    name: 'adjustBalance', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), member: { id: target.memberId }, asset: 'POINTS', amount: '1.00', reason: 'matrix' } }),
  },
  {
    // A client reverses only what it wrote: in scope, its own award; out of scope, the head admin's award in branch B.
    name: 'reverseTransaction', expected: writers(scoped, scoped, no),
    prepare: (t, role, target) => freshTransaction(role === 'clientA' && target === world.targets.in ? t : h.adminToken, target),
    run: (t, _, __, ___, id) => call(t, `mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), transaction: id, reason: 'matrix' } }),
  },
  {
    name: 'createBranch', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: CreateBranchInput!) { createBranch(input: $i) { branch { id } } }`,
      { i: { idempotencyKey: h.key(), parent: target.branchCode, code: `${h.tag}-m${Math.random().toString(36).slice(2, 10)}`, name: 'Matrix grid' } }),
  },
  {
    name: 'upsertMember', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }`,
      { i: { idempotencyKey: h.key(), externalId: `${h.tag}-new-${Math.random().toString(36).slice(2, 10)}`, branch: target.branchCode, name: 'Matrix resident' } }),
  },
  {
    name: 'defineRule', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { id } } }`, {
      i: { idempotencyKey: h.key(), branch: target.branchCode, code: `matrix.r${Math.random().toString(36).slice(2, 10)}`, name: 'Matrix rule',
        category: 'matrix', outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }] },
    }),
  },
  {
    name: 'member', expected: { adminHead: everywhere, adminA: seen, clientA: seen, memberA: seen, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { member(id: $id) { id } }`, { id: target.memberId }),
  },
  {
    // a merchant reads accounts (its own), so a member's reads like an unknown one
    name: 'account', expected: { adminHead: everywhere, adminA: seen, clientA: seen, memberA: seen, merchant: ['hidden', 'hidden'] },
    run: (t, _, target) => call(t, `query($id: ID!) { account(id: $id) { id } }`, { id: target.accountId }),
  },
  {
    name: 'transaction', expected: { adminHead: everywhere, adminA: seen, clientA: seen, memberA: seen, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { transaction(id: $id) { id } }`, { id: target.transactionId }),
  },
  {
    // a member's list is its own wallets' transactions whatever the filter (the branch filter narrows admins and clients)
    name: 'transactions (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `query($b: String) { transactions(filter: { branch: $b }) { edges { node { id } } } }`, { b: target.branchCode }),
  },
  {
    // The trial balance and the verification cover the whole head bank: admins (verifyLedger: of the head bank).
    name: 'trialBalance', expected: { adminHead: everywhere, adminA: everywhere, clientA: no, memberA: no, merchant: no },
    run: (t) => call(t, `{ trialBalance { balanced } }`),
  },
  {
    name: 'verifyLedger', expected: { adminHead: everywhere, adminA: no, clientA: no, memberA: no, merchant: no },
    run: (t) => call(t, `{ verifyLedger { ok } }`),
  },
  {
    name: 'ledgerDigest', expected: { adminHead: everywhere, adminA: everywhere, clientA: everywhere, memberA: everywhere, merchant: everywhere },
    run: (t) => call(t, `{ ledgerDigest { sequence } }`),
  },
  // Spending. The target's merchant is the merchant of the target's branch.
  {
    name: 'createMerchant', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: CreateMerchantInput!) { createMerchant(input: $i) { merchant { id } } }`,
      { i: { idempotencyKey: h.key(), branch: target.branchCode, name: 'Matrix grocery' } }),
  },
  {
    // the merchant itself (out of scope: naming another merchant), or an admin whose scope covers the merchant
    name: 'upsertCatalogItem', expected: writers(scoped, no, no, scoped),
    run: (t, _, target) => call(t, `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`, {
      i: { idempotencyKey: h.key(), merchant: world.merchants[scopeOf(target)].id, code: `m-${Math.random().toString(36).slice(2, 10)}`,
        title: 'Matrix soap', category: 'daily-goods', cost: '1.00' },
    }),
  },
  {
    // The input names no wallet: a member redeems from its own and cannot name another's (as for
    // transactions, in and out are the same for it). Out of scope is branch B's merchant's item,
    // offered to the whole bank so that the member may take it.
    name: 'redeem', expected: { adminHead: no, adminA: no, clientA: no, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`,
      { i: { idempotencyKey: h.key(), item: scopeOf(target) === 'in' ? world.items.in : world.bankWideItem } }),
  },
  {
    name: 'fulfillRedemption', expected: { adminHead: no, adminA: no, clientA: no, memberA: no, merchant: scoped },
    prepare: (_, __, target) => voucher(target),
    run: (t, _, __, ___, code) => call(t, `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code } }),
  },
  {
    name: 'cancelRedemption', expected: { adminHead: no, adminA: no, clientA: no, memberA: scoped, merchant: scoped },
    prepare: (_, __, target) => voucher(target),
    run: (t, _, __, ___, code) => call(t, `mutation($i: VoucherInput!) { cancelRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code } }),
  },
  {
    // its merchant, or an admin whose scope covers the voucher's member
    name: 'refundRedemption', expected: writers(scoped, no, no, scoped),
    prepare: (_, __, target) => voucher(target, true),
    run: (t, _, __, ___, code) => call(t, `mutation($i: RefundRedemptionInput!) { refundRedemption(input: $i) { redemption { status } } }`,
      { i: { idempotencyKey: h.key(), code, reason: 'matrix' } }),
  },
  {
    name: 'createPool', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: CreatePoolInput!) { createPool(input: $i) { pool { id } } }`,
      { i: { idempotencyKey: h.key(), branch: target.branchCode, title: 'Matrix ramp', beneficiary: 'Block 3', target: '100.00' } }),
  },
  {
    // As for redeem: a member gives only from its own wallet; out of scope is a pool of the whole bank, not branch A's.
    name: 'donate', expected: { adminHead: no, adminA: no, clientA: no, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `mutation($i: DonateInput!) { donate(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), pool: scopeOf(target) === 'in' ? world.pools.in : world.bankWidePool, amount: '0.01' } }),
  },
  {
    // a FUNDED pool of the target's branch, paid to that branch's merchant
    name: 'disbursePool', expected: writers(scoped, no, no),
    prepare: (_, __, target) => pool(target, '1.00'),
    run: (t, _, target, __, id) => call(t, `mutation($i: DisbursePoolInput!) { disbursePool(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), pool: id, merchant: world.merchants[scopeOf(target)].id, memo: 'matrix ramp' } }),
  },
  {
    name: 'closePool', expected: writers(scoped, no, no),
    prepare: (_, __, target) => pool(target, '100.00'),
    run: (t, _, __, ___, id) => call(t, `mutation($i: ClosePoolInput!) { closePool(input: $i) { refunds } }`,
      { i: { idempotencyKey: h.key(), pool: id, reason: 'matrix' } }),
  },
  // Claims and score years.
  {
    // the member itself (out of scope: naming another member), a client whose token lists the rule, or an admin, in scope
    name: 'submitClaim', expected: writers(scoped, scoped, scoped),
    run: (t, role, target) => call(t, `mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }`, {
      i: { idempotencyKey: h.key(), rule: claimRule, memberId: role === 'memberA' && scopeOf(target) === 'in' ? undefined : target.memberId },
    }),
  },
  {
    name: 'approveClaim', expected: writers(scoped, no, no),
    prepare: (_, __, target) => claim(target),
    run: (t, _, __, ___, id) => call(t, `mutation($i: DecideClaimInput!) { approveClaim(input: $i) { claim { status } } }`,
      { i: { idempotencyKey: h.key(), claim: id } }),
  },
  {
    name: 'rejectClaim', expected: writers(scoped, no, no),
    prepare: (_, __, target) => claim(target),
    run: (t, _, __, ___, id) => call(t, `mutation($i: DecideClaimInput!) { rejectClaim(input: $i) { claim { status } } }`,
      { i: { idempotencyKey: h.key(), claim: id, reason: 'matrix' } }),
  },
  {
    name: 'closeScoreYear', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: CloseScoreYearInput!) { closeScoreYear(input: $i) { closure { id } } }`,
      { i: { idempotencyKey: h.key(), branch: target.branchCode, year: nextYear++ } }),
  },
  {
    // head bank admins only, whatever the branch
    name: 'reopenScoreYear', expected: writers(no, no, no),
    prepare: async (_, __, target) => {
      const year = nextYear++;
      await written(h.adminToken, 'closeScoreYear', 'CloseScoreYearInput', { branch: target.branchCode, year }, 'closure { id }');
      return String(year);
    },
    run: (t, _, target, __, year) => call(t, `mutation($i: ReopenScoreYearInput!) { reopenScoreYear(input: $i) { closure { id } } }`,
      { i: { idempotencyKey: h.key(), branch: target.branchCode, year: Number(year), reason: 'matrix' } }),
  },
  // Spending and claims reads.
  {
    // A filter narrows what the caller may browse (a member: what is offered to it; a merchant: its
    // own; an admin: its scope's merchants'): naming another scope's merchant lists nothing, no refusal.
    name: 'catalog (a merchant filter)', expected: { adminHead: everywhere, adminA: everywhere, clientA: no, memberA: everywhere, merchant: everywhere },
    run: async (t, role, target) => {
      const r = await call(t, `query($m: ID) { catalog(merchant: $m) { edges { node { id } } } }`, { m: world.merchants[scopeOf(target)].id });
      if ((role === 'adminA' || role === 'merchant') && scopeOf(target) === 'out') expect(r.data?.catalog?.edges, `${role} browsing branch B's merchant`).toEqual([]);
      return r;
    },
  },
  {
    name: 'catalogItem', expected: { adminHead: everywhere, adminA: seen, clientA: no, memberA: seen, merchant: seen },
    run: (t, _, target) => call(t, `query($id: ID!) { catalogItem(id: $id) { id } }`, { id: world.items[scopeOf(target)] }),
  },
  {
    name: 'redemption (by code)', expected: { adminHead: everywhere, adminA: seen, clientA: no, memberA: seen, merchant: seen },
    run: (t, _, target) => call(t, `query($c: String!) { redemption(code: $c) { id } }`, { c: world.vouchers[scopeOf(target)] }),
  },
  {
    // a member's list is its own vouchers whatever the merchant filter
    name: 'redemptions (a merchant filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: everywhere, merchant: scoped },
    run: (t, _, target) => call(t, `query($m: ID) { redemptions(merchant: $m) { edges { node { id } } } }`, { m: world.merchants[scopeOf(target)].id }),
  },
  {
    // a member's list is the pools open to its branch whatever the branch filter
    name: 'pools (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `query($b: String) { pools(branch: $b) { edges { node { id } } } }`, { b: target.branchCode }),
  },
  {
    name: 'pool', expected: { adminHead: everywhere, adminA: seen, clientA: no, memberA: seen, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { pool(id: $id) { id } }`, { id: world.pools[scopeOf(target)] }),
  },
  {
    // a member's list is its own claims whatever the branch filter
    name: 'claims (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: everywhere, merchant: no },
    run: (t, _, target) => call(t, `query($b: String) { claims(branch: $b) { edges { node { id } } } }`, { b: target.branchCode }),
  },
  {
    name: 'claim', expected: { adminHead: everywhere, adminA: seen, clientA: no, memberA: seen, merchant: no },
    run: (t, _, target) => call(t, `query($id: ID!) { claim(id: $id) { id } }`, { id: world.claims[scopeOf(target)] }),
  },
  {
    name: 'partyScores', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { partyScores(branch: $b, period: { year: 2026 }) { totalCount } }`, { b: target.branchCode }),
  },
  {
    name: 'leaderboard', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { leaderboard(branch: $b, asset: POINTS, period: { year: 2026 }) { rank } }`, { b: target.branchCode }),
  },
  {
    name: 'branchStats', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { branchStats(branch: $b, period: { year: 2026 }) { assets { asset } } }`, { b: target.branchCode }),
  },
  {
    name: 'scoreYearClosures', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { scoreYearClosures(branch: $b) { year } }`, { b: target.branchCode }),
  },
  {
    // merchants are public within their bank (the catalog names them); their account only to themselves and admins in scope
    name: 'merchant', expected: { adminHead: everywhere, adminA: everywhere, clientA: everywhere, memberA: everywhere, merchant: everywhere },
    run: async (t, role, target) => {
      const r = await call(t, `query($id: ID!) { merchant(id: $id) { id account { id } } }`, { id: world.merchants[scopeOf(target)].id });
      const sees = role === 'adminHead' || (scopeOf(target) === 'in' && (role === 'adminA' || role === 'merchant'));
      expect(r.data?.merchant?.account != null, `${role} sees the merchant's account`).toBe(sees);
      return r;
    },
  },
  {
    // a public honour board: members and merchants read any branch of their bank; admins and clients their scope
    name: 'merchantLeaderboard', expected: { adminHead: everywhere, adminA: scoped, clientA: scoped, memberA: everywhere, merchant: everywhere },
    run: (t, _, target) => call(t, `query($b: String) { merchantLeaderboard(branch: $b, period: { year: 2026 }) { lines { rank } } }`, { b: target.branchCode }),
  },
  // The console's reads and the notice board (issue 12 §2, §4).
  {
    name: 'members (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String, $s: String) { members(branch: $b, search: $s) { edges { node { id } } } }`, { b: target.branchCode, s: target.externalId }),
  },
  {
    // a merchant token lists only itself, whatever branch it names
    name: 'merchants (a branch filter)', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: everywhere },
    run: (t, _, target) => call(t, `query($b: String) { merchants(branch: $b) { edges { node { id } } } }`, { b: target.branchCode }),
  },
  {
    name: 'branchMonths', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { branchMonths(branch: $b, period: { year: 2026 }) { month } }`, { b: target.branchCode }),
  },
  {
    name: 'topRules', expected: { adminHead: everywhere, adminA: scoped, clientA: no, memberA: no, merchant: no },
    run: (t, _, target) => call(t, `query($b: String!) { topRules(branch: $b, period: { year: 2026 }) { code } }`, { b: target.branchCode }),
  },
  {
    name: 'setNoticeBoard', expected: writers(scoped, no, no),
    run: (t, _, target) => call(t, `mutation($i: SetNoticeBoardInput!) { setNoticeBoard(input: $i) { noticeBoard } }`, { i: { branch: target.branchCode, enabled: false } }),
  },
  {
    // public: any caller, with or without a token (a branch that has not opted in answers null)
    name: 'noticeBoard', expected: { adminHead: everywhere, adminA: everywhere, clientA: everywhere, memberA: everywhere, merchant: everywhere },
    run: (t, _, target) => call(t, `query($b: String!) { noticeBoard(branch: $b) { name } }`, { b: target.branchCode }),
  },
];

const footprint = () => h.footprint();

beforeAll(async () => {
  const [inTarget, outTarget, inPeer, outPeer] = [await member('in', 0), await member('out', 1), await member('in-peer', 0), await member('out-peer', 1)];
  const [merchantIn, merchantOut] = [await h.addMerchant(`${h.tag} grocery A`, h.branches[0]), await h.addMerchant(`${h.tag} barber B`, h.branches[1])];
  const memberToken = (target: Target, sub: string) => h.token({ role: 'member', sub: `${h.tag}-${sub}`, member: target.memberId });
  world = {
    tokens: {
      adminHead: h.adminToken,
      adminA: h.token({ role: 'admin', sub: `${h.tag}-admin-a`, branch: h.branches[0]!.code }),
      clientA: h.token({ role: 'client', sub: `${h.tag}-client-a`, branch: h.branches[0]!.code, rules: '*' }),
      memberA: memberToken(inTarget, 'member-a'),
      merchant: h.token({ role: 'merchant', sub: `${h.tag}-merchant`, merchant: merchantIn }),
    },
    targets: { in: inTarget, out: outTarget },
    peers: { in: inPeer, out: outPeer },
    targetTokens: { in: memberToken(inTarget, 'member-a'), out: memberToken(outTarget, 'member-b') },
    merchants: {
      in: { id: merchantIn, token: h.token({ role: 'merchant', sub: `${h.tag}-merchant`, merchant: merchantIn }) },
      out: { id: merchantOut, token: h.token({ role: 'merchant', sub: `${h.tag}-merchant-b`, merchant: merchantOut }) },
    },
    items: { in: '', out: '' }, bankWideItem: '', bankWidePool: '', pools: { in: '', out: '' }, vouchers: { in: '', out: '' }, claims: { in: '', out: '' },
  };
  const item = async (scope: Scope, visibleTo: string) => (await written(world.merchants[scope].token, 'upsertCatalogItem', 'UpsertCatalogItemInput',
    { code: `tea-${visibleTo}`, title: 'Tea', category: 'daily-goods', cost: '1.00', visibleTo }, 'item { id }')).item.id;
  world.items = { in: await item('in', inTarget.branchCode), out: await item('out', outTarget.branchCode) };
  world.bankWideItem = await item('out', h.head.code);
  const openPool = async (branch: string) => (await written(h.adminToken, 'createPool', 'CreatePoolInput',
    { branch, title: 'Library', beneficiary: 'Everyone', target: '100000.00' }, 'pool { id }')).pool.id;
  world.pools = { in: await openPool(inTarget.branchCode), out: await openPool(outTarget.branchCode) };
  world.bankWidePool = await openPool(h.head.code);
  await written(h.adminToken, 'defineRule', 'DefineRuleInput', { code: claimRule, name: 'Claimed service', category: 'service',
    outputs: [{ asset: 'POINTS', amountPerUnit: '1.00' }], requiresApproval: true }, 'rule { id }');
  world.vouchers = { in: await voucher(inTarget), out: await voucher(outTarget) };
  world.claims = { in: await claim(inTarget), out: await claim(outTarget) };
});

describe.each(operations)('$name', (op) => {
  it.each(roleNames.flatMap((role) => (['in', 'out'] as Scope[]).map((scope) => ({ role, scope }))))('$role, $scope of scope', async ({ role, scope }) => {
    const expected = op.expected[role][scope === 'in' ? 0 : 1];
    const target = world.targets[scope];
    // a member's peer for a gift is in its own branch either way (gifting is allowed there)
    const peer = role === 'memberA' ? world.peers.in : world.peers[scope];
    const prepared = op.prepare ? await op.prepare(world.tokens[role], role, target) : '';
    const before = expected === 'FORBIDDEN' ? await footprint() : '';
    const result = await op.run(world.tokens[role], role, target, peer, prepared);
    if (expected === 'ok') {
      expect(result.codes, `${op.name} by ${role} ${scope} of scope`).toEqual([]);
    } else if (expected === 'hidden') {
      expect(result.codes, `${op.name} by ${role} ${scope} of scope`).toEqual([]);
      expect(Object.values(result.data ?? {}), `${op.name} by ${role} ${scope} of scope reads like an unknown id`).toEqual([null]);
    } else {
      expect(result.codes, `${op.name} by ${role} ${scope} of scope`).toEqual(['FORBIDDEN']);
      expect(await footprint(), 'a refused request writes nothing').toBe(before);
    }
  });
});
