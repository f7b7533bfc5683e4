// Background work of a service process (the settler, the expiry sweeper): one round every
// intervalMs, never two rounds at once, errors logged and retried next round, and a stop that
// waits for the round in flight.
export function startPeriodicTask(name: string, intervalMs: number, round: () => Promise<void>, log: (line: string) => void): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await round();
      } catch (error) {
        log(`${name}: ${(error as Error).message}`);
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
