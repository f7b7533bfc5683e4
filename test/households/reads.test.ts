// Household reads (户): the household leaderboard of a branch and period equals the household wallets'
// postings summed by household, also right after an award (the award still in the journal's unfolded
// tail) and after the settler's fold; branchStats counts the branch's households; party members'
// households (党员包户) are linked and unlinked with history, and show beside party scores without
// changing any score.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codes, foldEverything, startHarness, type Harness } from '../support/harness.js';
import { computeNoticeBoard } from '../../src/reports/noticeBoard.js';
import { insertChildBranch } from '../../src/directory/branches.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';

let h: Harness;
let pool: pg.Pool;

const upsert = `mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { household { id externalId } } }`;
const award = `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`;
const boardQ = `query($b: String!, $p: ReportPeriod!, $n: Int) { householdLeaderboard(branch: $b, asset: POINTS, period: $p, first: $n) {
  household { id externalId name } total rank } }`;
const link = `mutation($i: PartyMemberHouseholdsInput!) { linkPartyMemberHouseholds(input: $i) { member { externalId } links { household { externalId } linkedBy unlinkedAt } } }`;
const unlink = `mutation($i: PartyMemberHouseholdsInput!) { unlinkPartyMemberHouseholds(input: $i) { links { household { externalId } } } }`;

/** A household rule: 2.50 POINTS a unit to the member's household. */
const householdRule = 'garbage.household-reads';

/** The month of now in the head bank's time zone, as reports count it. */
function monthNow(): string {
  const [year, month] = new Intl.DateTimeFormat('en-CA', { timeZone: h.head.timeZone, year: 'numeric', month: '2-digit' }).format(new Date()).split('-');
  return `${year}-${month}`;
}
const thisMonth = () => ({ fromMonth: monthNow(), toMonth: monthNow() });

async function member(branch = h.branches[0]!, party = false) {
  const externalId = `m-${h.key()}`;
  return { id: await h.addMember(externalId, branch, { party }), externalId };
}

/** A household of `size` new members of the branch (the first one its head). */
async function household(branch = h.branches[0]!, size = 2, name?: string) {
  const members = [];
  for (let i = 0; i < size; i++) members.push(await member(branch));
  const externalId = `hh-${h.key()}`;
  const res = await h.gql(h.adminToken, upsert, { i: { idempotencyKey: h.key(), externalId, branch: branch.code, name: name ?? `户 ${externalId.slice(-6)}`,
    head: members[0]!.externalId, members: members.map((m, i) => ({ externalId: m.externalId, adult: i === 0 })) } });
  expect(res.errors).toBeUndefined();
  return { id: res.data.upsertHousehold.household.id as string, externalId, members };
}

async function awardHousehold(memberId: string, quantity = '1') {
  const res = await h.gql(h.clientToken, award, { i: { idempotencyKey: h.key(), memberId, rule: householdRule, quantity } });
  expect(res.errors).toBeUndefined();
}

/** POINTS posted on the household wallets of a branch subtree in this month, by household, from postings. */
async function householdSumsFromPostings(branchId: string | null): Promise<Map<string, string>> {
  const { rows } = await h.bank.knex.raw(`
    SELECT a.owner_id::text AS household_id, sum(p.amount)::numeric(30, 2)::text AS total
      FROM accounts a
      JOIN households hh ON hh.head_id = a.head_id AND hh.id = a.owner_id
      JOIN branches b ON b.id = hh.branch_id
      JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
      JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
      JOIN branches hb ON hb.id = t.head_id
     WHERE a.head_id = :head AND a.owner_type = 'HOUSEHOLD' AND a.asset_code = 'POINTS' AND t.status = 'POSTED'
       AND to_char(t.occurred_at AT TIME ZONE hb.time_zone, 'YYYY-MM') = :month
       AND (:branch::bigint IS NULL OR b.path LIKE (SELECT path FROM branches WHERE id = :branch::bigint) || '%')
     GROUP BY 1`, { head: h.head.id, month: monthNow(), branch: branchId });
  return new Map(rows.map((r: any) => [r.household_id, r.total]));
}

async function leaderboardOf(branch: string, first = 200): Promise<Map<string, string>> {
  const res = await h.gql(h.adminToken, boardQ, { b: branch, p: thisMonth(), n: first });
  expect(res.errors).toBeUndefined();
  return new Map(res.data.householdLeaderboard.map((e: any) => [e.household.id, e.total]));
}

beforeAll(async () => {
  h = await startHarness();
  pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 3 });
  const rule = await h.gql(h.adminToken, `mutation($i: DefineRuleInput!) { defineRule(input: $i) { rule { code beneficiary } } }`, { i: {
    idempotencyKey: h.key(), branch: h.head.code, code: householdRule, name: '户分类 Household sorting', category: 'garbage', beneficiary: 'HOUSEHOLD',
    outputs: [{ asset: 'POINTS', amountPerUnit: '2.50', direction: 'CREDIT' }] } });
  expect(rule.errors).toBeUndefined();
});

afterAll(async () => {
  await pool.end();
  await h.checkInvariants();
  await h.close();
});

describe('householdLeaderboard', () => {
  it('equals the household wallets\' postings summed by household, right after an award and after the fold, ranked with ties shared', async () => {
    const [a, b, c, d] = [await household(), await household(), await household(), await household(h.branches[1]!)];
    await awardHousehold(a.members[0]!.id, '4');
    await awardHousehold(a.members[1]!.id, '1');
    await awardHousehold(b.members[1]!.id, '2');
    await awardHousehold(c.members[0]!.id, '2');
    await awardHousehold(d.members[0]!.id, '9');
    await foldEverything(h.bank, h.head.id);
    const folded = await h.bank.knex('household_rollups').where({ head_id: h.head.id, household_id: a.id, asset_code: 'POINTS' }).sum({ s: 'amount' }).first();
    expect(Number(folded!.s)).toBe(12.5);

    // Hold every folder off, so that the next awards stay in the tail when the board is read.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM rollup_fold FOR SHARE');
      await awardHousehold(b.members[0]!.id, '1');
      await awardHousehold(c.members[1]!.id, '1');
      const rolled = await h.bank.knex('household_rollups').where({ head_id: h.head.id, household_id: b.id }).sum({ s: 'amount' }).first();
      expect(Number(rolled!.s), 'the new award is in the tail, not the rollup').toBe(5);
      const res = await h.gql(h.adminToken, boardQ, { b: h.branches[0]!.code, p: thisMonth(), n: 200 });
      expect(res.errors).toBeUndefined();
      const rows = res.data.householdLeaderboard;
      expect(rows.slice(0, 3).map((r: any) => [r.household.externalId, r.total, r.rank])).toEqual([
        [a.externalId, '12.50', 1], [b.externalId, '7.50', 2], [c.externalId, '7.50', 2]]);
      expect(rows.find((r: any) => r.household.id === d.id), 'another branch\'s household').toBeUndefined();
      expect(await leaderboardOf(h.branches[0]!.code)).toEqual(await householdSumsFromPostings(h.branches[0]!.id));
      expect(await leaderboardOf(h.head.code)).toEqual(await householdSumsFromPostings(null));
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await foldEverything(h.bank, h.head.id);
    expect(await leaderboardOf(h.head.code)).toEqual(await householdSumsFromPostings(null));
    // Once folded, the rollup alone holds every household posting, once.
    const { rows: diff } = await h.bank.knex.raw(`
      SELECT a.owner_id, sum(p.amount) FROM accounts a JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
        JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
       WHERE a.head_id = ? AND a.owner_type = 'HOUSEHOLD' AND t.status = 'POSTED' GROUP BY 1
      EXCEPT SELECT r.household_id, sum(r.amount) FROM household_rollups r WHERE r.head_id = ? GROUP BY 1`, [h.head.id, h.head.id]);
    expect(diff).toEqual([]);
  });

  it('the rollup check (run at the end of every test file) finds a household row that the postings do not make', async () => {
    const [a] = [await household()];
    expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([]);
    const stray = { head_id: h.head.id, household_id: a.id, asset_code: 'POINTS', month: '2001-01-01', kind: 'EARN', amount: '1.00', postings: 1 };
    await h.bank.knex('household_rollups').insert(stray);
    try {
      expect(await findRollupMismatches(h.bank, h.head.id)).toEqual([expect.objectContaining({
        rollup: 'household_rollups', householdId: a.id, asset: 'POINTS', period: '2001-01-01', kind: 'EARN', fromPostings: null })]);
    } finally {
      await h.bank.knex('household_rollups').where({ head_id: h.head.id, household_id: a.id, month: '2001-01-01' }).delete();
    }
  });

  it('holds at most first places, and is for admins in scope', async () => {
    const res = await h.gql(h.adminToken, boardQ, { b: h.head.code, p: thisMonth(), n: 1 });
    expect(res.data.householdLeaderboard).toHaveLength(1);
    expect(codes(await h.gql(h.adminToken, boardQ, { b: h.head.code, p: thisMonth(), n: 0 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.clientToken, boardQ, { b: h.head.code, p: thisMonth() }))).toEqual(['FORBIDDEN']);
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `admin-b-${h.tag}` });
    expect(codes(await h.gql(branchAdmin, boardQ, { b: h.branches[0]!.code, p: thisMonth() }))).toEqual(['FORBIDDEN']);
  });
});

describe('branchStats households', () => {
  it('counts the subtree\'s households, the active ones and their wallets\' earnings in the period', async () => {
    const branch = h.branches[2]!;
    const [a, b] = [await household(branch), await household(branch)];
    await household(branch);
    await awardHousehold(a.members[0]!.id, '2');
    await awardHousehold(b.members[1]!.id, '1');
    const q = `query($b: String!, $p: ReportPeriod!) { branchStats(branch: $b, period: $p) { households { households activeHouseholds
      assets { asset earned net activeHouseholds } } } }`;
    for (const period of [thisMonth(), { year: Number(monthNow().slice(0, 4)) }]) {
      const res = await h.gql(h.adminToken, q, { b: branch.code, p: period });
      expect(res.errors).toBeUndefined();
      const stats = res.data.branchStats.households;
      expect(stats).toMatchObject({ households: 3, activeHouseholds: 2 });
      expect(stats.assets.find((x: any) => x.asset === 'POINTS')).toEqual({ asset: 'POINTS', earned: '7.50', net: '7.50', activeHouseholds: 2 });
    }
  });
});

describe('the notice board', () => {
  it('shows the month\'s households of the opted-in branches by their points, names masked, none without a gain', async () => {
    // A branch of its own, opted in.
    const board = await h.bank.knex.transaction((trx) => insertChildBranch(trx, h.head, { code: `${h.tag}-board`, name: '东村', allowGifting: true }));
    h.bank.branches.remember(board);
    const [a, b] = [await household(board, 1, '欧阳家'), await household(board, 1, '王家')];
    await household(board, 1, '李家'); // no points this month: not on the board
    await awardHousehold(a.members[0]!.id, '4');
    await awardHousehold(b.members[0]!.id, '1');
    await h.bank.knex('branches').where({ id: board.id }).update({ notice_board: true });
    const shown = (await computeNoticeBoard(h.bank, board))!.households;
    expect(shown).toEqual([
      { rank: 1, name: '欧*家', branchName: board.name, amount: '10.00' }, { rank: 2, name: '王*', branchName: board.name, amount: '2.50' }]);
  });
});

describe('party members\' households (包户)', () => {
  it('links and unlinks with history, idempotently, and refuses a member who is not a party member', async () => {
    const party = await member(h.branches[0]!, true);
    const [a, b] = [await household(), await household()];
    const first = await h.gql(h.adminToken, link, { i: { member: party.externalId, households: [a.externalId, b.externalId] } });
    expect(first.errors).toBeUndefined();
    expect(first.data.linkPartyMemberHouseholds.links.map((l: any) => l.household.externalId).sort()).toEqual([a.externalId, b.externalId].sort());
    const again = await h.gql(h.adminToken, link, { i: { member: party.externalId, households: [a.externalId] } });
    expect(again.data.linkPartyMemberHouseholds.links).toHaveLength(2);
    const after = await h.gql(h.adminToken, unlink, { i: { member: party.externalId, households: [a.externalId] } });
    expect(after.data.unlinkPartyMemberHouseholds.links.map((l: any) => l.household.externalId)).toEqual([b.externalId]);
    await h.gql(h.adminToken, link, { i: { member: party.externalId, households: [a.externalId] } });
    const history = await h.gql(h.adminToken, `query($x: String!) { household(externalId: $x) { partyMemberLinks(history: true) {
      member { externalId } unlinkedAt unlinkedBy } } }`, { x: a.externalId });
    const links = history.data.household.partyMemberLinks;
    expect(links).toHaveLength(2);
    expect(links[0]).toMatchObject({ member: { externalId: party.externalId }, unlinkedBy: `admin-${h.tag}` });
    expect(links[1]).toMatchObject({ unlinkedAt: null });

    const plain = await member();
    const refused = await h.gql(h.adminToken, link, { i: { member: plain.externalId, households: [a.externalId] } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, link, { i: { member: party.externalId, households: ['no-such-household'] } }))).toEqual(['NOT_FOUND']);
    expect(codes(await h.gql(h.clientToken, link, { i: { member: party.externalId, households: [a.externalId] } }))).toEqual(['FORBIDDEN']);
    const otherAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `admin-b-${h.tag}` });
    expect(codes(await h.gql(otherAdmin, link, { i: { member: party.externalId, households: [a.externalId] } }))).toEqual(['FORBIDDEN']);
    // The refusals wrote nothing: the three links above are all there are.
    expect((await h.bank.knex('party_member_households').where({ head_id: h.head.id }).whereIn('member_id', [party.id, plain.id])
      .count('* as n').first())!.n).toBe('3');
  });

  it('shows the households beside party scores without changing any score', async () => {
    const branch = h.branches[1]!;
    const [p1, p2] = [await member(branch, true), await member(branch, true)];
    for (const p of [p1, p2]) {
      const res = await h.gql(h.clientToken, award, { i: { idempotencyKey: h.key(), memberId: p.id, rule: 'party.class-attendance' } });
      expect(res.errors).toBeUndefined();
    }
    const scoresQ = `query($b: String!, $p: ReportPeriod!) { partyScores(branch: $b, period: $p) { totalCount edges { node {
      member { externalId } total rank breakdown { category amount } } } } }`;
    const scores = async () => (await h.gql(h.adminToken, scoresQ, { b: branch.code, p: thisMonth() })).data.partyScores;
    const before = await scores();
    const [a, b] = [await household(branch), await household(branch)];
    await h.gql(h.adminToken, link, { i: { member: p1.externalId, households: [a.externalId, b.externalId] } });
    await awardHousehold(a.members[0]!.id, '3');
    expect(await scores()).toEqual(before);
    const withContext = await h.gql(h.adminToken, `query($b: String!, $p: ReportPeriod!) { partyScores(branch: $b, period: $p) { edges { node {
      member { externalId } total households { asset linked active amount } } } } }`, { b: branch.code, p: thisMonth() });
    expect(withContext.errors).toBeUndefined();
    const byMember = new Map(withContext.data.partyScores.edges.map((e: any) => [e.node.member.externalId, e.node]));
    expect(byMember.get(p1.externalId)).toMatchObject({ total: '2.00', households: { asset: 'POINTS', linked: 2, active: 1, amount: '7.50' } });
    expect(byMember.get(p2.externalId)).toMatchObject({ total: '2.00', households: { asset: 'POINTS', linked: 0, active: 0, amount: '0.00' } });
  });
});
