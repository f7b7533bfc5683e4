// npm run migrate: brings the service's database (embedded, or DATABASE_URL) to the latest schema
// and exits; npm start does the same on every start, this is for operators who migrate first.
import { loadConfig } from '../config.js';
import { connectDatabaseServer } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { describeAppliedDefinitions, migrateToLatest } from '../db/migrate.js';

const log = (line: string) => console.error(`[migrate] ${line}`);
const config = loadConfig();
const server = await connectDatabaseServer(config, 'civility_bank', false, log);
const db = openDatabase(server.url, 2);
try {
  const applied = await migrateToLatest(db.knex, config.partitionMonthsAhead,
    { onDefinitionsApplied: (names) => log(describeAppliedDefinitions(names)) });
  log(applied.length ? `applied: ${applied.join(', ')}` : 'already at the latest schema');
} finally {
  await db.close();
  await server.stop();
}
