// Households (户) through npm run import, as a branch secretary keeps them in Excel: a row per member
// with the household's 户编号, 户名, 支部, 成年 and 户主; each household goes in through upsertHousehold
// with its whole membership, a bad row is reported with its row and column, a second run of the same
// file writes nothing twice, and an edited file updates the same households by their externalId.
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
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cb-import-households-'));
});

afterAll(async () => {
  await h?.checkInvariants();
  await h?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const writeXlsx = (file: string, rows: unknown[][]) => writeImportXlsx(dir, file, rows);

/** A household's current members as [externalId, adult], its head's externalId and how many stays its history holds. */
async function householdOf(externalId: string) {
  const household = await h.bank.knex('households').where({ head_id: h.head.id, external_id: externalId }).first();
  if (!household) return undefined;
  const stays = await h.bank.knex('household_members as hm').join('members as m', function on() { this.on('m.head_id', 'hm.head_id').andOn('m.id', 'hm.member_id'); })
    .where({ 'hm.head_id': h.head.id, 'hm.household_id': household.id }).orderBy('m.external_id').select('m.external_id', 'hm.adult', 'hm.left_at');
  const head = household.head_member_id ? (await h.bank.knex('members').where({ head_id: h.head.id, id: household.head_member_id }).first()).external_id : null;
  return {
    name: household.name, branchId: String(household.branch_id), head,
    members: stays.filter((s: any) => s.left_at === null).map((s: any) => [s.external_id, s.adult]), history: stays.length,
  };
}

describe('importing households from an .xlsx with Chinese headers', { timeout: 240_000 }, () => {
  const m = (n: number) => `${h.tag}-m${n}`;
  const hh = (n: number) => `${h.tag}-hh${n}`;
  let file: string;

  beforeAll(async () => {
    for (let n = 1; n <= 6; n++) await h.addMember(m(n), h.branches[0]!);
    file = await writeXlsx('households.xlsx', [
      ['户编号', '户名', '支部/网格', '外部编号/手机', '姓名', '成年', '户主'],
      [hh(1), '王家', h.branches[0]!.code, m(1), '王大', '是', '是'],
      [hh(1), '王家', h.branches[0]!.code, m(2), '王小', '否', null],
      [hh(2), '李家', h.branches[0]!.code, m(3), '李一', '是', null],
      [hh(3), '赵家', h.branches[0]!.code, m(4), '赵一', '是', null],
      [hh(3), '赵家', h.branches[0]!.code, `${h.tag}-nobody`, '某人', '是', null],
      [hh(4), '钱家', h.branches[0]!.code, m(5), '钱一', '也许', null],
      [hh(2), '李家', h.branches[0]!.code, m(6), '李二', '是', null],
    ]);
  });

  it('a dry run checks every household and writes nothing', async () => {
    const before = await h.footprint();
    const result = await runImport([file, '--dry-run'], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/dry run: 4 row\(s\) would be written, 0 were imported before, 2 refused; nothing written/);
    expect(await h.footprint()).toBe(before);
  });

  it('writes each household with its members, adult flags and head, and reports a bad household at its row and column', async () => {
    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/imported 4 row\(s\), 0 already imported by an earlier run, 2 refused/);
    expect(await readReport(file)).toEqual([
      ['6', '外部编号/手机', `NOT_FOUND: members[1].externalId: no member with externalId "${h.tag}-nobody"`],
      ['7', '成年', 'BAD_USER_INPUT: members[0].adult: must be 是 or 否 (yes or no)'],
    ]);
    expect(await householdOf(hh(1))).toEqual({ name: '王家', branchId: h.branches[0]!.id, head: m(1), members: [[m(1), true], [m(2), false]], history: 2 });
    // 李家's rows are apart in the file: one household, both members.
    expect(await householdOf(hh(2))).toMatchObject({ name: '李家', head: null, members: [[m(3), true], [m(6), true]] });
    expect(await householdOf(hh(3))).toBeUndefined();
    expect(await h.bank.knex('accounts').where({ head_id: h.head.id, owner_type: 'HOUSEHOLD' }).count('* as n').first()).toEqual({ n: String(2 * h.bank.assets.all().length) });
  });

  it('a second run of the same file writes nothing twice', async () => {
    const before = await h.footprint();
    const result = await runImport([file], { IMPORT_TOKEN: h.adminToken });
    expect(result.stdout).toMatch(/imported 0 row\(s\), 4 already imported by an earlier run, 2 refused/);
    expect(await h.footprint()).toBe(before);
  });

  it('an edited file updates the same households by 户编号: a member who moves keeps the old stay as history', async () => {
    const edited = await writeXlsx('households-edited.xlsx', [
      ['household', 'householdName', 'branch', 'externalId', 'adult', 'head'],
      [hh(1), '王家大院', h.branches[0]!.code, m(1), 'yes', 'yes'],
      [hh(2), '李家', h.branches[0]!.code, m(3), 'yes', null],
      [hh(2), '李家', h.branches[0]!.code, m(6), 'yes', null],
      [hh(2), '李家', h.branches[0]!.code, m(2), 'no', null],
    ]);
    const result = await runImport([edited], { IMPORT_TOKEN: h.adminToken });
    expect(result.code, result.stderr).toBe(0);
    expect(await householdOf(hh(1))).toEqual({ name: '王家大院', branchId: h.branches[0]!.id, head: m(1), members: [[m(1), true]], history: 2 });
    expect(await householdOf(hh(2))).toMatchObject({ members: [[m(2), false], [m(3), true], [m(6), true]], history: 3 });
    expect(await h.bank.knex('households').where({ head_id: h.head.id }).whereIn('external_id', [hh(1), hh(2)]).count('* as n').first()).toEqual({ n: '2' });
  });
});
