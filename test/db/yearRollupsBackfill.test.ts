// Migration 031 on a bank that already has history: a database migrated only up to the monthly
// rollups gets the demo bank's year of awards, deductions, claims and redemptions, then the rest of
// the migrations run; the yearly rollups must equal the postings (findRollupMismatches), and keep
// doing so for awards made afterwards.
import knexFactory from 'knex';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { findRollupMismatches } from '../../src/reports/rollups.js';
import { migrations } from '../../migrations/index.js';
import { seedDemoBank } from '../../seeds/demo.js';

const database = `civility_backfill_${process.pid}`;
const serverUrl = new URL(inject('databaseUrl'));
const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
const admin = knexFactory({ client: 'pg', connection: urlOf('postgres'), pool: { min: 0, max: 1 } });

afterAll(async () => {
  await admin.raw(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.destroy();
});

it('backfills the yearly rollups of a bank with history exactly, and the triggers keep them exact', async () => {
  await admin.raw(`CREATE DATABASE ${database}`);
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false' });
  const before = Object.keys(migrations).sort().filter((name) => name < '20261125_030');
  const old = knexFactory({ client: 'pg', connection: urlOf(database), pool: { min: 0, max: 2 } });
  try {
    await old.migrate.latest({ migrationSource: {
      getMigrations: async () => before, getMigrationName: (name: string) => name, getMigration: async (name: string) => migrations[name]!,
    } });
    await old.raw(`SELECT cb_ensure_posting_partitions((now() - interval '13 months')::date, 15)`);
  } finally {
    await old.destroy();
  }
  const bank = await openBank(config, urlOf(database));
  try {
    expect(await seedDemoBank(bank)).toBe(true);
    const monthly = await bank.knex('member_rollups').count({ n: '*' }).first();
    expect(Number(monthly!.n)).toBeGreaterThan(0);
    // 030 and 031 first, then whatever came later (032's check of wallet branches passes on this history too).
    expect((await migrateToLatest(bank.knex, config.partitionMonthsAhead)).slice(0, 2)).toEqual(['20261125_030_member_year_rollups', '20261125_031_backfill_member_year_rollups']);
    const heads = (await bank.knex('branches').whereNull('parent_id').select('id')).map((r: any) => String(r.id));
    for (const head of heads) expect(await findRollupMismatches(bank, head)).toEqual([]);
    const yearly = await bank.knex('member_year_rollups').count({ n: '*' }).first();
    expect(Number(yearly!.n)).toBeGreaterThan(0);
    // An award after the migration lands in both rollups.
    const member = await bank.knex('members').whereIn('head_id', heads).first('head_id', 'id');
    const wallet = await bank.knex('accounts').where({ head_id: member.head_id, owner_type: 'MEMBER', owner_id: member.id, asset_code: 'POINTS' }).first('id');
    const issuance = await bank.knex('accounts').where({ head_id: member.head_id, owner_type: 'SYSTEM', purpose: 'ISSUANCE', asset_code: 'POINTS' }).first('id');
    await bank.knex.transaction(async (trx) => {
      const { rows: [t] } = await trx.raw(`INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at)
        SELECT ?, nextval('transactions_id_seq'), 'ADJUST', 'POSTED', branch_id, id, 'test', 'admin', now(), now() FROM members WHERE head_id = ? AND id = ? RETURNING id`,
      [member.head_id, member.head_id, member.id]);
      await trx.raw(`INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, recorded_at)
        VALUES (:head, :t, 1, :wallet, 'POINTS', 2, 2.50, now()), (:head, :t, 2, :issuance, 'POINTS', 2, -2.50, now())`,
      { head: member.head_id, t: t.id, wallet: wallet.id, issuance: issuance.id });
    });
    expect(await findRollupMismatches(bank, String(member.head_id))).toEqual([]);
  } finally {
    await bank.close();
  }
});
