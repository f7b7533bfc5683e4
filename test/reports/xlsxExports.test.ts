// The .xlsx exports as an office reads them: each file, opened with exceljs (a reader this project
// did not write), has Chinese headers, a frozen header row, amounts as numbers with two-decimal
// formats, and the same figures the API answers; and each is refused outside the token's scope
// exactly as the CSV export is.
import request from 'supertest';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
const party: string[] = [];

beforeAll(async () => {
  h = await startHarness({ poolSize: 10 });
  for (let i = 0; i < 6; i++) party.push(await h.addMember(`${h.tag}-x${i}`, h.branches[i % 2]!, { party: i < 4, volunteer: true }));
  await h.bank.knex('members').where({ head_id: h.head.id, id: party[0] }).update({ name: '王伟' });
  const awards = party.flatMap((member, i) => [
    { idempotencyKey: h.key(), memberId: member, rule: 'party.class-attendance', occurredAt: `2025-03-0${i + 1}T02:00:00Z` },
    { idempotencyKey: h.key(), memberId: member, rule: 'volunteer.hour', quantity: `${i + 1}.25`, occurredAt: `2025-04-0${i + 1}T02:00:00Z`, memo: `清扫 ${i}` },
  ]);
  const res = await h.gql(h.adminToken, `mutation($input: AwardPointsBatchInput!) { awardPointsBatch(input: $input) { failed } }`, { input: { awards } });
  expect(res.errors).toBeUndefined();
  expect(res.data.awardPointsBatch.failed).toBe(0);
});

afterAll(async () => { await h.checkInvariants(); await h.close(); });

function download(path: string, token: string | null = h.adminToken) {
  const req = request(h.url).get(path).buffer(true)
    .parse((res, done) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => done(null, Buffer.concat(chunks))); });
  if (token) req.set('authorization', `Bearer ${token}`);
  return req;
}

async function workbookOf(path: string, token?: string): Promise<ExcelJS.Workbook> {
  const res = await download(path, token);
  expect(res.status, String(res.body)).toBe(200);
  expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  expect(res.headers['content-disposition']).toMatch(/^attachment; filename=".+\.xlsx"$/);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(res.body as Parameters<ExcelJS.Xlsx['load']>[0]);
  return workbook;
}

function headerOf(sheet: ExcelJS.Worksheet): unknown[] {
  return (sheet.getRow(1).values as unknown[]).slice(1);
}

/** The API's exact decimal string, from the cell's number and its format's two decimals. */
function shown(cell: ExcelJS.Cell): string {
  expect(typeof cell.value).toBe('number');
  expect(cell.numFmt).toBe('#,##0.00');
  return (cell.value as number).toFixed(2);
}

describe('the .xlsx exports', () => {
  it('party scores: Chinese headers, a frozen header row and names, two-decimal numbers equal to partyScores', async () => {
    const workbook = await workbookOf(`/exports/party-scores.xlsx?branch=${h.head.code}&year=2025`);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.name).toBe('党员积分 2025');
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1, xSplit: 2 });
    const api = await h.gql(h.adminToken, `query($b: String!) { partyScores(branch: $b, period: { year: 2025 }, first: 100) {
      edges { node { rank total member { name externalId branch { code } } breakdown { category amount } } } } }`, { b: h.head.code });
    const nodes = api.data.partyScores.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(4);
    const categories = [...new Set(nodes.flatMap((n: any) => n.breakdown.map((b: any) => b.category)))].sort();
    expect(headerOf(sheet)).toEqual(['支部', '姓名', '外部编号', '总分', '排名', ...categories]);
    expect(sheet.rowCount).toBe(1 + nodes.length);
    nodes.forEach((node: any, i: number) => {
      const row = sheet.getRow(i + 2);
      expect([row.getCell(1).value, row.getCell(2).value, row.getCell(3).value]).toEqual([node.member.branch.code, node.member.name, node.member.externalId]);
      expect(shown(row.getCell(4))).toBe(node.total);
      expect(row.getCell(5).value).toBe(node.rank);
      categories.forEach((c, k) => expect(shown(row.getCell(6 + k))).toBe(node.breakdown.find((b: any) => b.category === c)?.amount ?? '0.00'));
    });
    expect(nodes.map((n: any) => n.total)).toEqual(['2.00', '2.00', '2.00', '2.00']);
    expect(nodes.some((n: any) => n.member.name === '王伟')).toBe(true);
  });

  it('branch stats: the subtree (合计) and each child, per asset, equal to branchStats', async () => {
    const workbook = await workbookOf(`/exports/branch-stats.xlsx?branch=${h.head.code}&year=2025`);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(headerOf(sheet)).toEqual(['支部编码', '支部', '范围', '资产', '发放 issued', '扣减 deducted', '兑换 redeemed', '冲正 reversed', '余额 outstanding', '活跃储户']);
    const api = await h.gql(h.adminToken, `query($b: String!) { branchStats(branch: $b, period: { year: 2025 }) {
      assets { asset issued deducted redeemed reversed outstanding activeMembers }
      children { branch { code } assets { asset issued deducted redeemed reversed outstanding activeMembers } } } }`, { b: h.head.code });
    const stats = api.data.branchStats;
    const expected = [
      ...stats.assets.map((a: any) => [h.head.code, '合计', a]),
      ...stats.children.flatMap((c: any) => c.assets.map((a: any) => [c.branch.code, '下级', a])),
    ];
    expect(sheet.rowCount).toBe(1 + expected.length);
    expected.forEach(([code, scope, a]: any, i: number) => {
      const row = sheet.getRow(i + 2);
      expect([row.getCell(1).value, row.getCell(3).value, row.getCell(4).value]).toEqual([code, scope, a.asset]);
      expect([5, 6, 7, 8, 9].map((c) => shown(row.getCell(c)))).toEqual([a.issued, a.deducted, a.redeemed, a.reversed, a.outstanding]);
      expect(row.getCell(10).value).toBe(a.activeMembers);
    });
    const points = stats.assets.find((a: any) => a.asset === 'POINTS');
    expect(points.issued).toBe('225.00'); // 10 points an hour, 1.25 + 2.25 + … + 6.25 hours
    expect(stats.assets.find((a: any) => a.asset === 'VOLUNTEER_HOURS').issued).toBe('22.50');
  });

  it("a member's statement: totals and movements sheets equal to Member.statement, dates as the branch's wall clock", async () => {
    const member = party[1]!;
    const workbook = await workbookOf(`/exports/member-statement.xlsx?member=${member}&year=2025`);
    const [totals, movements] = workbook.worksheets;
    expect(totals!.name).toBe('汇总');
    expect(movements!.name).toBe('明细');
    expect(totals!.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(movements!.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(headerOf(totals!)).toEqual(['资产', '期初 opening', '变动 net', '期末 closing', '笔数']);
    expect(headerOf(movements!)).toEqual(['时间', '类型', '资产', '金额', '类别', '备注', '交易编号']);
    const api = await h.gql(h.adminToken, `query($id: ID!) { member(id: $id) { statement(period: { year: 2025 }) {
      totals { asset opening net closing postings } movements { transactionId kind occurredAt asset amount category memo } } } }`, { id: member });
    const statement = api.data.member.statement;
    expect(totals!.rowCount).toBe(1 + statement.totals.length);
    statement.totals.forEach((t: any, i: number) => {
      const row = totals!.getRow(i + 2);
      expect(row.getCell(1).value).toBe(t.asset);
      expect([2, 3, 4].map((c) => shown(row.getCell(c)))).toEqual([t.opening, t.net, t.closing]);
      expect(row.getCell(5).value).toBe(t.postings);
    });
    expect(movements!.rowCount).toBe(1 + statement.movements.length);
    expect(statement.movements.map((m: any) => m.amount).sort()).toEqual(['2.00', '2.25', '22.50']);
    statement.movements.forEach((m: any, i: number) => {
      const row = movements!.getRow(i + 2);
      expect([row.getCell(2).value, row.getCell(3).value, row.getCell(5).value, row.getCell(6).value ?? null, row.getCell(7).value])
        .toEqual([m.kind, m.asset, m.category, m.memo, m.transactionId]);
      expect(shown(row.getCell(4))).toBe(m.amount);
      // the cell's date is the wall clock in the bank's zone (Asia/Shanghai, +08:00): 02:00Z shows 10:00
      expect(h.head.timeZone).toBe('Asia/Shanghai');
      const at = row.getCell(1).value as Date;
      expect(at).toBeInstanceOf(Date);
      expect(row.getCell(1).numFmt).toBe('yyyy-mm-dd hh:mm:ss');
      expect(at.getTime() - new Date(m.occurredAt).getTime()).toBe(8 * 3_600_000);
    });
    expect(movements!.getRow(2).getCell(4).value).not.toBeNull();
  });

  it('is refused outside the scope exactly like the CSV: 401 without a token, 403 for another branch, 400 without a year', async () => {
    const branchAdmin = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `${h.tag}-admin-b` });
    for (const path of ['party-scores', 'branch-stats']) {
      for (const ext of ['csv', 'xlsx']) {
        if (path === 'branch-stats' && ext === 'csv') continue;
        const url = `/exports/${path}.${ext}`;
        expect((await download(`${url}?branch=${h.head.code}&year=2025`, null)).status, url).toBe(401);
        const refused = await download(`${url}?branch=${h.head.code}&year=2025`, branchAdmin);
        expect(refused.status, url).toBe(403);
        expect(JSON.parse(String(refused.body)).error.code).toBe('FORBIDDEN');
        expect((await download(`${url}?branch=${h.head.code}`)).status, url).toBe(400);
        expect((await download(`${url}?branch=${h.branches[1]!.code}&year=2025`, branchAdmin)).status, url).toBe(200);
        expect((await download(`${url}?branch=${h.head.code}&year=2025`, h.clientToken)).status, url).toBe(403);
      }
    }
    // a statement: its member or an admin whose scope covers it; any other member reads as not found
    const inA = party[0]!;
    expect((await download(`/exports/member-statement.xlsx?member=${inA}&year=2025`, branchAdmin)).status).toBe(404);
    expect((await download(`/exports/member-statement.xlsx?member=${party[1]}&year=2025`, branchAdmin)).status).toBe(200);
    expect((await download(`/exports/member-statement.xlsx?member=${inA}&year=2025`, h.token({ role: 'member', member: inA }))).status).toBe(200);
    expect((await download(`/exports/member-statement.xlsx?member=${inA}&year=2025`, h.token({ role: 'member', member: party[1] }))).status).toBe(403);
    expect((await download(`/exports/member-statement.xlsx?member=${inA}`)).status).toBe(400);
  });
});
