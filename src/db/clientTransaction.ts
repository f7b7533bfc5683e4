// One database transaction on a client of its own, for background rounds that lock a row and work
// under it over several statements (the sealer, the event producer, the NATS publisher): BEGIN, the work, then
// COMMIT, or ROLLBACK on any failure. A client whose connection broke is not pooled again.
import type pg from 'pg';

export async function inClientTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client that loses its connection (a database restart) emits 'error'; unheard, that
  // would end the process. The failing query rejects anyway.
  const ignore = () => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    broken = error as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}
