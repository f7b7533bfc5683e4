// The database handle: a knex instance (schema, simple queries, admin writes) and a pg pool for the
// hot path (named prepared statements, one round trip per award). Both talk to the same database,
// with the session time zone pinned to UTC so that timestamps cross the edge unambiguously.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export interface Database {
  knex: Knex;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Statements that wait longer than this on a lock are cancelled rather than piling up requests. */
const lockTimeoutMs = 10_000;
/** A single statement running longer than this is a bug or an attack; it is cancelled (the service passes its request budget instead). */
const statementTimeoutDefaultMs = 60_000;

/** @param statementTimeoutMs statement_timeout of every connection (0: none, for offline tools) */
export function openDatabase(connectionString: string, poolSize: number, statementTimeoutMs = statementTimeoutDefaultMs): Database {
  const options = `-c TimeZone=UTC -c lock_timeout=${lockTimeoutMs} -c statement_timeout=${statementTimeoutMs}`;
  // The hot pool runs a few named statements whose plans do not depend on their values; planning
  // them afresh per call (custom plans: partitioned postings make that ~0.4 ms) cost more than running them.
  const pool = new pg.Pool({
    connectionString, max: poolSize, options: `${options} -c plan_cache_mode=force_generic_plan`, application_name: 'civility-bank',
  } as pg.PoolConfig);
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', () => undefined);
  // Nor one in use: pool.query listens for a client's 'error' only until its query answers, and a
  // connection killed by a database restart can emit 'error' after that (the FATAL "terminating
  // connection" arriving after the query failed); unheard, it ended a service process once in the
  // fault harness's 66 PostgreSQL restarts. The query itself still fails and the client is discarded.
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString, options, application_name: 'civility-bank-knex' } as Knex.PgConnectionConfig,
    pool: { min: 0, max: Math.max(2, Math.ceil(poolSize / 2)) },
  });
  return {
    knex,
    pool,
    async close() {
      await Promise.allSettled([pool.end(), knex.destroy()]);
    },
  };
}
