import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { dumpSchema } from '../../src/db/schemaDump.js';
import { projectRoot } from '../../src/config.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 2 }); });
afterAll(async () => { await h.close(); });

it('the migrated database matches the committed schema dump (run npm run schema:dump after a migration)', async () => {
  const committed = fs.readFileSync(path.join(projectRoot, 'schema/database.sql'), 'utf8');
  expect(await dumpSchema(h.bank.knex)).toBe(committed);
});

it('postings refuse UPDATE and DELETE: history is append-only', async () => {
  const amount = await h.bank.knex.raw(`UPDATE postings SET amount = amount WHERE false`).then(() => 'allowed-empty');
  expect(amount).toBe('allowed-empty');
  const id = await h.addMember(`${h.tag}-append`);
  const res = await h.gql(h.clientToken, `mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transaction { id } } }`,
    { i: { idempotencyKey: h.key(), memberId: id, rule: 'garbage.bin-duty' } });
  const txn = res.data.awardPoints.transaction.id;
  await expect(h.bank.knex('postings').where({ head_id: h.head.id, transaction_id: txn }).update({ amount: '500.00' })).rejects.toThrow(/append-only/);
  await expect(h.bank.knex('postings').where({ head_id: h.head.id, transaction_id: txn }).delete()).rejects.toThrow(/append-only/);
  await h.checkInvariants();
});
