// The primary's side of WORKERS=N: forks N HTTP workers (node:cluster) that share one port, restarts
// one that dies (a bounded number of times, then gives up and stops them all), and stops them all on
// request, waiting for each to close its connections before the caller stops the database under them.
// Invariant kept: while not stopping, N workers serve; after stop() resolves, none is left running.
import cluster, { type Worker } from 'node:cluster';

/**
 * Restarts allowed within workerRestartWindowMs before the primary gives up: a worker that dies at
 * once on every start (a bad setting, a database that refuses it) must end the service with its
 * error, not spin forever; five a minute is more than any honest crash rate.
 */
export const workerRestartsMax = 5;
export const workerRestartWindowMs = 60_000;
/**
 * A worker that has not exited this long after SIGTERM is killed: its clean stop closes HTTP
 * connections, waits for the background rounds (a seal or settle round takes well under a second)
 * and closes its pool, so it takes a few seconds at most.
 */
export const workerStopTimeoutMs = 15_000;

export interface WorkerOptions {
  count: number;
  /** The worker's module (default: the one this process started from, process.argv[1]). */
  exec?: string;
  /** Variables each worker's environment gets on top of the primary's (DATABASE_URL, DB_POOL_SIZE …). */
  env: Record<string, string>;
  /** Pipe the workers' stdout/stderr to the primary (onOutput) instead of sharing its terminal. */
  onOutput?: (line: string) => void;
  log: (line: string) => void;
  /** Called once, when the first `count` workers all listen: the port they share. */
  onListening(port: number): void;
  /** Called when the workers cannot be kept running (restarts used up): the caller stops the service. */
  onGiveUp(reason: string): void;
}

export interface Workers {
  /** Process ids of the workers running now. */
  pids(): number[];
  /** SIGTERM to every worker, then SIGKILL past workerStopTimeoutMs; resolves when all have exited. */
  stop(): Promise<void>;
}

// Metrics (the operations issue): each worker keeps its own prom-client registry. With WORKERS > 1
// the primary is the one place that sees every worker, so cluster-wide figures come from prom-client's
// AggregatorRegistry here, in the primary (`new AggregatorRegistry().clusterMetrics()` asks each
// worker over the cluster IPC channel this module opens); the primary serves or forwards them.

/** Forks the workers; workers run the same module with cluster.isWorker true (see main.ts). */
export function startWorkers(options: WorkerOptions): Workers {
  cluster.setupPrimary({ ...(options.exec ? { exec: options.exec } : {}), silent: Boolean(options.onOutput) });
  let stopping = false;
  let announced = false;
  const restarts: number[] = [];
  const listening = new Set<number>();

  const fork = () => {
    const worker = cluster.fork(options.env);
    if (options.onOutput) {
      for (const stream of [worker.process.stdout, worker.process.stderr]) {
        let rest = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (chunk: string) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop()!;
          for (const line of lines) options.onOutput!(line);
        });
      }
    }
    return worker;
  };

  cluster.on('listening', (worker, address) => {
    listening.add(worker.id);
    options.log(`worker ${worker.id} (pid ${worker.process.pid}) listening`);
    if (!announced && listening.size >= options.count) {
      announced = true;
      options.onListening(address.port);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    const now = Date.now();
    while (restarts.length && restarts[0]! <= now - workerRestartWindowMs) restarts.shift();
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (restarts.length >= workerRestartsMax) {
      options.onGiveUp(`worker ${worker.id} (pid ${worker.process.pid}) exited (${how}) after ${workerRestartsMax} restarts within ${workerRestartWindowMs / 1000} s; giving up`);
      return;
    }
    restarts.push(now);
    const next = fork();
    options.log(`worker ${worker.id} (pid ${worker.process.pid}) exited (${how}); restarted as worker ${next.id} (pid ${next.process.pid}), restart ${restarts.length} of ${workerRestartsMax} within ${workerRestartWindowMs / 1000} s`);
  });

  for (let i = 0; i < options.count; i++) fork();

  const running = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w) && !w!.isDead());
  return {
    pids: () => running().map((w) => w.process.pid!),
    async stop() {
      stopping = true;
      await Promise.all(running().map((worker) => new Promise<void>((resolve) => {
        if (worker.isDead()) return resolve();
        const kill = setTimeout(() => {
          options.log(`worker ${worker.id} (pid ${worker.process.pid}) did not stop in ${workerStopTimeoutMs / 1000} s; killing it`);
          worker.process.kill('SIGKILL');
        }, workerStopTimeoutMs);
        worker.process.once('exit', () => { clearTimeout(kill); resolve(); });
        worker.process.kill('SIGTERM');
      })));
    },
  };
}
