// Party scores and their years: deductions under the negative list (负面清单) take a score below zero
// into the branch's penalty account; a score belongs to the year of occurredAt in the bank's time
// zone; a closed year refuses every later write dated in it for the branch subtree, and only the
// head bank reopens it, with a reason, both acts recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const awardMutation = `mutation($input: AwardPointsInput!) { awardPoints(input: $input) { transaction { id postings { asset amount account { purpose } } } } }`;
const closeMutation = `mutation($input: CloseScoreYearInput!) { closeScoreYear(input: $input) { replayed closure { id year branch { code } closedBy reopenedBy reopenReason } } }`;
const reopenMutation = `mutation($input: ReopenScoreYearInput!) { reopenScoreYear(input: $input) { replayed closure { id year closedBy reopenedBy reopenReason } } }`;
const scoresQuery = `query($branch: String!, $period: ReportPeriod!) { partyScores(branch: $branch, period: $period, first: 200) {
  totalCount edges { node { member { id } total rank breakdown { category amount } } } } }`;

let members = 0;
async function partyMember(branch = h.branches[0]!) {
  return h.addMember(`${h.tag}-p${++members}`, branch, { party: true });
}

function award(memberId: string, rule: string, occurredAt?: string, token = h.adminToken) {
  return h.gql(token, awardMutation, { input: { idempotencyKey: h.key(), memberId, rule, ...(occurredAt ? { occurredAt } : {}) } });
}

async function scoreOf(branch: string, memberId: string, period: Record<string, unknown>) {
  const res = await h.gql(h.adminToken, scoresQuery, { branch, period });
  expect(res.errors).toBeUndefined();
  return res.data.partyScores.edges.find((e: any) => e.node.member.id === memberId)?.node;
}

async function newBranch(code: string) {
  const res = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { code } } }`,
    { input: { idempotencyKey: h.key(), parent: h.head.code, code: `${h.tag}-${code}`, name: `Branch ${code}` } });
  expect(res.errors).toBeUndefined();
  return (await h.bank.branches.require(`${h.tag}-${code}`));
}

describe('deductions', () => {
  it('take a party score below zero, into the branch penalty account', async () => {
    const m = await partyMember();
    const res = await award(m, 'party.negative-list.absence', '2026-03-03T02:00:00Z');
    expect(res.errors).toBeUndefined();
    expect(res.data.awardPoints.transaction.postings).toEqual(expect.arrayContaining([
      { asset: 'PARTY_SCORE', amount: '-5.00', account: { purpose: 'WALLET' } },
      { asset: 'PARTY_SCORE', amount: '5.00', account: { purpose: 'PENALTY' } },
    ]));
    expect(await h.walletBalance(m, 'PARTY_SCORE')).toBe('-5.00');
    expect(await scoreOf(h.head.code, m, { year: 2026 })).toMatchObject({ total: '-5.00', breakdown: [{ category: 'party-negative', amount: '-5.00' }] });
  });
});

describe('the year a score belongs to', () => {
  it('is the year of occurredAt in the bank\'s time zone: 2025-12-31T16:30Z is 2026 in Shanghai', async () => {
    const m = await partyMember();
    expect((await award(m, 'party.class-attendance', '2025-12-31T16:30:00Z')).errors).toBeUndefined();
    expect((await award(m, 'party.class-attendance', '2025-12-31T15:30:00Z')).errors).toBeUndefined();
    expect(await scoreOf(h.head.code, m, { year: 2026 })).toMatchObject({ total: '2.00' });
    expect(await scoreOf(h.head.code, m, { year: 2025 })).toMatchObject({ total: '2.00' });
    expect(await scoreOf(h.head.code, m, { fromMonth: '2025-12', toMonth: '2026-01' })).toMatchObject({ total: '4.00' });
  });
});

describe('closing a score year', () => {
  it('refuses awards, deductions and claims dated in it for the subtree, and nothing else', async () => {
    const branch = await newBranch('closing');
    const inside = await partyMember(branch);
    const outside = await partyMember(h.branches[1]!);
    const closed = await h.gql(h.adminToken, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2024 } });
    expect(closed.errors).toBeUndefined();
    expect(closed.data.closeScoreYear.closure).toMatchObject({ year: 2024, branch: { code: branch.code }, closedBy: `admin-${h.tag}`, reopenedBy: null });
    const refused = await award(inside, 'party.class-attendance', '2024-06-01T02:00:00Z');
    expect(codes(refused)).toEqual(['INVALID_STATE']);
    expect(refused.errors![0]!.message).toContain('2024');
    expect(codes(await award(inside, 'party.negative-list.absence', '2024-06-01T02:00:00Z'))).toEqual(['INVALID_STATE']);
    // The same year elsewhere, another year here, and other assets in that year go through.
    expect((await award(outside, 'party.class-attendance', '2024-06-01T02:00:00Z')).errors).toBeUndefined();
    expect((await award(inside, 'party.class-attendance', '2025-06-01T02:00:00Z')).errors).toBeUndefined();
    expect((await award(inside, 'garbage.bin-duty', '2024-06-01T02:00:00Z')).errors).toBeUndefined();
    expect(await h.walletBalance(inside, 'PARTY_SCORE')).toBe('2.00');
    // Closing it again is refused; closing a year not begun is bad input.
    expect(codes(await h.gql(h.adminToken, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2024 } }))).toEqual(['INVALID_STATE']);
    expect(codes(await h.gql(h.adminToken, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2199 } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a reversal and an approval dated in a closed year', async () => {
    const branch = await newBranch('closing-now');
    const m = await partyMember(branch);
    const awarded = await award(m, 'party.class-attendance');
    expect(awarded.errors).toBeUndefined();
    const year = new Date().getUTCFullYear();
    expect((await h.gql(h.adminToken, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year } })).errors).toBeUndefined();
    const reversal = await h.gql(h.adminToken, `mutation($input: ReverseTransactionInput!) { reverseTransaction(input: $input) { transactionId } }`,
      { input: { idempotencyKey: h.key(), transaction: awarded.data.awardPoints.transaction.id, reason: 'entered twice' } });
    expect(codes(reversal)).toEqual(['INVALID_STATE']);
    expect(await h.walletBalance(m, 'PARTY_SCORE')).toBe('2.00');
  });

  it('is reopened only by the head bank, with a reason, and both acts are kept', async () => {
    const branch = await newBranch('reopen');
    const m = await partyMember(branch);
    const branchAdmin = h.token({ role: 'admin', branch: branch.code, sub: `${h.tag}-branch-admin` });
    expect((await h.gql(branchAdmin, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023 } })).errors).toBeUndefined();
    expect(codes(await h.gql(branchAdmin, reopenMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023, reason: 'typo' } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.adminToken, reopenMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023, reason: '' } }))).toEqual(['BAD_USER_INPUT']);
    const reopened = await h.gql(h.adminToken, reopenMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023, reason: '复核补录 late records' } });
    expect(reopened.data.reopenScoreYear.closure).toMatchObject({ year: 2023, closedBy: `${h.tag}-branch-admin`, reopenedBy: `admin-${h.tag}`, reopenReason: '复核补录 late records' });
    expect((await award(m, 'party.class-attendance', '2023-05-05T02:00:00Z')).errors).toBeUndefined();
    expect(codes(await h.gql(h.adminToken, reopenMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023, reason: 'again' } }))).toEqual(['INVALID_STATE']);
    expect((await h.gql(branchAdmin, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2023 } })).errors).toBeUndefined();
    const history = await h.gql(h.adminToken, `query($b: String!) { scoreYearClosures(branch: $b) { year closedBy reopenedBy reopenReason } }`, { b: branch.code });
    expect(history.data.scoreYearClosures).toEqual([
      { year: 2023, closedBy: `${h.tag}-branch-admin`, reopenedBy: null, reopenReason: null },
      { year: 2023, closedBy: `${h.tag}-branch-admin`, reopenedBy: `admin-${h.tag}`, reopenReason: '复核补录 late records' },
    ]);
    expect(codes(await award(m, 'party.class-attendance', '2023-06-05T02:00:00Z'))).toEqual(['INVALID_STATE']);
  });

  it('waits for a write dated in the year that is still running: no award lands after the close', async () => {
    const branch = await newBranch('race');
    const ms = await Promise.all(Array.from({ length: 20 }, () => partyMember(branch)));
    const answers = await Promise.all([
      ...ms.map((m) => award(m, 'party.class-attendance', '2022-04-04T02:00:00Z')),
      h.gql(h.adminToken, closeMutation, { input: { idempotencyKey: h.key(), branch: branch.code, year: 2022 } }),
    ]);
    expect(answers.at(-1)!.errors).toBeUndefined();
    const { rows } = await h.bank.knex.raw(`
      SELECT count(*)::int AS n FROM transactions t JOIN score_year_closures c ON c.head_id = t.head_id AND c.branch_id = ? AND c.year = 2022
       WHERE t.head_id = ? AND t.recorded_at > c.closed_at AND t.member_id = ANY (?::bigint[])`, [branch.id, h.head.id, ms]);
    expect(rows[0].n).toBe(0);
    const refusedAfter = answers.slice(0, -1).filter((a) => a.errors);
    expect(refusedAfter.flatMap(codes).every((c) => c === 'INVALID_STATE')).toBe(true);
  });
});
