// One SQL function, one round trip: the write path's functions (src/*/sql/*.sql) are called
// as named prepared statements, so PostgreSQL plans each once per connection. `fn` is always a
// constant of the caller, never input.
import type pg from 'pg';
import { withRetry } from './errors.js';

export async function callFunction(pool: pg.Pool, fn: string, values: unknown[]): Promise<any> {
  const text = `SELECT ${fn}(${values.map((_, i) => `$${i + 1}`).join(', ')}) AS r`;
  return withRetry(async () => (await pool.query({ name: fn, text, values })).rows[0].r);
}
