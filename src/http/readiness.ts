// GET /ready: whether this process can serve — its database answers, every versioned migration this
// code knows is applied, and every SQL function's current text has run (repeatable definitions). A
// load balancer or orchestrator sends traffic only while it answers 200; /health (the process and a
// SELECT 1) stays as it was.
import type { Knex } from 'knex';
import { pendingMigrations, staleDefinitions } from '../db/migrate.js';
import type { SqlDefinition } from '../db/sqlDefinitions.js';

/**
 * How long the check may take before it answers 503: a probe waits a few seconds at most, and a
 * database that takes longer to answer three small queries is not ready to serve requests either.
 */
export const readinessTimeoutMs = 3_000;
/** Names shown in a reason: enough to act on, bounded however far behind the database is. */
const namesShownMax = 3;

export type Readiness = { ready: true } | { ready: false; reason: string };

function listed(names: string[]): string {
  return names.slice(0, namesShownMax).join(', ') + (names.length > namesShownMax ? ` and ${names.length - namesShownMax} more` : '');
}

export async function checkReadiness(knex: Knex, definitions: SqlDefinition[]): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: `the database did not answer within ${readinessTimeoutMs} ms` }), readinessTimeoutMs);
  });
  const check = async (): Promise<Readiness> => {
    let migrations: string[];
    let stale: string[];
    try {
      migrations = await pendingMigrations(knex);
      stale = migrations.length ? [] : await staleDefinitions(knex, definitions);
    } catch (error) {
      // the message only (a connection refused, an unknown database): never a connection string
      return { ready: false, reason: `the database cannot be read: ${(error as Error).message}` };
    }
    if (migrations.length) return { ready: false, reason: `migrations not applied: ${listed(migrations)}` };
    if (stale.length) return { ready: false, reason: `SQL definitions not current: ${listed(stale.map((n) => `src/${n}`))}` };
    return { ready: true };
  };
  try {
    return await Promise.race([check(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
