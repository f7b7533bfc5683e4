// npm run schema:dump: migrates a scratch database and writes schema/database.sql, the committed
// dump that test/db/schema.test.ts compares against.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, projectRoot } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { dumpSchema } from '../db/schemaDump.js';

const config = loadConfig();
const server = await connectDatabaseServer(config, 'civility_schema_dump', true, (l) => console.error(l));
const db = openDatabase(server.url, 2);
try {
  await migrateToLatest(db.knex, config.partitionMonthsAhead);
  const file = path.join(projectRoot, 'schema/database.sql');
  fs.writeFileSync(file, await dumpSchema(db.knex));
  console.log(`wrote ${path.relative(projectRoot, file)}`);
} finally {
  await db.close();
  await server.stop();
}
