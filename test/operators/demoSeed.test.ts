// The demo's people: a demo bank seeded before operators existed gets its demo admin and demo shop
// assistant on the next start (seedDemoBank returns early for an existing bank), once, and they can
// sign in with the credentials npm start prints. In a database of its own: usernames are global.
import request from 'supertest';
import { expect, it } from 'vitest';
import { scratchDatabase } from '../support/scratchDatabase.js';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { buildApp } from '../../src/http/app.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/database.js';
import { createHeadBank, insertChildBranch } from '../../src/directory/branches.js';
import { insertMerchant } from '../../src/redemption/merchants.js';
import { demoGroceryName, demoHeadCode, demoOperators, seedDemoBank } from '../../seeds/demo.js';

const database = scratchDatabase('civility_demo_operators');

it('adds the demo admin and shop assistant to a demo bank seeded before operators existed, once, and they sign in', async () => {
  await database.create();
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', OPERATOR_PASSWORD_LOG_N: '12' });
  const db = openDatabase(database.url, 2);
  try {
    await migrateToLatest(db.knex, config.partitionMonthsAhead);
  } finally {
    await db.close();
  }
  const bank = await openBank(config, database.url);
  try {
    // What an older seed left: the demo head bank, its branches and the grocery, and no operators.
    const head = await createHeadBank(bank, { code: demoHeadCode, name: 'Demo town' });
    const river = await bank.knex.transaction((trx) => insertChildBranch(trx, head, { code: 'demo-river-community', name: 'Riverside' }));
    const grocery = await bank.knex.transaction((trx) => insertMerchant(trx, head.id, river.id, demoGroceryName));
    expect(await seedDemoBank(bank)).toBe(false);
    const rows = await bank.knex('operators').orderBy('id').select('username', 'role', 'branch_id', 'merchant_id', 'created_by');
    expect(rows).toEqual([
      { username: 'demo-admin', role: 'admin', branch_id: head.id, merchant_id: null, created_by: 'demo-seed' },
      { username: 'demo-shop', role: 'merchant', branch_id: river.id, merchant_id: grocery, created_by: 'demo-seed' },
    ]);
    // The next start finds them and leaves them alone.
    expect(await seedDemoBank(bank)).toBe(false);
    expect(await bank.knex('operators').count({ n: '*' }).first()).toEqual({ n: '2' });
    const built = await buildApp(bank, () => undefined);
    try {
      for (const [who, role] of [[demoOperators.admin, 'admin'], [demoOperators.shop, 'merchant']] as const) {
        const res = await request(built.app).post('/graphql').set('content-type', 'application/json')
          .send({ query: `mutation($i: SignInInput!) { signIn(input: $i) { token operator { role } } }`, variables: { i: { username: who.username, password: who.password } } });
        expect(res.body.errors, who.username).toBeUndefined();
        expect(res.body.data.signIn.operator.role).toBe(role);
      }
    } finally {
      await built.stop();
    }
  } finally {
    await bank.close();
  }
});
