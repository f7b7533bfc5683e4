// The console's Excel downloads in a real browser: a branch secretary finds the "下载 Excel" button
// beside the CSV on the party-score page, the branch-stats button on the dashboard and the statement
// button on a member's page, in zh-CN and in English, and each downloaded file opens with exceljs and
// holds the branch's own figures (and nothing of a sibling branch).
import { readFile } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Download, Page } from 'playwright-core';
import { startHarness, type Harness } from '../support/harness.js';
import { describePages, expectText, useBrowser } from '../support/browser.js';

let h: Harness;
const ids: Record<string, string> = {};

function adminSession(branch: { code: string; name: string }): Record<string, string> {
  const token = h.token({ role: 'admin', sub: `admin-${branch.code}`, branch: branch.code });
  const session = {
    token, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    operator: { id: `op-${branch.code}`, username: `admin-${branch.code}`, displayName: '张书记', role: 'admin', branch: { code: branch.code, name: branch.name }, merchant: null },
  };
  return { 'cb.session': JSON.stringify(session) };
}

beforeAll(async () => {
  h = await startHarness();
  ids.wang = await h.addMember(`${h.tag}-wang`, h.branches[0]!, { party: true });
  ids.li = await h.addMember(`${h.tag}-li`, h.branches[1]!, { party: true });
  await h.bank.knex('members').where({ head_id: h.head.id, id: ids.wang }).update({ name: '王小明' });
  await h.bank.knex('members').where({ head_id: h.head.id, id: ids.li }).update({ name: '李四海' });
  for (const member of [ids.wang, ids.wang, ids.li]) {
    const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
      { i: { idempotencyKey: h.key(), memberId: member, rule: 'party.class-attendance' } });
    expect(res.errors).toBeUndefined();
  }
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }`,
    { i: { idempotencyKey: h.key(), memberId: ids.wang, rule: 'volunteer.hour', quantity: '1.5' } });
  expect(res.errors).toBeUndefined();
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
});

async function workbookOf(download: Download): Promise<ExcelJS.Workbook> {
  expect(download.suggestedFilename()).toMatch(/\.xlsx$/);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(await readFile((await download.path())!) as unknown as Parameters<ExcelJS.Xlsx['load']>[0]);
  return workbook;
}

async function downloadBy(page: Page, testId: string): Promise<ExcelJS.Workbook> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  return workbookOf(download);
}

describePages('the console\'s Excel downloads', () => {
  const browser = useBrowser(() => h.url);
  const open = (hash: string) => browser.open(`/console${hash}`, { sessionStorage: adminSession(h.branches[0]!) });

  test('party scores: "下载 Excel" beside "下载 CSV" downloads the ranking with Chinese headers and the branch\'s members only', async () => {
    const page = await open('#/scores');
    await expectText(page.getByTestId('scores-table'), '王小明');
    await expectText(page.getByTestId('download-csv'), '下载 CSV');
    await expectText(page.getByTestId('download-xlsx'), '下载 Excel');
    const sheet = (await downloadBy(page, 'download-xlsx')).worksheets[0]!;
    expect((sheet.getRow(1).values as unknown[]).slice(1, 6)).toEqual(['支部', '姓名', '外部编号', '总分', '排名']);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.rowCount).toBe(2);
    expect(sheet.getRow(2).getCell(2).value).toBe('王小明');
    expect(sheet.getRow(2).getCell(4).value).toBe(4);
    expect(sheet.getRow(2).getCell(4).numFmt).toBe('#,##0.00');
  });

  test('the dashboard downloads the branch stats, and a member\'s page the statement of the period shown', async () => {
    const page = await open('#/');
    await expectText(page.getByTestId('download-stats-xlsx'), '下载支部统计 (Excel)');
    const stats = (await downloadBy(page, 'download-stats-xlsx')).worksheets[0]!;
    expect((stats.getRow(1).values as unknown[]).slice(1, 5)).toEqual(['支部编码', '支部', '范围', '资产']);
    const points = stats.getRows(2, stats.rowCount - 1)!.find((r) => r.getCell(3).value === '合计' && r.getCell(4).value === 'POINTS')!;
    expect(points.getCell(1).value).toBe(h.branches[0]!.code);
    expect(points.getCell(5).value).toBe(15); // 1.5 volunteer hours × 10 points

    await page.goto(`${h.url}/console#/members/${ids.wang}`);
    await expectText(page.getByTestId('download-statement-xlsx'), '下载对账单 (Excel)');
    const workbook = await downloadBy(page, 'download-statement-xlsx');
    const totals = workbook.getWorksheet('汇总')!;
    const partyScore = totals.getRows(2, totals.rowCount - 1)!.find((r) => r.getCell(1).value === 'PARTY_SCORE')!;
    expect(partyScore.getCell(4).value).toBe(4);
    expect(workbook.getWorksheet('明细')!.rowCount).toBe(1 + 4); // two attendances, a volunteer hour's two assets
  });

  test('in English the buttons say so', async () => {
    const page = await open('#/scores');
    await expectText(page.getByTestId('scores-table'), '王小明');
    await page.getByRole('button', { name: '语言' }).click();
    await expectText(page.getByTestId('download-xlsx'), 'Download Excel');
    await expectText(page.getByTestId('download-csv'), 'Download CSV');
  });
});
