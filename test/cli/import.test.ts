// npm run import as a branch secretary uses it: a member list and an award sheet kept in Excel (or a
// CSV with Chinese headers) go in through the API's checks and scope, every refused row is in the
// error report with its row, column and the API's message, a second run writes nothing twice, and a
// dry run writes nothing at all.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { readReport, runImport, writeXlsx as writeImportXlsx } from '../support/importCommand.js';

let h: Harness;
let dir: string;

beforeAll(async () => {
  h = await startHarness();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cb-import-'));
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const writeXlsx = (file: string, rows: unknown[][]) => writeImportXlsx(dir, file, rows);

async function memberOf(externalId: string) {
  return h.bank.knex('members').where({ head_id: h.head.id, external_id: externalId }).first();
}

// Each run starts the command (tsx, a database connection): seconds each on a shared machine.
describe('importing members from an .xlsx with Chinese headers', { timeout: 240_000 }, () => {
  let file: string;
  const ext = (n: number) => `${h.tag}-m${n}`;

  beforeAll(async () => {
    file = await writeXlsx('members.xlsx', [
      ['姓名', '外部编号/手机', '支部/网格', '党员'],
      ['张三', ext(1), h.branches[0]!.code, '是'],
      ['李四', ext(2), h.branches[1]!.code, '否'],
      [null, ext(3), h.branches[0]!.code, null],
      ['王五', ext(4), `${h.tag}-nowhere`, null],
      ['赵六', `${h.tag} m5`, h.branches[0]!.code, null],
      ['钱七', ext(6), h.branches[0]!.code, '也许'],
      [],
      ['孙八', ext(8), h.branches[2]!.code, null],
    ]);
  });

  it('a dry run checks every row, reports the bad ones and writes nothing', async () => {
    const before = await h.footprint();
    const result = await runImport([file, '--dry-run'], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/dry run: 3 row\(s\) would be written, 0 were imported before, 4 refused; nothing written/);
    expect(await h.footprint()).toBe(before);
    expect(await memberOf(ext(1))).toBeUndefined();
    expect((await readReport(file)).map((r) => r[0])).toEqual(['4', '5', '6', '7']);
  });

  it('writes the good rows through upsertMember and reports each bad one with its row, column and the API message', async () => {
    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/imported 3 row\(s\), 0 already imported by an earlier run, 4 refused/);
    expect(result.stdout).toMatch(/error report: .*members\.xlsx\.errors\.csv/);
    expect(await readReport(file)).toEqual([
      ['4', '姓名', 'BAD_USER_INPUT: name: is required'],
      ['5', '支部/网格', `NOT_FOUND: branch: no branch with code "${h.tag}-nowhere"`],
      ['6', '外部编号/手机', 'BAD_USER_INPUT: externalId: may not contain spaces, control, invisible (zero-width) or bidi characters'],
      ['7', '党员', 'BAD_USER_INPUT: isPartyMember: must be 是 or 否 (yes or no)'],
    ]);
    const zhang = await memberOf(ext(1));
    expect(zhang).toMatchObject({ name: '张三', branch_id: h.branches[0]!.id, is_party_member: true });
    expect(await memberOf(ext(2))).toMatchObject({ name: '李四', branch_id: h.branches[1]!.id, is_party_member: false });
    expect(await memberOf(ext(8))).toMatchObject({ name: '孙八', branch_id: h.branches[2]!.id });
    // a new member gets its wallets, as through the API
    expect(Number((await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'MEMBER', owner_id: zhang.id }).count('* as n'))[0]!.n)).toBeGreaterThan(0);
  });

  it('a second run of the same file writes nothing twice', async () => {
    const before = await h.footprint();
    const updatedAt = (await memberOf(ext(1))).updated_at;
    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.stdout).toMatch(/imported 0 row\(s\), 3 already imported by an earlier run, 4 refused/);
    expect(await h.footprint()).toBe(before);
    expect((await memberOf(ext(1))).updated_at).toEqual(updatedAt);
  });

  it("the token's scope applies as over the API: a branch admin cannot place members in another branch", async () => {
    const scoped = await writeXlsx('scoped.xlsx', [
      ['name', 'externalId', 'branch'],
      ['In scope', `${h.tag}-s1`, h.branches[1]!.code],
      ['Out of scope', `${h.tag}-s2`, h.branches[0]!.code],
    ]);
    const token = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `${h.tag}-admin-b` });
    const result = await runImport([scoped], { IMPORT_TOKEN: token });
    expect(result.code).toBe(1);
    const report = await readReport(scoped);
    expect(report).toHaveLength(1);
    expect(report[0]![0]).toBe('3'); // requireScope names no field: the message says which branch
    expect(report[0]![2]).toMatch(/^FORBIDDEN: /);
    expect(await memberOf(`${h.tag}-s1`)).toBeDefined();
    expect(await memberOf(`${h.tag}-s2`)).toBeUndefined();
  });

  it('a token that cannot import members, or a file that is not an import, is one line and exit code 2', async () => {
    const client = await runImport([file], { IMPORT_TOKEN: h.clientToken });
    expect(client.code).toBe(1);
    expect((await readReport(file))[0]![2]).toMatch(/^FORBIDDEN: /);
    const noToken = await runImport([file], { IMPORT_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/--token TOKEN or IMPORT_TOKEN/);
    const odd = await writeXlsx('odd.xlsx', [['颜色', '大小'], ['红', '大']]);
    const refused = await runImport([odd], { IMPORT_TOKEN: h.adminToken });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/cannot tell members, awards or households/);
  });
});

describe('importing awards', { timeout: 240_000 }, () => {
  let memberA: string;
  let memberB: string;

  beforeAll(async () => {
    memberA = await h.addMember(`${h.tag}-a1`);
    memberB = await h.addMember(`${h.tag}-a2`);
  });

  it('an .xlsx of awards goes through awardPointsBatch; bad rows are reported; a second run awards nothing twice', async () => {
    const yesterday = new Date(Date.now() - 86_400_000);
    const dateCell = new Date(Date.UTC(yesterday.getUTCFullYear(), yesterday.getUTCMonth(), yesterday.getUTCDate()));
    const file = await writeXlsx('awards.xlsx', [
      ['externalId', 'rule', 'quantity', 'date', 'memo'],
      [`${h.tag}-a1`, 'volunteer.hour', 2, dateCell, '社区清扫'],
      [`${h.tag}-a2`, 'garbage.bin-duty', null, null, null],
      [`${h.tag}-a1`, 'no.such-rule', 1, null, null],
      [`${h.tag}-a2`, 'volunteer.hour', -1, null, null],
      [`${h.tag}-nobody`, 'volunteer.hour', 1, null, null],
      [`${h.tag}-a2`, 'volunteer.hour', 1, '2099-01-01', null],
      [`${h.tag}-a2`, 'volunteer.hour', 1, 'next tuesday', null],
    ]);
    const before = await h.transactionCount();
    const dry = await runImport([file, '--dry-run'], { IMPORT_TOKEN: h.adminToken });
    expect(dry.stdout, dry.stderr).toMatch(/dry run: 2 row\(s\) would be written, 0 were imported before, 5 refused/);
    expect(await h.transactionCount()).toBe(before);

    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/imported 2 row\(s\), 0 already imported by an earlier run, 5 refused/);
    expect(result.stdout).toMatch(/^7\/7 rows$/m); // plain progress lines when stdout is not a terminal
    const report = await readReport(file);
    expect(report.map((r) => r.slice(0, 2))).toEqual([['4', 'rule'], ['5', 'quantity'], ['6', 'externalId'], ['7', 'date'], ['8', 'date']]);
    expect(report[0]![2]).toMatch(/^NOT_FOUND: .*no\.such-rule/);
    expect(report[1]![2]).toMatch(/^BAD_USER_INPUT: quantity: /);
    expect(report[2]![2]).toMatch(/^NOT_FOUND: /);
    expect(report[3]![2]).toMatch(/^BAD_USER_INPUT: occurredAt: .* is in the future/);
    expect(report[4]![2]).toBe('BAD_USER_INPUT: occurredAt: "next tuesday" is not a date: write 2026-11-30, 2026-11-30 14:05, or use a date cell');
    expect(await h.transactionCount()).toBe(before + 2);
    expect(await h.walletBalance(memberA)).toBe('20.00');
    expect(await h.walletBalance(memberA, 'VOLUNTEER_HOURS')).toBe('2.00');
    expect(await h.walletBalance(memberB)).toBe('5.00');
    // the date cell is a date of the bank's calendar: the award happened at the start of that day there
    const tx = await h.bank.knex('transactions').where({ head_id: h.head.id }).whereRaw(`memo = '社区清扫'`).first('occurred_at');
    const ymd = new Intl.DateTimeFormat('en-CA', { timeZone: h.head.timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit' }).format(tx.occurred_at);
    expect(ymd).toBe(`${dateCell.toISOString().slice(0, 10)}, 00`);

    const footprint = await h.footprint();
    const again = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(again.stdout).toMatch(/imported 0 row\(s\), 2 already imported by an earlier run, 5 refused/);
    expect(await h.footprint()).toBe(footprint);
    expect(await h.walletBalance(memberA)).toBe('20.00');
  });

  it('a CSV with Chinese headers (and a name column for the reader) imports, and reports in Chinese with --lang zh-CN', async () => {
    const file = path.join(dir, 'awards-zh.csv');
    await fs.writeFile(file, `\uFEFF姓名,外部编号,规则,数量,日期,备注\r\n`
      + `张三,${h.tag}-a1,garbage.sorted-drop,1,,"投放, 准确"\r\n`
      + `张三,${h.tag}-a1,garbage.sorted-drop,1,,第二次\r\n`);
    const before = await h.walletBalance(memberA);
    const result = await runImport([file, '--lang', 'zh-CN'], { IMPORT_TOKEN: h.clientToken });
    expect(result.stdout, result.stderr).toMatch(/imported 1 row\(s\), 0 already imported by an earlier run, 1 refused/);
    expect(Number(await h.walletBalance(memberA)) - Number(before)).toBe(1);
    const report = await readReport(file);
    expect(report).toHaveLength(1);
    expect(report[0]![0]).toBe('3');
    expect(report[0]![2]).toMatch(/^CAP_EXCEEDED: 规则「garbage\.sorted-drop」每/);
    const memo = await h.bank.knex('transactions').where({ head_id: h.head.id, memo: '投放, 准确' }).count('* as n');
    expect(Number(memo[0]!.n)).toBe(1);
  });

  it('a row count over the limit is refused before anything is read into the bank', async () => {
    const { importRowsMax } = await import('../../src/cli/importSheet.js');
    const file = path.join(dir, 'huge.csv');
    await fs.writeFile(file, `externalId,rule\r\n${`x,garbage.sorted-drop\r\n`.repeat(importRowsMax + 1)}`);
    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`more than ${importRowsMax} rows`));
  });
});
