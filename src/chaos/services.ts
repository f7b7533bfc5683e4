// Service processes for the fault harness: `node --import tsx src/main.ts`, one OS process each (so
// SIGKILL kills the server itself, not a wrapper), on a free port, against the given database.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { projectRoot } from '../config.js';

/** A service that is not healthy this long after its start is reported and started again. */
const startTimeoutMs = 120_000;
const healthPollMs = 100;
/** Lines of a service's output kept for a report: enough for an error and its stack. */
const tailLinesMax = 40;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class ServiceProcess {
  private child: ChildProcess | undefined;
  /** The last lines the process wrote, for a report when it fails. */
  readonly tail: string[] = [];

  /** Called when the process exits, whatever the reason. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;

  constructor(readonly name: string, readonly port: number, private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process (if it is not running) and waits until /health answers. */
  async start(): Promise<void> {
    if (!this.running) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: projectRoot,
        env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.tail.push(line.slice(0, 300));
        this.tail.splice(0, Math.max(0, this.tail.length - tailLinesMax));
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      child.once('exit', (code, signal) => this.onExit?.(code, signal));
      this.child = child;
    }
    const started = Date.now();
    while (Date.now() - started < startTimeoutMs) {
      if (!this.running) throw new Error(`${this.name} exited while starting: ${this.tail.slice(-3).join(' | ')}`);
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, healthPollMs));
    }
    throw new Error(`${this.name} did not become healthy in ${startTimeoutMs} ms; its last lines: ${this.tail.slice(-5).join(" | ")}`);
  }

  /** SIGKILL: the process dies mid-request, with no chance to finish anything. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** A clean stop (SIGTERM), waiting for the process to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
  }
}
