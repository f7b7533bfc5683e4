// npm run migrate: brings the service's database (embedded, or DATABASE_URL) to the latest schema
// and exits; npm start does the same on every start, this is for operators who migrate first.
// A fresh embedded cluster is initialised; a DATABASE_URL naming a database the server does not have
// yet gets it created. A database it cannot reach is one line saying what to check, not a stack.
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { describeAppliedDefinitions, migrateToLatest } from '../db/migrate.js';
import { connectForCli, createDatabaseOfUrl, runCli } from './cliDatabase.js';

const log = (line: string) => console.error(`[migrate] ${line}`);

await runCli('migrate', async () => {
  const config = loadConfig();
  if (config.databaseUrl && await createDatabaseOfUrl(config.databaseUrl)) log('created the database of DATABASE_URL');
  const server = await connectForCli(config, 'civility_bank', log, false);
  const db = openDatabase(server.url, 2);
  try {
    const applied = await migrateToLatest(db.knex, config.partitionMonthsAhead,
      { onDefinitionsApplied: (names) => log(describeAppliedDefinitions(names)) });
    log(applied.length ? `applied: ${applied.join(', ')}` : 'already at the latest schema');
  } finally {
    await db.close();
    await server.stop();
  }
});
