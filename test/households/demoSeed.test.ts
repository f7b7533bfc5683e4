// The demo bank's households (户): 王家, 刘家 and 李家 with their members, the household rule's awards in
// their wallets, and 花园社区's HEAD_ONLY policy. In a database of its own: the demo head bank's code is global.
import knexFactory from 'knex';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/database.js';
import { computeTrialBalance, findBalanceMismatches } from '../../src/ledger/accounts.js';
import { settleAccountDeltas } from '../../src/ledger/settle.js';
import { demoHeadCode, demoHouseholdRule, seedDemoBank } from '../../seeds/demo.js';

const database = `civility_demo_households_${process.pid}`;
const serverUrl = new URL(inject('databaseUrl'));
const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
const admin = knexFactory({ client: 'pg', connection: urlOf('postgres'), pool: { min: 0, max: 1 } });

afterAll(async () => {
  await admin.raw(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.destroy();
});

it('seeds three households with members, household awards in their wallets and a HEAD_ONLY branch, and the books balance', async () => {
  await admin.raw(`CREATE DATABASE ${database}`);
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false', OPERATOR_PASSWORD_LOG_N: '12' });
  const db = openDatabase(urlOf(database), 2);
  try {
    await migrateToLatest(db.knex, config.partitionMonthsAhead);
  } finally {
    await db.close();
  }
  const bank = await openBank(config, urlOf(database));
  try {
    expect(await seedDemoBank(bank)).toBe(true);
    const head = (await bank.branches.byCodeOrNull(demoHeadCode))!;
    const households = await bank.knex('households as h')
      .join('accounts as a', function on() { this.on('a.head_id', 'h.head_id').andOn('a.owner_id', 'h.id'); })
      .where({ 'h.head_id': head.id, 'a.owner_type': 'HOUSEHOLD', 'a.asset_code': 'POINTS' })
      .orderBy('h.external_id').select('h.name', 'a.balance');
    expect(households.map((x) => x.name)).toEqual(['李家', '刘家', '王家']);
    expect(households.every((x) => Number(x.balance) > 0)).toBe(true);
    const members = await bank.knex('household_members').where({ head_id: head.id }).whereNull('left_at').count('* as n').first();
    expect(members).toEqual({ n: '8' });
    const awards = await bank.knex('transactions as t').join('rules as r', function on() { this.on('r.head_id', 't.head_id').andOn('r.id', 't.rule_id'); })
      .where({ 't.head_id': head.id, 'r.code': demoHouseholdRule }).whereNotNull('t.household_id').count('* as n').first();
    expect(Number(awards!.n)).toBeGreaterThan(10);
    const policies = await bank.knex('branches').where({ head_id: head.id }).whereNotNull('household_spending').select('code', 'household_spending');
    expect(policies).toEqual([{ code: 'demo-garden-community', household_spending: 'HEAD_ONLY' }]);
    expect(await findBalanceMismatches(bank, head.id)).toEqual([]);
    await settleAccountDeltas(bank);
    for (const line of await computeTrialBalance(bank, head.id)) expect(line.balanced).toBe(true);
  } finally {
    await bank.close();
  }
});
