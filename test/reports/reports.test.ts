// Period reports read rollups, never raw postings; these tests compute every report a second way,
// directly from POSTED postings, on the same data (two years of awards, deductions, transfers, an
// adjustment and a reversal over a branch tree), and check they agree. Also: nested fields are
// batched (the statements of a 200-member report do not grow with its members), access, and the
// CSV export parsed back.
import request from 'supertest';
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type Harness } from '../support/harness.js';
import type { Branch } from '../../src/directory/branches.js';

let h: Harness;
let grandchild: Branch;
const party: string[] = [];
const volunteers: string[] = [];
const everyone: string[] = [];

const batchMutation = `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { succeeded failed results { transactionId error { code message } } } }`;

/** A small deterministic generator, so that a failure can be replayed. */
function generator(seed: number) {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
}

beforeAll(async () => {
  h = await startHarness({ poolSize: 10 });
  const created = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { code } } }`,
    { input: { idempotencyKey: h.key(), parent: h.branches[0]!.code, code: `${h.tag}-a1`, name: '一网格 Grid 1' } });
  expect(created.errors).toBeUndefined();
  grandchild = await h.bank.branches.require(`${h.tag}-a1`);
  const homes = [h.branches[0]!, h.branches[1]!, h.branches[2]!, grandchild];
  for (let i = 0; i < 16; i++) {
    const isParty = i % 2 === 0;
    const isVolunteer = i % 3 === 0;
    const id = await h.addMember(`${h.tag}-r${i}`, homes[i % 4]!, { party: isParty, volunteer: isVolunteer });
    everyone.push(id);
    if (isParty) party.push(id);
    if (isVolunteer) volunteers.push(id);
  }
  await h.bank.knex('members').where({ head_id: h.head.id, id: party[0] }).update({ name: '王伟, "老王"' });
  await h.bank.knex('members').where({ head_id: h.head.id, id: party[2] }).update({ name: '=HYPERLINK("x")' });
  const random = generator(42);
  const awards: object[] = [];
  for (let day = 0; day < 700; day += 3) {
    const occurredAt = new Date(Date.UTC(2025, 0, 1, 2) + day * 86_400_000 + Math.floor(random() * 86_400_000)).toISOString();
    if (new Date(occurredAt) > new Date()) break;
    const member = everyone[Math.floor(random() * everyone.length)]!;
    const roll = random();
    const rule = party.includes(member)
      ? (roll < 0.5 ? 'party.class-attendance' : roll < 0.65 ? 'party.negative-list.absence' : 'garbage.sorted-drop')
      : (volunteers.includes(member) && roll < 0.6 ? 'volunteer.hour' : 'garbage.bin-duty');
    awards.push({ idempotencyKey: h.key(), memberId: member, rule, occurredAt, quantity: rule === 'volunteer.hour' ? String(1 + Math.floor(roll * 4)) : '1' });
  }
  const res = await h.gql(h.adminToken, batchMutation, { input: { awards } });
  expect(res.errors).toBeUndefined();
  expect(res.data.awardPointsBatch.failed).toBe(0);
  // Other writers: a transfer, an adjustment of a score, a reversal of a class attendance.
  const gifts = await h.gql(h.adminToken, `mutation($input: TransferPointsInput!) { transferPoints(input: $input) { transactionId } }`,
    { input: { idempotencyKey: h.key(), from: { id: everyone[1] }, to: { id: everyone[2] }, amount: '1.00' } });
  expect(gifts.errors).toBeUndefined();
  const adjusted = await h.gql(h.adminToken, `mutation($input: AdjustBalanceInput!) { adjustBalance(input: $input) { transactionId } }`,
    { input: { idempotencyKey: h.key(), member: { id: party[2] }, asset: 'PARTY_SCORE', amount: '-1.50', reason: '年终评议 year-end review' } });
  expect(adjusted.errors).toBeUndefined();
  const attendance = res.data.awardPointsBatch.results.find((_: any, i: number) => (awards[i] as any).rule === 'party.class-attendance');
  const reversed = await h.gql(h.adminToken, `mutation($input: ReverseTransactionInput!) { reverseTransaction(input: $input) { transactionId } }`,
    { input: { idempotencyKey: h.key(), transaction: attendance.transactionId, reason: 'did not attend', force: true } });
  expect(reversed.errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

// ---- the direct computations, from postings ----

/** Per member wallet posting of POSTED transactions: member, branch path, asset, month (bank time zone), kind, category, amount. */
const directPostings = `
  SELECT a.owner_id::text AS member_id, m.is_party_member, b.path, p.asset_code, t.kind,
         to_char(t.occurred_at AT TIME ZONE hb.time_zone, 'YYYY-MM') AS month,
         coalesce(r.category, orr.category, lower(o.kind), lower(t.kind)) AS category, p.amount
    FROM postings p
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id AND t.status = 'POSTED'
    JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
    JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id
    JOIN branches b ON b.id = m.branch_id
    JOIN branches hb ON hb.id = p.head_id
    LEFT JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
    LEFT JOIN transactions o ON o.head_id = t.head_id AND o.id = t.reverses_id
    LEFT JOIN rules orr ON orr.head_id = o.head_id AND orr.id = o.rule_id
   WHERE p.head_id = ?`;

interface Direct { member_id: string; is_party_member: boolean; path: string; asset_code: string; kind: string; month: string; category: string; amount: string }

async function direct(): Promise<Direct[]> {
  return (await h.bank.knex.raw(directPostings, [h.head.id])).rows;
}

function inPeriod(d: Direct, from: string, to: string): boolean {
  return d.month >= from && d.month <= to;
}

function sum(rows: Direct[]): Decimal {
  return rows.reduce((s, r) => s.plus(r.amount), new Decimal(0));
}

function ranks(totals: Decimal[]): number[] {
  return totals.map((t) => 1 + totals.filter((o) => o.gt(t)).length);
}

async function partyMembersOf(branch: Branch): Promise<{ id: string }[]> {
  return (await h.bank.knex.raw(`SELECT m.id::text AS id FROM members m JOIN branches b ON b.id = m.branch_id
     WHERE m.head_id = ? AND m.is_party_member AND b.path LIKE ?`, [h.head.id, `${branch.path}%`])).rows;
}

const scoresQuery = `query($branch: String!, $period: ReportPeriod!, $first: Int, $after: String) {
  partyScores(branch: $branch, period: $period, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { member { id externalId name } total rank breakdown { category amount } } } } }`;

/**
 * Periods every report is checked over, with data in 2025 and 2026: a year (read from the yearly
 * rollups), months inside and across years (monthly rollups), months then a whole year, and two
 * whole years given as months (both rollups, sql/scope.ts).
 */
const periods = [
  ['the year 2025', { year: 2025 }, '2025-01', '2025-12'],
  ['the year 2026', { year: 2026 }, '2026-01', '2026-12'],
  ['the months 2025-04 to 2025-09', { fromMonth: '2025-04', toMonth: '2025-09' }, '2025-04', '2025-09'],
  ['the months 2025-11 to 2026-02', { fromMonth: '2025-11', toMonth: '2026-02' }, '2025-11', '2026-02'],
  ['the months 2025-04 to 2026-12', { fromMonth: '2025-04', toMonth: '2026-12' }, '2025-04', '2026-12'],
  ['the months 2025-01 to 2026-12', { fromMonth: '2025-01', toMonth: '2026-12' }, '2025-01', '2026-12'],
] as const;

describe('party scores', () => {
  for (const [label, period, from, to] of periods) {
    it(`equal the direct computation from postings for the head bank, a branch and a grid, for ${label}`, async () => {
      const rows = await direct();
      for (const branch of [h.head, h.branches[0]!, grandchild]) {
        const res = await h.gql(h.adminToken, scoresQuery, { branch: branch.code, period, first: 200 });
        expect(res.errors).toBeUndefined();
        const members = await partyMembersOf(branch);
        const expected = members.map(({ id }) => {
          const mine = rows.filter((r) => r.member_id === id && r.asset_code === 'PARTY_SCORE' && inPeriod(r, from, to));
          const categories = [...new Set(mine.map((r) => r.category))].sort();
          return { id, total: sum(mine), breakdown: categories.map((c) => ({ category: c, amount: sum(mine.filter((r) => r.category === c)).toFixed(2) })) };
        });
        const expectedRanks = ranks(expected.map((e) => e.total));
        const got = res.data.partyScores.edges.map((e: any) => e.node);
        expect(res.data.partyScores.totalCount).toBe(members.length);
        expect(got.map((n: any) => ({ id: n.member.id, total: n.total, rank: n.rank, breakdown: n.breakdown })).sort((a: any, b: any) => a.id.localeCompare(b.id)))
          .toEqual(expected.map((e, i) => ({ id: e.id, total: e.total.toFixed(2), rank: expectedRanks[i], breakdown: e.breakdown })).sort((a, b) => a.id.localeCompare(b.id)));
        // Sorted by total, highest first.
        const totals = got.map((n: any) => new Decimal(n.total));
        expect(totals.every((t: Decimal, i: number) => i === 0 || totals[i - 1].gte(t))).toBe(true);
      }
    });
  }

  it('pages through every party member exactly once', async () => {
    const all = await h.gql(h.adminToken, scoresQuery, { branch: h.head.code, period: { year: 2025 }, first: 200 });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await h.gql(h.adminToken, scoresQuery, { branch: h.head.code, period: { year: 2025 }, first: 3, after });
      seen.push(...page.data.partyScores.edges.map((e: any) => e.node.member.id));
      if (!page.data.partyScores.pageInfo.hasNextPage) break;
      after = page.data.partyScores.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.data.partyScores.edges.map((e: any) => e.node.member.id));
  });

  it('are read by admins of the branch or above only, and check their period', async () => {
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `${h.tag}-admin-b` });
    const member = h.token({ role: 'member', member: party[0], sub: `${h.tag}-member` });
    expect(codes(await h.gql(branchAdmin, scoresQuery, { branch: h.branches[0]!.code, period: { year: 2025 } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(h.clientToken, scoresQuery, { branch: h.head.code, period: { year: 2025 } }))).toEqual(['FORBIDDEN']);
    expect(codes(await h.gql(member, scoresQuery, { branch: h.head.code, period: { year: 2025 } }))).toEqual(['FORBIDDEN']);
    expect((await h.gql(branchAdmin, scoresQuery, { branch: h.branches[1]!.code, period: { year: 2025 } })).errors).toBeUndefined();
    expect(codes(await h.gql(h.adminToken, scoresQuery, { branch: h.head.code, period: { year: 2025, fromMonth: '2025-01' } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, scoresQuery, { branch: h.head.code, period: { fromMonth: '2025-05', toMonth: '2025-01' } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(h.adminToken, scoresQuery, { branch: h.head.code, period: { fromMonth: '2025-13', toMonth: '2026-01' } }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('leaderboards', () => {
  for (const [label, period, from, to] of periods) it(`equal the direct computation for volunteer hours and points, with shared ranks, for ${label}`, async () => {
    const rows = await direct();
    for (const [asset, branch] of [['VOLUNTEER_HOURS', h.head], ['POINTS', h.branches[0]!], ['POINTS', h.head]] as const) {
      const res = await h.gql(h.adminToken, `query($b: String!, $a: AssetCode!, $p: ReportPeriod!) { leaderboard(branch: $b, asset: $a, period: $p, first: 200) {
        member { id } total rank } }`, { b: branch.code, a: asset, p: period });
      expect(res.errors).toBeUndefined();
      const mine = rows.filter((r) => r.asset_code === asset && inPeriod(r, from, to) && r.path.startsWith(branch.path));
      const ids = [...new Set(mine.map((r) => r.member_id))];
      const totals = ids.map((id) => sum(mine.filter((r) => r.member_id === id)));
      const expectedRanks = ranks(totals);
      const expected = ids.map((id, i) => ({ member: { id }, total: totals[i]!.toFixed(2), rank: expectedRanks[i] }));
      const byId = (a: any, b: any) => a.member.id.localeCompare(b.member.id);
      expect([...res.data.leaderboard].sort(byId)).toEqual(expected.sort(byId));
    }
  });
});

const branchStatsQuery = `query($b: String!, $p: ReportPeriod!) { branchStats(branch: $b, period: $p) {
  branch { code } assets { asset issued deducted redeemed reversed outstanding activeMembers }
  children { branch { code } assets { asset issued deducted redeemed reversed outstanding activeMembers } } } }`;

/** branchStats' figures for a branch subtree (path) and a period (first and last month), computed from postings. */
function expectedBranchStats(rows: Direct[], path: string, from: string, to: string) {
  return ['PARTY_SCORE', 'POINTS', 'VOLUNTEER_HOURS'].map((asset) => {
    const mine = rows.filter((r) => r.asset_code === asset && r.path.startsWith(path));
    const period = mine.filter((r) => inPeriod(r, from, to));
    return {
      asset,
      issued: sum(period.filter((r) => r.kind === 'EARN')).toFixed(2),
      deducted: sum(period.filter((r) => r.kind === 'DEDUCT')).negated().toFixed(2),
      redeemed: sum(period.filter((r) => r.kind === 'REDEEM')).negated().toFixed(2),
      reversed: sum(period.filter((r) => r.kind === 'REVERSAL')).toFixed(2),
      // What members held at the end of the period: everything dated up to its last month.
      outstanding: sum(mine.filter((r) => r.month <= to)).toFixed(2),
      activeMembers: new Set(period.map((r) => r.member_id)).size,
    };
  });
}

/** branchStats of the head bank, each child branch, and a branch (whose members are probed one by one) and its child, the grid, against postings. */
async function expectBranchStatsAsPostings(period: object, from: string, to: string): Promise<any> {
  const rows = await direct();
  const res = await h.gql(h.adminToken, branchStatsQuery, { b: h.head.code, p: period });
  expect(res.errors).toBeUndefined();
  expect(res.data.branchStats.assets).toEqual(expectedBranchStats(rows, h.head.path, from, to));
  expect(res.data.branchStats.children.map((c: any) => c.branch.code)).toEqual(h.branches.map((b) => b.code));
  for (const child of res.data.branchStats.children) {
    expect(child.assets).toEqual(expectedBranchStats(rows, (await h.bank.branches.require(child.branch.code)).path, from, to));
  }
  const branch = await h.gql(h.adminToken, branchStatsQuery, { b: h.branches[0]!.code, p: period });
  expect(branch.errors).toBeUndefined();
  expect(branch.data.branchStats.assets).toEqual(expectedBranchStats(rows, h.branches[0]!.path, from, to));
  expect(branch.data.branchStats.children.map((c: any) => [c.branch.code, c.assets]))
    .toEqual([[grandchild.code, expectedBranchStats(rows, grandchild.path, from, to)]]);
  return res.data.branchStats;
}

describe('branch statistics', () => {
  // Outstanding is today's balances less what is dated after the period: also periods before any
  // movement, after now, and across now.
  const branchStatsPeriods = [
    ...periods,
    ['the year 2024, before any movement', { year: 2024 }, '2024-01', '2024-12'],
    ['the year 2027, after now', { year: 2027 }, '2027-01', '2027-12'],
    ['the months 2026-10 to 2027-03, across now', { fromMonth: '2026-10', toMonth: '2027-03' }, '2026-10', '2027-03'],
  ] as const;
  for (const [label, period, from, to] of branchStatsPeriods) it(`equal the direct computation for the head bank, each child branch and a branch's children, for ${label}`, async () => {
    const head = await expectBranchStatsAsPostings(period, from, to);
    // Each shared period has deductions: the comparison is not of zeros.
    if (periods.some(([shared]) => shared === label)) expect(head.assets.find((a: any) => a.asset === 'PARTY_SCORE').deducted).not.toBe('0.00');
  });

  it('count a member that moved branch in its new branch, with all its history and its balance, in the past and now', async () => {
    const member = (await h.bank.knex('members').where({ head_id: h.head.id, id: everyone[1] }).first())!;
    expect(String(member.branch_id)).toBe(h.branches[1]!.id);
    const moveTo = async (branch: Branch) => {
      const res = await h.gql(h.adminToken, `mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { member { branch { code } } } }`,
        { input: { idempotencyKey: h.key(), externalId: member.external_id, branch: branch.code, name: member.name } });
      expect(res.errors).toBeUndefined();
      expect(res.data.upsertMember.member.branch.code).toBe(branch.code);
    };
    await moveTo(grandchild);
    try {
      for (const [, period, from, to] of [periods[0], periods[1], periods[3]]) await expectBranchStatsAsPostings(period, from, to);
    } finally {
      await moveTo(h.branches[1]!);
    }
  });
});

describe('a member statement', () => {
  it('totals and lists the period\'s movements as the postings do', async () => {
    const rows = await direct();
    const member = party[2]!;
    const res = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { statement(period: {year: 2026}) {
      from to totals { asset opening net closing postings } movements { transactionId kind asset amount category } movementsTruncated } } }`, { id: member });
    expect(res.errors).toBeUndefined();
    const statement = res.data.member.statement;
    expect(statement).toMatchObject({ from: '2026-01-01', to: '2027-01-01', movementsTruncated: false });
    const mine = rows.filter((r) => r.member_id === member);
    for (const total of statement.totals) {
      const asset = mine.filter((r) => r.asset_code === total.asset);
      const period = asset.filter((r) => inPeriod(r, '2026-01', '2026-12'));
      expect(total).toEqual({
        asset: total.asset, opening: sum(asset.filter((r) => r.month < '2026-01')).toFixed(2), net: sum(period).toFixed(2),
        closing: sum(asset.filter((r) => r.month <= '2026-12')).toFixed(2), postings: period.length,
      });
      expect(sum(statement.movements.filter((l: any) => l.asset === total.asset)).toFixed(2)).toBe(total.net);
    }
    expect(statement.movements.some((l: any) => l.kind === 'ADJUST' && l.amount === '-1.50' && l.category === 'adjust')).toBe(true);
    const own = h.token({ role: 'member', member, sub: `${h.tag}-own` });
    expect((await h.gql(own, `query($id: ID!) { member(id: $id) { statement(period: {year: 2026}) { from } } }`, { id: member })).errors).toBeUndefined();
  });
});

describe('nested fields of a report', () => {
  it('are batched: a 200-member report runs as many SQL statements as a 20-member one', async () => {
    const res = await h.gql(h.adminToken, `mutation($input: CreateBranchInput!) { createBranch(input: $input) { branch { code } } }`,
      { input: { idempotencyKey: h.key(), parent: h.head.code, code: `${h.tag}-big`, name: 'Big branch' } });
    expect(res.errors).toBeUndefined();
    const big = await h.bank.branches.require(`${h.tag}-big`);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await h.addMember(`${h.tag}-big${i}`, big, { party: true }));
    const awarded = await h.gql(h.adminToken, batchMutation, { input: { awards: ids.map((memberId, i) => ({
      idempotencyKey: h.key(), memberId, rule: i % 5 ? 'party.class-attendance' : 'party.negative-list.absence', occurredAt: '2026-02-02T02:00:00Z' })) } });
    expect(awarded.data.awardPointsBatch.failed).toBe(0);
    const report = `query($b: String!, $first: Int) { partyScores(branch: $b, period: {year: 2026}, first: $first) { edges { node {
      total rank member { externalId branch { code parent { code } } accounts { asset balance } balance(asset: PARTY_SCORE) } } } } }`;
    const statementsOf = (first: number) => h.statementsOf(async () => {
      const answer = await h.gql(h.adminToken, report, { b: big.code, first });
      expect(answer.errors).toBeUndefined();
      expect(answer.data.partyScores.edges).toHaveLength(first);
    });
    const small = await statementsOf(20);
    const large = await statementsOf(200);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(4);
  });
});

/** A CSV parser for the test (RFC 4180: quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\r') continue;
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

describe('the party-score CSV export', () => {
  function download(query: string, token: string | null = h.adminToken) {
    const req = request(h.url).get(`/exports/party-scores.csv?${query}`).buffer(true)
      .parse((res, done) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => done(null, Buffer.concat(chunks))); });
    if (token) req.set('authorization', `Bearer ${token}`);
    return req;
  }

  it('streams the report with a UTF-8 byte-order mark, one column per category, and parses back to partyScores', async () => {
    const res = await download(`branch=${h.branches[0]!.code}&year=2025`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    const body = res.body as Buffer;
    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const [header, ...lines] = parseCsv(body.subarray(3).toString('utf8'));
    const scores = await h.gql(h.adminToken, scoresQuery, { branch: h.branches[0]!.code, period: { year: 2025 }, first: 200 });
    const nodes = scores.data.partyScores.edges.map((e: any) => e.node);
    const categories = [...new Set(nodes.flatMap((n: any) => n.breakdown.map((b: any) => b.category)))].sort();
    expect(header).toEqual(['branch', 'member', 'external id', 'total', 'rank', ...categories]);
    expect(lines).toHaveLength(nodes.length);
    const branchCodes = new Map<string, string>();
    for (const [i, node] of nodes.entries()) {
      const member = await h.bank.knex('members').where({ head_id: h.head.id, id: node.member.id }).first('branch_id');
      const code = branchCodes.get(member.branch_id) ?? (await h.bank.branches.requireById(String(member.branch_id))).code;
      const name = node.member.name.startsWith('=') ? `'${node.member.name}` : node.member.name;
      expect(lines[i]).toEqual([code, name, node.member.externalId, node.total, String(node.rank),
        ...categories.map((c) => node.breakdown.find((b: any) => b.category === c)?.amount ?? '0.00')]);
    }
    expect(lines.some((l) => l[1] === '王伟, "老王"')).toBe(true);
    expect(lines.some((l) => l[1] === "'=HYPERLINK(\"x\")")).toBe(true);
  });

  it('answers 401 without a token, 403 outside the scope and 400 without a year', async () => {
    expect((await download(`branch=${h.head.code}&year=2025`, null)).status).toBe(401);
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `${h.tag}-admin-b` });
    expect((await download(`branch=${h.head.code}&year=2025`, branchAdmin)).status).toBe(403);
    expect((await download(`branch=${h.head.code}`)).status).toBe(400);
  });
});
