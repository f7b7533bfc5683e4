// The command-line tools as a new operator meets them: against a database that is not set up they
// say what to do (one line, no stack trace), migrate sets it up, and the token command explains
// itself and refuses to guess a client's rules.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config.js';

interface Run { code: number; stdout: string; stderr: string }

function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/cli', script), ...args],
      { cwd: projectRoot, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
  });
}

const testUrl = new URL(inject('databaseUrl'));
const created: string[] = [];

function urlOf(database: string): string {
  const url = new URL(testUrl.toString());
  url.pathname = `/${database}`;
  return url.toString();
}

async function createEmptyDatabase(): Promise<string> {
  const name = `cli_${randomUUID().slice(0, 8)}`;
  const client = new pg.Client({ connectionString: urlOf('postgres') });
  await client.connect();
  try { await client.query(`CREATE DATABASE ${name}`); } finally { await client.end(); }
  created.push(name);
  return name;
}

afterAll(async () => {
  const client = new pg.Client({ connectionString: urlOf('postgres') });
  await client.connect();
  try {
    for (const name of created) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally { await client.end(); }
});

/** No line of a Node stack trace ("    at f (file:1:2)"). */
const stackLine = /^\s+at .+\(.*:\d+:\d+\)$/m;

describe('the command line against a database that is not set up', () => {
  it('verify and sweep say to run npm run migrate first, with no stack trace, and exit 2', async () => {
    const database = await createEmptyDatabase();
    for (const script of ['verify.ts', 'sweep.ts']) {
      const result = await run(script, [], { DATABASE_URL: urlOf(database) });
      expect(result.code, `${script}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/no schema yet: run npm run migrate/);
      expect(result.stderr).not.toMatch(stackLine);
      expect(result.stderr).not.toMatch(/relation "assets" does not exist/);
    }
  });

  it('verify on an embedded cluster that was never created says so instead of creating one', async () => {
    const dataDir = path.join(projectRoot, '.data', `never-${randomUUID().slice(0, 8)}`);
    const result = await run('verify.ts', [], { DATABASE_URL: '', PG_DATA_DIR: dataDir, PG_PORT: '54999' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/there is no database yet .*run npm run migrate or npm start first/);
    expect(result.stderr).not.toMatch(stackLine);
  });

  it('migrate creates a missing DATABASE_URL database and migrates it, after which verify passes', async () => {
    const name = `cli_${randomUUID().slice(0, 8)}`;
    created.push(name);
    const migrated = await run('migrate.ts', [], { DATABASE_URL: urlOf(name) });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stderr).toMatch(/created the database of DATABASE_URL/);
    expect(migrated.stderr).toMatch(/applied: 20261123_001_journal/);
    const again = await run('migrate.ts', [], { DATABASE_URL: urlOf(name) });
    expect(again.stderr).toMatch(/already at the latest schema/);
    const verified = await run('verify.ts', [], { DATABASE_URL: urlOf(name) });
    // A migrated database without any head bank: verify reads it and says there is nothing to verify.
    expect(verified.stderr).toMatch(/no head banks/);
    expect(verified.stderr).not.toMatch(stackLine);
  });

  it('a database that cannot be reached is one line naming what to check', async () => {
    const result = await run('sweep.ts', [], { DATABASE_URL: 'postgres://postgres:x@127.0.0.1:1/nothing' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot reach the database .*ECONNREFUSED.*DATABASE_URL or PG_PORT/);
    expect(result.stderr).not.toMatch(stackLine);
  });
});

describe('npm run token', () => {
  it('--help prints the usage and exits 0', async () => {
    const result = await run('token.ts', ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/usage: npm run token -- --role/);
    expect(result.stdout).toMatch(/--rules/);
  });

  it('an unknown option prints the usage, not a stack trace', async () => {
    const result = await run('token.ts', ['--bogus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown option '--bogus'/);
    expect(result.stderr).not.toMatch(stackLine);
  });

  it('a client token without --rules is refused with a message naming --rules, and minted with it', async () => {
    const refused = await run('token.ts', ['--role', 'client']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/pass --rules a,b .* or --rules '\*'/);
    const minted = await run('token.ts', ['--role', 'client', '--rules', 'garbage.sorted-drop']);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim().split('\n').at(-1)!;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims.rules).toEqual(['garbage.sorted-drop']);
  });
});
