// The demo bank, seeded on first start: a head bank (town) with three branches (a village and two
// communities), 30 members (10 party members, 8 volunteers), the standard rules, two merchants with
// a dozen catalog items, an open crowdfunding pool with a few donations, a few weeks of awards so
// that balances show something, a year of party classes, absences (负面清单) and volunteer hours
// so that the reports do, three claims waiting for approval, and two operators to sign in as (a
// demo admin and a demo shop assistant), and three households (户: 王家, 刘家, 李家) with a household rule
// (garbage.household-bin) and its awards; 花园社区 lets only a household's head spend its points. Runs
// once: it is skipped when the demo head bank exists, except for the operators, which are added to a
// demo bank seeded before operators existed.
import type { Bank } from '../src/bank.js';
import { createHeadBank, insertChildBranch } from '../src/directory/branches.js';
import { openWallets } from '../src/directory/members.js';
import { callAwardBatch } from '../src/ledger/sql/award.js';
import { requestHash } from '../src/ledger/idempotency.js';
import { insertMerchant } from '../src/redemption/merchants.js';
import { newVoucherCode } from '../src/redemption/vouchers.js';
import { insertPool } from '../src/pools/pools.js';
import { callFunction } from '../src/db/callFunction.js';
import { insertOperator, placeOperator } from '../src/operators/operators.js';
import { hashPassword } from '../src/operators/passwords.js';
import { noticePeriodEnd, noticeDaysDefault } from '../src/selections/selections.js';

export const demoHeadCode = 'demo-town';
/** The rule that pays the winners of the demo selection (评选), and the selection's title. */
export const demoSelectionRule = 'selection.courtyard';
export const demoSelectionTitle = '最美庭院 2026年12月';
/** A rule that needs approval: members report service and the branch approves it. */
export const demoClaimRule = 'volunteer.service-claim';
export const demoBranchCodes = ['demo-east-village', 'demo-river-community', 'demo-garden-community'] as const;
/** The demo grocery (爱心超市) whose shop assistant is the demo merchant operator. */
export const demoGroceryName = '爱心超市 Caring Grocery';
/** The household rule of the demo: sorting at a household's bin credits the household (户). */
export const demoHouseholdRule = 'garbage.household-bin';
/** 党员包户 of the demo: [party member, household] (demo-user-001..010 are party members). */
export const demoPartyHouseholds: [string, string][] = [
  ['demo-user-010', 'demo-household-wang'], ['demo-user-008', 'demo-household-liu'], ['demo-user-010', 'demo-household-li'],
];
/** The demo households: [externalId, name, branch index, [member number, adult][]], the first member its head. */
const demoHouseholds: [string, string, number, [number, boolean][]][] = [
  ['demo-household-wang', '王家', 0, [[1, true], [4, true], [7, false]]],
  ['demo-household-liu', '刘家', 1, [[2, true], [5, true]]],
  ['demo-household-li', '李家', 2, [[3, true], [6, true], [9, false]]],
];
const demoUser = (n: number) => `demo-user-${String(n).padStart(3, '0')}`;

/**
 * The demo's people, printed by npm start outside production. Their passwords are public (and contain
 * the username, which the policy refuses for passwords people choose): never seed them in production.
 */
export const demoOperators = {
  admin: { username: 'demo-admin', password: 'demo-admin-2026', displayName: '演示管理员 Demo admin' },
  shop: { username: 'demo-shop', password: 'demo-shop-2026', displayName: '爱心超市店员 Demo shop assistant' },
} as const;

export const standardRules = [
  { code: 'garbage.sorted-drop', name: '垃圾分类投放 Sorted garbage drop', category: 'garbage',
    outputs: [{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }], caps: [{ window: 'DAY', maxCount: '1', maxAmount: null }] },
  { code: 'garbage.bin-duty', name: '桶前值守 Bin-side duty shift', category: 'garbage',
    outputs: [{ asset: 'POINTS', amountPerUnit: '5.00', direction: 'CREDIT' }], caps: [{ window: 'DAY', maxCount: '2', maxAmount: null }] },
  { code: 'volunteer.hour', name: '志愿服务 Volunteer hour', category: 'volunteer',
    outputs: [{ asset: 'VOLUNTEER_HOURS', amountPerUnit: '1.00', direction: 'CREDIT' }, { asset: 'POINTS', amountPerUnit: '10.00', direction: 'CREDIT' }],
    caps: [{ window: 'DAY', maxCount: '12', maxAmount: null }] },
  { code: 'party.class-attendance', name: '党课学习 Party class attendance', category: 'party',
    outputs: [{ asset: 'PARTY_SCORE', amountPerUnit: '2.00', direction: 'CREDIT' }], caps: [{ window: 'WEEK', maxCount: '2', maxAmount: null }] },
  { code: 'party.negative-list.absence', name: '负面清单：无故缺席 Negative list: unexcused absence', category: 'party-negative',
    outputs: [{ asset: 'PARTY_SCORE', amountPerUnit: '5.00', direction: 'DEDUCT' }], caps: [] },
] as const;

/** The demo catalog: [merchant index, code, title, category, cost, stock (null: unlimited), per-member limit a month]. */
const demoCatalog: [number, string, string, string, string, number | null, number | null][] = [
  [0, 'soap', '洗衣皂 Laundry soap', 'daily-goods', '5.00', 200, null],
  [0, 'tissue', '抽纸 Tissues (3 packs)', 'daily-goods', '8.00', 150, null],
  [0, 'rice-5kg', '大米5公斤 Rice 5 kg', 'daily-goods', '40.00', 30, 1],
  [0, 'oil-1l', '食用油1升 Cooking oil 1 l', 'daily-goods', '25.00', 40, 1],
  [0, 'eggs', '鸡蛋一盒 A box of eggs', 'daily-goods', '12.00', 60, 2],
  [0, 'trash-bags', '分类垃圾袋 Sorting bin bags', 'daily-goods', '3.00', null, null],
  [0, 'knife-sharpen', '磨刀 Knife sharpening', 'household-repair', '6.00', null, null],
  [0, 'tap-repair', '水龙头维修 Tap repair visit', 'household-repair', '30.00', 10, 1],
  [1, 'haircut', '理发 Haircut', 'haircut', '15.00', null, 2],
  [1, 'haircut-elder', '老人上门理发 Home haircut for elders', 'haircut', '10.00', 20, 1],
  [1, 'shave', '修面 Shave', 'haircut', '8.00', null, 2],
  [1, 'kids-cut', '儿童理发 Children\'s haircut', 'haircut', '12.00', null, 2],
];

const surnames = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'];
const givenNames = ['伟', '芳', '娜', '敏', '静', '磊', '洋', '艳', '勇', '军'];

/** Seeds the demo bank unless it exists; returns whether it seeded. */
export async function seedDemoBank(bank: Bank): Promise<boolean> {
  if (await bank.branches.byCodeOrNull(demoHeadCode)) {
    await seedDemoOperators(bank);
    return false;
  }
  const seeded = await bank.knex.transaction(async (trx) => {
    const exists = await trx('branches').where({ code: demoHeadCode }).first();
    if (exists) return null;
    const head = await createHeadBank(bank, { code: demoHeadCode, name: '文明镇 Civility Town head bank', allowGifting: true }, trx);
    const names = ['东村 East Village', '河畔社区 Riverside Community', '花园社区 Garden Community'];
    const branches = [];
    for (const [i, code] of demoBranchCodes.entries()) {
      branches.push(await insertChildBranch(trx, head, { code, name: names[i]!, allowGifting: i !== 0 }));
    }
    for (const rule of standardRules) {
      await trx('rules').insert({
        head_id: head.id, branch_id: head.id, code: rule.code, version: 1, name: rule.name, category: rule.category,
        outputs: JSON.stringify(rule.outputs), caps: JSON.stringify(rule.caps), requires_approval: false,
        allowed_clients: [], created_by: 'demo-seed',
      });
    }
    // Activities reported by the member and approved by the branch (claims).
    await trx('rules').insert({
      head_id: head.id, branch_id: head.id, code: demoClaimRule, version: 1, name: '志愿服务申报 Reported volunteer service', category: 'volunteer',
      outputs: JSON.stringify([{ asset: 'VOLUNTEER_HOURS', amountPerUnit: '1.00', direction: 'CREDIT' }, { asset: 'PARTY_SCORE', amountPerUnit: '1.00', direction: 'CREDIT' }]),
      caps: JSON.stringify([{ window: 'DAY', maxCount: '8', maxAmount: null }]), requires_approval: true, allowed_clients: [], created_by: 'demo-seed',
    });
    for (let i = 0; i < 30; i++) {
      const branch = branches[i % 3]!;
      const [row] = await trx('members').insert({
        head_id: head.id, branch_id: branch.id, external_id: `demo-user-${String(i + 1).padStart(3, '0')}`,
        name: `${surnames[i % 10]}${givenNames[(i * 7) % 10]}`, is_party_member: i < 10, is_volunteer: i >= 10 && i < 18,
      }).returning('id');
      await openWallets(trx, head.id, branch.id, String(row.id));
    }
    const merchants: string[] = [];
    for (const [i, name] of [demoGroceryName, '邻里理发 Neighbourhood Barber'].entries()) {
      merchants.push(await insertMerchant(trx, head.id, branches[i + 1]!.id, name));
    }
    for (const [m, code, title, category, cost, stock, limit] of demoCatalog) {
      await trx('catalog_items').insert({
        head_id: head.id, merchant_id: merchants[m], code, title, category, cost, stock_left: stock,
        limit_per_member: limit, limit_window: limit === null ? null : 'MONTH', visible_branch_id: head.id, voucher_valid_days: 7,
      });
    }
    await insertPool(trx, head.id, branches[1]!.id, {
      title: '为独居老人装扶手 Handrails for elders living alone', beneficiary: '河畔社区独居老人 Riverside elders living alone',
      target: '300.00', createdBy: 'demo-seed',
    });
    // The public notice board (公示栏) is on for the town and two communities; Garden Community has not opted in.
    // (test/db/yearRollupsBackfill.test.ts seeds a database migrated only up to 030, before the flag existed.)
    if (await trx.schema.hasColumn('branches', 'notice_board')) {
      await trx('branches').whereIn('id', [head.id, branches[0]!.id, branches[1]!.id])
        .update({ notice_board: true, notice_board_changed_by: 'demo-seed', notice_board_changed_at: trx.fn.now() });
    }
    // Households (migration 072; a database migrated to before it, in tests of old migrations, gets none).
    if (await trx.schema.hasTable('households')) {
      await trx('rules').insert({
        head_id: head.id, branch_id: head.id, code: demoHouseholdRule, version: 1, name: '户分类桶 Household sorting bin', category: 'garbage',
        outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '2.00', direction: 'CREDIT' }]),
        caps: JSON.stringify([{ window: 'DAY', maxCount: '3', maxAmount: null }]), requires_approval: false, allowed_clients: [],
        created_by: 'demo-seed', beneficiary: 'HOUSEHOLD',
      });
      for (const [externalId, name, b, people] of demoHouseholds) {
        const members = await trx('members').where({ head_id: head.id }).whereIn('external_id', people.map(([n]) => demoUser(n))).select('id', 'external_id');
        const idOf = (n: number) => members.find((m) => m.external_id === demoUser(n))!.id;
        const [row] = await trx('households').insert({
          head_id: head.id, branch_id: branches[b]!.id, external_id: externalId, name, head_member_id: idOf(people[0]![0]),
        }).returning('id');
        await openWallets(trx, head.id, branches[b]!.id, String(row.id), 'HOUSEHOLD');
        await trx('household_members').insert(people.map(([n, adult]) => ({
          head_id: head.id, household_id: row.id, member_id: idOf(n), adult, joined_by: 'demo-seed',
        })));
      }
      await trx('branches').where({ id: branches[2]!.id })
        .update({ household_spending: 'HEAD_ONLY', household_spending_changed_by: 'demo-seed', household_spending_changed_at: trx.fn.now() });
    }
    // 党员包户 (migration 073): party members looking after households of their village or community.
    if (await trx.schema.hasTable('party_member_households')) {
      for (const [member, household] of demoPartyHouseholds) {
        const [m, hh] = await Promise.all([trx('members').where({ head_id: head.id, external_id: member }).first('id'),
          trx('households').where({ head_id: head.id, external_id: household }).first('id')]);
        await trx('party_member_households').insert({ head_id: head.id, member_id: m.id, household_id: hh.id, linked_by: 'demo-seed' });
      }
    }
    return head;
  });
  if (!seeded) return false;
  // A few weeks of activity, through the same write path as the API.
  const items: object[] = [];
  const now = bank.clock().getTime();
  for (let day = 20; day >= 1; day--) {
    for (let m = 1; m <= 30; m++) {
      if ((m * 7 + day) % 3 === 0) continue;
      const occurredAt = new Date(now - day * 86_400_000).toISOString();
      const member = `demo-user-${String(m).padStart(3, '0')}`;
      const add = (rule: string, quantity: string) => {
        const key = `seed-${rule}-${member}-${day}`;
        items.push({ key, hash: requestHash('awardPoints', { key }), externalId: member, rule, quantity, occurredAt, memo: null, metadata: null });
      };
      add('garbage.sorted-drop', '1');
      if (m % 4 === 0) add('garbage.bin-duty', '1');
      if (m > 10 && m <= 18 && day % 5 === 0) add('volunteer.hour', '2');
      if (m <= 10 && day % 7 === 0) add('party.class-attendance', '1');
    }
  }
  // A year of party and volunteer activity, so that partyScores, leaderboards and branchStats show
  // something: weekly party classes (most attend), a few unexcused absences, volunteer shifts.
  for (let week = 52; week >= 4; week--) {
    const occurredAt = new Date(now - week * 7 * 86_400_000).toISOString();
    for (let m = 1; m <= 18; m++) {
      const member = `demo-user-${String(m).padStart(3, '0')}`;
      const add = (rule: string, quantity: string) => {
        const key = `seed-year-${rule}-${member}-${week}`;
        items.push({ key, hash: requestHash('awardPoints', { key }), externalId: member, rule, quantity, occurredAt, memo: null, metadata: null });
      };
      if (m <= 10 && (m * 13 + week) % 5 !== 0) add('party.class-attendance', '1');
      if (m <= 10 && (m * 31 + week) % 23 === 0) add('party.negative-list.absence', '1');
      if (m > 10 && (m + week) % 2 === 0) add('volunteer.hour', String(1 + ((m * week) % 4)));
    }
  }
  // Sorting at the households' bins, by whichever member dropped it: the household is credited.
  if (await bank.knex.schema.hasTable('households')) {
    for (let day = 10; day >= 1; day--) {
      for (const [, , , people] of demoHouseholds) {
        for (const [n] of people.slice(0, 1 + (day % 2))) {
          const key = `seed-household-bin-${n}-${day}`;
          items.push({ key, hash: requestHash('awardPoints', { key }), externalId: demoUser(n), rule: demoHouseholdRule, quantity: '1',
            occurredAt: new Date(now - day * 86_400_000).toISOString(), memo: null, metadata: null });
        }
      }
    }
  }
  items.push({ key: 'seed-absence', hash: 'seed', externalId: 'demo-user-003', rule: 'party.negative-list.absence', quantity: '1', occurredAt: new Date(now - 3 * 86_400_000).toISOString(), memo: '无故缺席支部会议', metadata: null });
  const scope = { headId: seeded.id, sub: 'demo-seed', role: 'admin', scopePath: seeded.path, timeZone: seeded.timeZone };
  for (let i = 0; i < items.length; i += 500) await callAwardBatch(bank.pool, scope, items.slice(i, i + 500));
  // A few residents have given to the open pool, through the same write path as the API.
  const pool = await bank.knex('pools').where({ head_id: seeded.id }).first('id');
  for (const external of ['demo-user-002', 'demo-user-005', 'demo-user-011']) {
    const member = await bank.knex('members').where({ head_id: seeded.id, external_id: external }).first('id');
    const key = `seed-donation-${external}`;
    await callFunction(bank.pool, 'cb_donate', [seeded.id, `member-${member.id}`, 'member', key, requestHash('donate', { key }), member.id, pool.id, '5.00', '一点心意']);
  }
  // Three claims waiting for an admin (claims(status: PENDING)).
  const claimants = await bank.knex('members').where({ head_id: seeded.id }).whereIn('external_id', ['demo-user-002', 'demo-user-005', 'demo-user-012']).select('id', 'branch_id');
  await bank.knex('claims').insert(claimants.map((m, i) => ({
    head_id: seeded.id, branch_id: m.branch_id, member_id: m.id, rule_code: demoClaimRule, quantity: String(2 + i),
    occurred_at: new Date(now - (i + 1) * 86_400_000), evidence_text: '社区防疫志愿服务 community health volunteering',
    evidence_links: [`https://example.org/demo/sign-in-${i + 1}.jpg`], status: 'PENDING', submitted_by: 'demo-seed', submitted_role: 'member',
  })));
  await seedDemoSelection(bank, seeded.id, seeded.timeZone);
  await seedDemoOperators(bank);
  return true;
}

/**
 * 最美庭院 2026年12月 of East Village, published now for the default notice period (公示) with three
 * candidates, and one objection (异议) waiting for an admin: the selection waits for it, so the demo
 * shows a shortlist on notice whenever it is started. Its rule pays 50 POINTS a winner.
 * (Databases migrated only to before selections existed, in tests of old migrations, get none.)
 */
async function seedDemoSelection(bank: Bank, headId: string, timeZone: string): Promise<void> {
  if (!(await bank.knex.schema.hasTable('selections'))) return;
  const now = bank.clock();
  const village = await bank.knex('branches').where({ code: demoBranchCodes[0] }).first('id');
  const member = async (external: string) => (await bank.knex('members').where({ head_id: headId, external_id: external }).first('id')).id;
  await bank.knex.transaction(async (trx) => {
    await trx('rules').insert({
      head_id: headId, branch_id: headId, code: demoSelectionRule, version: 1, name: '最美庭院 Most beautiful courtyard', category: 'selection',
      outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '50.00', direction: 'CREDIT' }]), caps: '[]', requires_approval: false,
      allowed_clients: [], created_by: 'demo-seed',
    });
    const [selection] = await trx('selections').insert({
      head_id: headId, branch_id: village.id, title: demoSelectionTitle, quota: 3, rule_code: demoSelectionRule, notice_days: noticeDaysDefault,
      status: 'PUBLISHED', opened_by: 'demo-seed', opened_at: now, published_at: now, period_ends_at: noticePeriodEnd(now, noticeDaysDefault, timeZone),
    }).returning('id');
    const history = (act: string, actor: string, details: object) =>
      trx('selection_history').insert({ head_id: headId, selection_id: selection.id, act, actor, at: now, details: JSON.stringify(details) });
    await history('OPENED', 'demo-seed', { title: demoSelectionTitle, quota: 3, rule: demoSelectionRule });
    const candidates: string[] = [];
    for (const [external, reason] of [['demo-user-004', '房前屋后干净整洁，花木修剪得当'], ['demo-user-007', '庭院绿化好，垃圾分类到位'], ['demo-user-013', '主动清理公共区域，带动邻里']]) {
      const [row] = await trx('selection_candidates').insert({
        head_id: headId, selection_id: selection.id, kind: 'MEMBER', member_id: await member(external!), reason,
        evidence_links: [`https://example.org/demo/courtyard-${external}.jpg`], status: 'NOMINATED', nominated_by: 'demo-seed', nominated_at: now,
      }).returning('id');
      candidates.push(String(row.id));
      await history('NOMINATED', 'demo-seed', { candidateId: String(row.id), reason });
    }
    await history('PUBLISHED', 'demo-seed', { periodEndsAt: noticePeriodEnd(now, noticeDaysDefault, timeZone).toISOString(), timeZone });
    const objector = await member('demo-user-010');
    const [objection] = await trx('selection_objections').insert({
      head_id: headId, selection_id: selection.id, candidate_id: candidates[1], member_id: objector, filed_by: `member-${objector}`, filed_at: now,
      reason: '该户院内堆放杂物，影响邻里通行', status: 'OPEN',
    }).returning('id');
    await history('OBJECTED', `member-${objector}`, { objectionId: String(objection.id), candidateId: candidates[1] });
  });
}

/**
 * The demo admin (of the demo head bank) and the demo shop assistant (staff of the demo grocery),
 * each created once: a username that exists is left as it is (its password too, if someone changed it).
 * A database migrated only up to before operators existed (tests of old migrations) gets none.
 */
export async function seedDemoOperators(bank: Bank): Promise<string[]> {
  const { rows } = await bank.knex.raw(`SELECT to_regclass('operators') IS NOT NULL AS present`);
  if (!rows[0].present) return [];
  const head = await bank.branches.byCodeOrNull(demoHeadCode);
  if (!head) return [];
  const existing = new Set((await bank.knex('operators').whereIn('username', [demoOperators.admin.username, demoOperators.shop.username])
    .select('username')).map((r: { username: string }) => r.username));
  const created: string[] = [];
  const grocery = await bank.knex('merchants').where({ head_id: head.id, name: demoGroceryName }).first('id');
  const wanted = [
    { ...demoOperators.admin, role: 'admin' as const, placement: () => placeOperator(bank, head.id, 'admin', head.code, null) },
    ...(grocery ? [{ ...demoOperators.shop, role: 'merchant' as const, placement: () => placeOperator(bank, head.id, 'merchant', null, String(grocery.id)) }] : []),
  ];
  for (const op of wanted) {
    if (existing.has(op.username)) continue;
    const id = await insertOperator(bank.knex, {
      headId: head.id, username: op.username, displayName: op.displayName, role: op.role, placement: await op.placement(),
      passwordHash: await hashPassword(op.password, bank.config.operators.passwordLogN), createdBy: 'demo-seed',
    });
    if (id) created.push(op.username);
  }
  return created;
}

/** The demo resident whose voucher waits at the demo grocery's counter. */
const demoVoucherHolder = 'demo-user-001';
/** What that voucher is for: the cheapest daily good, so the holder's points always cover a few. */
const demoVoucherItem = 'soap';

/**
 * A voucher waiting at the demo grocery's counter, so that a person trying the counter page has a
 * code to type or scan: the holder's newest PENDING one that has not expired, or a fresh one redeemed
 * through the same write path as the API (points held, stock reserved). Outside production only.
 * Returns its code (XXXXX-XXXXX), or null when the demo bank or its grocery is not there.
 */
export async function ensureDemoVoucher(bank: Bank): Promise<string | null> {
  const head = await bank.branches.byCodeOrNull(demoHeadCode);
  if (!head) return null;
  const member = await bank.knex('members').where({ head_id: head.id, external_id: demoVoucherHolder }).first('id');
  const item = await bank.knex('catalog_items as i').join('merchants as m', function () { this.on('m.head_id', 'i.head_id').andOn('m.id', 'i.merchant_id'); })
    .where({ 'i.head_id': head.id, 'i.code': demoVoucherItem, 'm.name': demoGroceryName }).first('i.id');
  if (!member || !item) return null;
  const waiting = await bank.knex('redemptions').where({ head_id: head.id, member_id: member.id, item_id: item.id, status: 'PENDING' })
    .andWhere('expires_at', '>', bank.clock()).orderBy('id', 'desc').first('code');
  let code: string | undefined = waiting?.code;
  if (!code) {
    const key = `seed-voucher-${bank.clock().toISOString()}`;
    const written = await callFunction(bank.pool, 'cb_redeem', [head.id, `member-${member.id}`, 'member', key, requestHash('redeem', { key }), member.id, item.id, 1, newVoucherCode()]) as { redemption?: { code?: string } } | null;
    code = written?.redemption?.code ?? (await bank.knex('redemptions').where({ head_id: head.id, member_id: member.id, item_id: item.id, status: 'PENDING' }).orderBy('id', 'desc').first('code'))?.code;
  }
  return code ? `${code.slice(0, 5)}-${code.slice(5)}` : null;
}
