// Claims with approval over real HTTP: a member (or a client for it) reports an activity under a rule
// that needs approval; an admin of the member's branch approves it (the award posts as awardPoints
// would, caps counted then) or rejects it with a reason, and a claim is decided once however many
// admins press the button at the same moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ poolSize: 30 });
  const res = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { code requiresApproval } } }`, {
    input: {
      idempotencyKey: h.key(), code: 'party.service-claim', name: '志愿服务申报 Claimed service', category: 'party-service',
      outputs: [{ asset: 'PARTY_SCORE', amountPerUnit: '3.00' }], caps: [{ window: 'YEAR', maxCount: '2' }], requiresApproval: true,
    },
  });
  expect(res.errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const claimFields = `id rule quantity occurredAt evidenceText evidenceLinks status submittedBy decidedBy reason
  member { id externalId } transaction { id kind postings { asset amount account { owner { type } purpose } } }`;
const submitMutation = `mutation($input: SubmitClaimInput!) { submitClaim(input: $input) { replayed claim { ${claimFields} } } }`;
const approveMutation = `mutation($input: DecideClaimInput!) { approveClaim(input: $input) { replayed claim { ${claimFields} } } }`;
const rejectMutation = `mutation($input: DecideClaimInput!) { rejectClaim(input: $input) { replayed claim { ${claimFields} } } }`;

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-cm${++members}`;
  const id = await h.addMember(externalId, branch, { party: true });
  return { id, externalId, token: h.token({ role: 'member', member: id, sub: `member-${externalId}` }) };
}

function submit(token: string, input: Record<string, unknown>): Promise<GraphQLResponse> {
  return h.gql(token, submitMutation, { input: { idempotencyKey: h.key(), rule: 'party.service-claim', ...input } });
}

async function submitted(token: string, input: Record<string, unknown> = {}): Promise<any> {
  const res = await submit(token, input);
  expect(res.errors).toBeUndefined();
  return res.data.submitClaim.claim;
}

function approve(claim: string, token = h.adminToken, key = h.key()): Promise<GraphQLResponse> {
  return h.gql(token, approveMutation, { input: { idempotencyKey: key, claim } });
}

function reject(claim: string, reason: string | null, token = h.adminToken, key = h.key()): Promise<GraphQLResponse> {
  return h.gql(token, rejectMutation, { input: { idempotencyKey: key, claim, reason } });
}

describe('submitting a claim', () => {
  it('records a pending claim with its evidence, once per key', async () => {
    const m = await newMember();
    const input = { idempotencyKey: h.key(), rule: 'party.service-claim', quantity: '1', occurredAt: '2026-11-02T02:00:00Z',
      evidence: { text: '社区清扫 2 小时 street cleaning', links: ['https://example.org/photo/1.jpg'] } };
    const first = await h.gql(m.token, submitMutation, { input });
    expect(first.errors).toBeUndefined();
    expect(first.data.submitClaim).toMatchObject({ replayed: false, claim: {
      status: 'PENDING', rule: 'party.service-claim', quantity: '1', evidenceText: '社区清扫 2 小时 street cleaning',
      evidenceLinks: ['https://example.org/photo/1.jpg'], member: { id: m.id }, transaction: null, submittedBy: `member-${m.externalId}` } });
    const again = await h.gql(m.token, submitMutation, { input });
    expect(again.data.submitClaim).toMatchObject({ replayed: true, claim: { id: first.data.submitClaim.claim.id } });
    const conflict = await h.gql(m.token, submitMutation, { input: { ...input, quantity: '2' } });
    expect(codes(conflict)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const { rows } = await h.bank.knex.raw('SELECT count(*)::int AS n FROM claims WHERE head_id = ? AND member_id = ?', [h.head.id, m.id]);
    expect(rows[0].n).toBe(1);
  });

  it('is submitted by a client for a member of its scope, if its token lists the rule', async () => {
    const m = await newMember();
    const kiosk = h.token({ role: 'client', sub: `${h.tag}-kiosk`, rules: ['party.service-claim'] });
    expect((await submitted(kiosk, { externalId: m.externalId })).status).toBe('PENDING');
    const other = h.token({ role: 'client', sub: `${h.tag}-kiosk2`, rules: ['garbage.sorted-drop'] });
    // A rule outside the token's list reads like an unknown rule (NOT_FOUND), as for a '*' token.
    const refused = await submit(other, { externalId: m.externalId });
    expect(codes(refused)).toEqual(['NOT_FOUND']);
    expect(refused.errors![0]!.extensions!.field).toBe('rule');
  });

  it('is refused for a rule that needs no approval, an unknown rule, another member, and bad evidence', async () => {
    const m = await newMember();
    const n = await newMember();
    expect(codes(await submit(m.token, { rule: 'garbage.bin-duty' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await submit(m.token, { rule: 'party.no-such-rule' }))).toEqual(['NOT_FOUND']);
    expect(codes(await submit(m.token, { memberId: n.id }))).toEqual(['FORBIDDEN']);
    expect(codes(await submit(m.token, { evidence: { links: ['javascript:alert(1)'] } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await submit(m.token, { quantity: '0' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('cannot be awarded directly: the rule needs approval', async () => {
    const m = await newMember();
    const res = await h.gql(h.adminToken, `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transactionId } }`,
      { input: { idempotencyKey: h.key(), memberId: m.id, rule: 'party.service-claim' } });
    expect(codes(res)).toEqual(['INVALID_STATE']);
  });
});

describe('deciding a claim', () => {
  it('approval posts the award from the branch issuance account, and a retry replays it', async () => {
    const m = await newMember();
    const claim = await submitted(m.token, { occurredAt: '2026-10-01T02:00:00Z' });
    const key = h.key();
    const res = await approve(claim.id, h.adminToken, key);
    expect(res.errors).toBeUndefined();
    expect(res.data.approveClaim).toMatchObject({ replayed: false, claim: { status: 'APPROVED', decidedBy: `admin-${h.tag}`, transaction: { kind: 'EARN' } } });
    const postings = res.data.approveClaim.claim.transaction.postings;
    expect(postings).toEqual(expect.arrayContaining([
      { asset: 'PARTY_SCORE', amount: '3.00', account: { owner: { type: 'MEMBER' }, purpose: 'WALLET' } },
      { asset: 'PARTY_SCORE', amount: '-3.00', account: { owner: { type: 'SYSTEM' }, purpose: 'ISSUANCE' } },
    ]));
    expect(await h.walletBalance(m.id, 'PARTY_SCORE')).toBe('3.00');
    const again = await approve(claim.id, h.adminToken, key);
    expect(again.data.approveClaim).toMatchObject({ replayed: true, claim: { transaction: { id: res.data.approveClaim.claim.transaction.id } } });
    expect(codes(await approve(claim.id))).toEqual(['INVALID_STATE']);
    expect(codes(await reject(claim.id, 'changed my mind'))).toEqual(['INVALID_STATE']);
    expect(await h.walletBalance(m.id, 'PARTY_SCORE')).toBe('3.00');
  });

  it('rejection needs a reason, posts nothing, and is final', async () => {
    const m = await newMember();
    const claim = await submitted(m.token);
    expect(codes(await reject(claim.id, null))).toEqual(['BAD_USER_INPUT']);
    const key = h.key();
    const res = await reject(claim.id, '证明材料不足 evidence missing', h.adminToken, key);
    expect(res.data.rejectClaim).toMatchObject({ replayed: false, claim: { status: 'REJECTED', reason: '证明材料不足 evidence missing', transaction: null } });
    expect((await reject(claim.id, '证明材料不足 evidence missing', h.adminToken, key)).data.rejectClaim.replayed).toBe(true);
    expect(codes(await approve(claim.id))).toEqual(['INVALID_STATE']);
    expect(await h.transactionCount({ member_id: m.id })).toBe(0);
  });

  it('is decided once when 20 approvals and 20 rejections arrive together', async () => {
    const m = await newMember();
    const claim = await submitted(m.token);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? approve(claim.id) : reject(claim.id, 'duplicate'))));
    const ok = answers.filter((a) => !a.errors);
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => a.errors).flatMap(codes).every((c) => c === 'INVALID_STATE')).toBe(true);
    const decided = ok[0]!.data.approveClaim ?? ok[0]!.data.rejectClaim;
    expect(await h.transactionCount({ member_id: m.id })).toBe(decided.claim.status === 'APPROVED' ? 1 : 0);
  });

  it('counts caps at approval: a third claim of a twice-a-year rule is refused and stays pending', async () => {
    const m = await newMember();
    const claims = [await submitted(m.token), await submitted(m.token), await submitted(m.token)];
    const answers = await Promise.all(claims.map((c) => approve(c.id)));
    expect(answers.map((a) => (a.errors ? codes(a)[0] : 'OK')).sort()).toEqual(['CAP_EXCEEDED', 'OK', 'OK']);
    expect(await h.walletBalance(m.id, 'PARTY_SCORE')).toBe('6.00');
    const { rows } = await h.bank.knex.raw(`SELECT status, count(*)::int AS n FROM claims WHERE head_id = ? AND member_id = ? GROUP BY 1 ORDER BY 1`, [h.head.id, m.id]);
    expect(rows).toEqual([{ status: 'APPROVED', n: 2 }, { status: 'PENDING', n: 1 }]);
  });

  it('is for admins of the member\'s branch or above', async () => {
    const m = await newMember(h.branches[0]!);
    const claim = await submitted(m.token);
    const otherBranchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `${h.tag}-admin-b` });
    const ownBranchAdmin = h.token({ role: 'admin', branch: h.branches[0]!.code, sub: `${h.tag}-admin-a` });
    expect(codes(await approve(claim.id, otherBranchAdmin))).toEqual(['FORBIDDEN']);
    expect(codes(await approve(claim.id, m.token))).toEqual(['FORBIDDEN']);
    expect(codes(await approve(claim.id, h.clientToken))).toEqual(['FORBIDDEN']);
    expect(codes(await approve('999999999'))).toEqual(['NOT_FOUND']);
    expect((await approve(claim.id, ownBranchAdmin)).data.approveClaim.claim.status).toBe('APPROVED');
  });
});

describe('listing claims', () => {
  const listQuery = `query($branch: String, $status: ClaimStatus, $first: Int, $after: String) {
    claims(branch: $branch, status: $status, first: $first, after: $after) { edges { cursor node { id status member { id } } } pageInfo { hasNextPage endCursor } } }`;

  it('shows an admin its subtree oldest first, page by page, and a member only its own', async () => {
    const m = await newMember(h.branches[2]!);
    const n = await newMember(h.branches[2]!);
    const ids = [(await submitted(m.token)).id, (await submitted(n.token)).id, (await submitted(m.token)).id];
    await reject(ids[1]!, 'not eligible');
    const page1 = await h.gql(h.adminToken, listQuery, { branch: h.branches[2]!.code, status: 'PENDING', first: 1 });
    expect(page1.data.claims.edges.map((e: any) => e.node.id)).toEqual([ids[0]]);
    expect(page1.data.claims.pageInfo.hasNextPage).toBe(true);
    const page2 = await h.gql(h.adminToken, listQuery, { branch: h.branches[2]!.code, status: 'PENDING', first: 5, after: page1.data.claims.pageInfo.endCursor });
    expect(page2.data.claims.edges.map((e: any) => e.node.id)).toEqual([ids[2]]);
    const own = await h.gql(n.token, listQuery, {});
    expect(own.data.claims.edges.map((e: any) => e.node.id)).toEqual([ids[1]]);
    const outside = h.token({ role: 'admin', branch: h.branches[0]!.code, sub: `${h.tag}-admin-a2` });
    expect(codes(await h.gql(outside, listQuery, { branch: h.branches[2]!.code }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.clientToken, listQuery, {}))).toEqual(['FORBIDDEN']);
  });
});
