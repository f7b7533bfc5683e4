// The SQL functions as repeatable definitions (src/**/sql/*.sql, applied by migrateToLatest after the
// versioned migrations): every function has its one file, files apply in their listed order, a
// changed file runs again on the next start and an unchanged one does not, a broken file stops the
// start by name and changes nothing, and processes starting together all come up.
// Runs on a database of its own (migrated from empty), except the first test, which reads the shared one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { loadConfig, projectRoot } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { loadSqlDefinitions, sqlDefinitionFiles, type SqlDefinition } from '../../src/db/sqlDefinitions.js';

const database = `civility_definitions_${process.pid}`;
const serverUrl = new URL(inject('databaseUrl'));
const urlOf = (name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
const admin = knexFactory({ client: 'pg', connection: urlOf('postgres'), pool: { min: 0, max: 1 } });
const months = loadConfig({ ...process.env }).partitionMonthsAhead;
const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-definitions-'));
let db: Database;

beforeAll(async () => {
  await admin.raw(`CREATE DATABASE ${database}`);
  db = openDatabase(urlOf(database), 2);
});

afterAll(async () => {
  await db?.close();
  await admin.raw(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.destroy();
  fs.rmSync(probeDir, { recursive: true, force: true });
});

/** The functions of the public schema, as name → number of overloads. */
async function functionsIn(knex: Knex): Promise<Record<string, number>> {
  const { rows } = await knex.raw(`SELECT p.proname AS name, count(*)::int AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
    WHERE s.nspname = 'public' GROUP BY 1 ORDER BY 1`);
  return Object.fromEntries(rows.map((r: { name: string; n: number }) => [r.name, r.n]));
}

function sqlFilesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sqlFilesUnder(full);
    return e.name.endsWith('.sql') ? [full] : [];
  });
}

/** The definitions of the service, then a probe file of the test's own (written with text). */
function withProbe(file: string, text: string): SqlDefinition[] {
  fs.writeFileSync(path.join(probeDir, file), text);
  return [...loadSqlDefinitions(), ...loadSqlDefinitions([file], probeDir)];
}

const probe = (value: number) => `-- A probe of the test's own. A question mark? It reaches PostgreSQL as written.
CREATE OR REPLACE FUNCTION cb_test_probe() RETURNS integer LANGUAGE sql IMMUTABLE AS $fn$ SELECT ${value} $fn$;
`;

async function probeValue(): Promise<number> {
  const { rows: [row] } = await db.knex.raw('SELECT cb_test_probe() AS v');
  return row.v;
}

async function recorded(name: string): Promise<{ checksum: string; applied_at: Date } | undefined> {
  return db.knex('repeatable_definitions').where({ name }).first('checksum', 'applied_at');
}

it('every SQL function of the migrated database is defined by exactly one listed file under src/, and every such file is listed', async () => {
  const src = path.join(projectRoot, 'src');
  const onDisk = sqlFilesUnder(src).map((f) => path.relative(src, f).split(path.sep).join('/')).sort();
  expect(onDisk).toEqual([...sqlDefinitionFiles].sort());
  expect(new Set(sqlDefinitionFiles).size).toBe(sqlDefinitionFiles.length);
  const defined: Record<string, string[]> = {};
  for (const { name, sql } of loadSqlDefinitions()) {
    for (const [, fn] of sql.matchAll(/^CREATE OR REPLACE FUNCTION (\w+)\(/gm)) (defined[fn!] ??= []).push(name);
  }
  // Overloads of one function share a file.
  for (const [fn, files] of Object.entries(defined)) expect(new Set(files).size, `${fn} is defined in ${files.join(', ')}`).toBe(1);
  const shared = knexFactory({ client: 'pg', connection: inject('databaseUrl'), pool: { min: 0, max: 1 } });
  try {
    const counts = Object.fromEntries(Object.entries(defined).map(([fn, files]) => [fn, files.length]));
    expect(counts).toEqual(await functionsIn(shared));
  } finally {
    await shared.destroy();
  }
});

it('processes starting together on an empty database all come up migrated, with every definition applied once', async () => {
  const others = [openDatabase(urlOf(database), 2), openDatabase(urlOf(database), 2)];
  try {
    const runs: string[][] = [];
    const applied = await Promise.all([db, ...others].map((d) => migrateToLatest(d.knex, months, { onDefinitionsApplied: (names) => runs.push(names) })));
    // One of them ran the versioned migrations and the definitions; the others found nothing to do.
    expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
    expect(runs).toEqual([[...sqlDefinitionFiles]]);
  } finally {
    await Promise.all(others.map((d) => d.close()));
  }
  const { rows } = await db.knex.raw('SELECT count(*)::int AS n FROM repeatable_definitions');
  expect(rows[0].n).toBe(sqlDefinitionFiles.length);
  expect(Object.keys(await functionsIn(db.knex)).length).toBeGreaterThan(40);
}, 300_000);

it('a changed definition file is applied again on the next start, an unchanged one is not', async () => {
  let runs: string[][] = [];
  const onDefinitionsApplied = (names: string[]) => runs.push(names);

  await migrateToLatest(db.knex, months, { definitions: withProbe('probe.sql', probe(1)), onDefinitionsApplied });
  expect(runs).toEqual([['probe.sql']]);
  expect(await probeValue()).toBe(1);
  const first = await recorded('probe.sql');

  runs = [];
  await migrateToLatest(db.knex, months, { definitions: withProbe('probe.sql', probe(1)), onDefinitionsApplied });
  expect(runs).toEqual([]);
  expect(await recorded('probe.sql')).toEqual(first);

  await migrateToLatest(db.knex, months, { definitions: withProbe('probe.sql', probe(2)), onDefinitionsApplied });
  expect(runs).toEqual([['probe.sql']]);
  expect(await probeValue()).toBe(2);
  expect((await recorded('probe.sql'))!.checksum).not.toBe(first!.checksum);
}, 120_000);

it('a broken definition file stops the start with an error naming the file, and nothing of that start stays', async () => {
  await migrateToLatest(db.knex, months, { definitions: withProbe('probe.sql', probe(2)) });
  const before = await recorded('probe.sql');
  // The probe changes (applied first), then a file that does not compile.
  fs.writeFileSync(path.join(probeDir, 'probe.sql'), probe(3));
  fs.writeFileSync(path.join(probeDir, 'broken.sql'), `-- refers to a column that does not exist
CREATE OR REPLACE FUNCTION cb_test_broken() RETURNS integer LANGUAGE sql AS $fn$
  SELECT no_such_column FROM branches
$fn$;
`);
  const definitions = [...loadSqlDefinitions(), ...loadSqlDefinitions(['probe.sql', 'broken.sql'], probeDir)];
  await expect(migrateToLatest(db.knex, months, { definitions }))
    .rejects.toThrow(/^SQL definition src\/broken\.sql, line 3 failed: column "no_such_column" does not exist/);
  expect(await probeValue()).toBe(2);
  expect(await recorded('probe.sql')).toEqual(before);
  expect(await recorded('broken.sql')).toBeUndefined();

  // A plpgsql body that does not parse is refused at creation too, with PostgreSQL's line in the body.
  fs.writeFileSync(path.join(probeDir, 'broken.sql'), `CREATE OR REPLACE FUNCTION cb_test_broken() RETURNS integer LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN 1
END
$fn$;
`);
  const error = await migrateToLatest(db.knex, months, { definitions: [...loadSqlDefinitions(), ...loadSqlDefinitions(['broken.sql'], probeDir)] })
    .then(() => undefined, (e: Error) => e);
  expect(error?.message).toMatch(/^SQL definition src\/broken\.sql, line \d+ failed: syntax error/);

  // Fixed (or left out), the next start goes through.
  await migrateToLatest(db.knex, months, { definitions: withProbe('probe.sql', probe(3)) });
  expect(await probeValue()).toBe(3);
}, 120_000);

it('the files apply in their listed order on a database that has none of the functions (SQL functions are checked at creation)', async () => {
  const client = new pg.Client({ connectionString: urlOf(database) });
  await client.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(`SELECT p.oid::regprocedure::text AS signature FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
      WHERE s.nspname = 'public' AND p.proname LIKE 'cb\\_%'`);
    // CASCADE drops the triggers too; all of it is rolled back below.
    await client.query(`DROP FUNCTION ${rows.map((r) => r.signature).join(', ')} CASCADE`);
    expect(await countIn(client)).toBe(0);
    for (const { name, sql } of loadSqlDefinitions()) {
      await client.query(sql).catch((e: Error) => { throw new Error(`${name}: ${e.message}`); });
    }
    expect(await countIn(client)).toBe(rows.length - 1); // all but the test's cb_test_probe
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
  }
}, 120_000);

/** How many functions (overloads counted) the service's schema has. */
async function countIn(client: pg.Client): Promise<number> {
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
    WHERE s.nspname = 'public' AND p.proname LIKE 'cb\\_%'`);
  return rows[0].n;
}
