// Planner statistics at start: a table that holds rows but was never analyzed (a database restored
// with pg_restore, a bulk load that autovacuum has not reached yet) gets ANALYZE before the service
// serves; so does one analyzed while empty (migrations 031 and 051 analyze the rollups they create)
// that holds rows now. Without statistics PostgreSQL 15 planned an award's statements on guesses that scanned a
// head bank's every account and transaction per award (~20 ms and ~70 ms at 10,000 transactions,
// growing with the bank). Tables already analyzed, and empty ones, are autovacuum's to keep.
import type { Knex } from 'knex';

/**
 * Tables this process analyzes at most: the schema has about 40 tables plus monthly posting
 * partitions; past this the rest are left to autovacuum rather than holding up the start.
 */
export const tablesAnalyzedAtStartMax = 200;

/** Returns the names of the tables it analyzed. */
export async function analyzeNeverAnalyzed(knex: Knex): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: { name: string }[] }>(`
    SELECT format('%I.%I', s.schemaname, s.relname) AS name
      FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE s.schemaname = current_schema()
       AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) OR c.reltuples = 0)
       AND (s.n_live_tup > 0 OR pg_relation_size(c.oid) > 0)
     ORDER BY pg_relation_size(c.oid) DESC
     LIMIT ?`, [tablesAnalyzedAtStartMax]);
  for (const { name } of rows) await knex.raw(`ANALYZE ${name}`);
  return rows.map((r) => r.name);
}
