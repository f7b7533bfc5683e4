// The demo seed's selection: 最美庭院 2026年12月 of East Village, on notice with three candidates and
// one objection waiting, on the public board with masked names; the objection holds it past its
// period's end. In a database of its own, seeded as a first start seeds it.
import request from 'supertest';
import { expect, it } from 'vitest';
import { scratchDatabase } from '../support/scratchDatabase.js';
import { loadConfig } from '../../src/config.js';
import { openBank } from '../../src/bank.js';
import { buildApp } from '../../src/http/app.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/database.js';
import { awardDueSelections, startSelectionAwarder } from '../../src/selections/awarding.js';
import { signToken } from '../../src/auth/tokens.js';
import { demoBranchCodes, demoHeadCode, demoSelectionTitle, seedDemoBank } from '../../seeds/demo.js';

const database = scratchDatabase('civility_demo_selection');

it('seeds a selection in its notice period with one open objection, shown on the board, held by the objection until the background round pays it', async () => {
  await database.create();
  const config = loadConfig({ ...process.env, SEED_DEMO: 'false', RATE_LIMIT_ANONYMOUS_REQUESTS: '0', OPERATOR_PASSWORD_LOG_N: '12' });
  const db = openDatabase(database.url, 2);
  try {
    await migrateToLatest(db.knex, config.partitionMonthsAhead);
  } finally {
    await db.close();
  }
  let now = new Date('2026-12-03T02:00:00Z');
  const bank = await openBank(config, database.url, () => now);
  try {
    expect(await seedDemoBank(bank)).toBe(true);
    const selection = await bank.knex('selections').first();
    expect(selection).toMatchObject({ title: demoSelectionTitle, status: 'PUBLISHED', quota: 3, notice_days: 5, rule_code: 'selection.courtyard' });
    expect(selection.period_ends_at.toISOString()).toBe('2026-12-07T16:00:00.000Z'); // 8 December 00:00 in Shanghai
    expect(await bank.knex('selection_objections').where({ status: 'OPEN' }).count({ n: '*' }).first()).toEqual({ n: '1' });
    const built = await buildApp(bank, () => undefined);
    try {
      const res = await request(built.app).post('/graphql').set('content-type', 'application/json')
        .send({ query: `query($b: String!) { noticeBoard(branch: $b) { selections { title candidates openObjections names } } }`, variables: { b: demoBranchCodes[0] } });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.noticeBoard.selections).toEqual([{ title: demoSelectionTitle, candidates: 3, openObjections: 1, names: [expect.stringMatching(/\*/), expect.stringMatching(/\*/), expect.stringMatching(/\*/)] }]);
    } finally {
      await built.stop();
    }
    // the open objection holds the whole selection past the period's end
    now = new Date('2026-12-20T00:00:00Z');
    expect(await awardDueSelections(bank)).toMatchObject({ awarded: 0, selections: 0 });
    expect((await bank.knex('selections').first()).status).toBe('PUBLISHED');
    // an admin dismisses it; the background round (as every service process runs it) pays the three winners
    const objection = await bank.knex('selection_objections').first('id');
    const token = signToken(config, { sub: 'demo-admin-test', role: 'admin', branch: demoHeadCode });
    const app = await buildApp(bank, () => undefined);
    try {
      const res = await request(app.app).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${token}`)
        .send({ query: `mutation($i: ResolveObjectionInput!) { resolveObjection(input: $i) { objection { status } } }`,
          variables: { i: { idempotencyKey: 'dismiss-1', objection: String(objection.id), decision: 'DISMISSED', reason: '杂物已清理' } } });
      expect(res.body.errors).toBeUndefined();
    } finally {
      await app.stop();
    }
    const stop = startSelectionAwarder(bank, 20, () => undefined);
    try {
      for (let i = 0; i < 200 && (await bank.knex('selections').first()).status !== 'AWARDED'; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await stop();
    }
    expect((await bank.knex('selections').first()).status).toBe('AWARDED');
    expect(await bank.knex('selection_candidates').where({ status: 'AWARDED' }).count({ n: '*' }).first()).toEqual({ n: '3' });
  } finally {
    await bank.close();
  }
});
