// Background rounds of a service process (the settler, the sealer, the voucher sweeper): one round at a time, every
// intervalMs, until stopped; a failed round is logged (at level error) and the next one retries.
import type { LineLog } from '../logger.js';

export function runEvery(name: string, intervalMs: number, round: (stopped: () => boolean) => Promise<unknown>, log: LineLog): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await round(() => stopped);
      } catch (error) {
        log(`${name}: ${(error as Error).message}`, 'error');
      }
    });
  }, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
