// Per-subject rate limits: a fixed window counter per key (a token's head bank and subject, or the
// IP address of a caller without a valid token). In process by default; in Redis when REDIS_URL is
// set, so that the limit holds across every service process. If Redis cannot be reached, the
// process falls back to counting on its own (a per-process limit still holds) and logs it.
import { Redis } from 'ioredis';
import type { LineLog } from '../logger.js';

export interface RateDecision {
  allowed: boolean;
  /** When the caller may try again, if refused. */
  retryAfterMs: number;
}

export interface RateLimiter {
  consume(key: string, limit: number): Promise<RateDecision>;
  /** Resolves when the limiter can count as configured (Redis connected), or gave up waiting. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Keys tracked in process at most: bounds memory under a flood of distinct callers. */
const memoryKeysMax = 100_000;
/** A Redis round trip slower than this counts as Redis unavailable for this request. */
const redisCommandTimeoutMs = 200;
/**
 * How long a starting service waits for Redis before it answers: without the wait, requests that
 * arrive before the connection is up are counted in process (the offline queue is off) and slip
 * past a limit shared with other processes. Past this, it starts anyway and counts in process.
 */
const redisConnectWaitMs = 2_000;

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  async consume(key: string, limit: number): Promise<RateDecision> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (!window && this.windows.size >= memoryKeysMax) this.prune(now);
      window = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return { allowed: window.count <= limit, retryAfterMs: window.count <= limit ? 0 : window.resetAt - now };
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    // Still full of live windows: forgetting them lets some callers through early, never blocks one wrongly.
    if (this.windows.size >= memoryKeysMax) this.windows.clear();
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {}
}

/** INCR the window's counter, starting its expiry on the first request; returns [count, ms left]. */
const consumeScript = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly fallback: MemoryRateLimiter;
  private warned = false;

  constructor(url: string, private readonly windowMs: number, private readonly log: LineLog, private readonly prefix = 'cb:rate:') {
    this.redis = new Redis(url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: redisCommandTimeoutMs });
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('cbConsume', { numberOfKeys: 1, lua: consumeScript });
    this.fallback = new MemoryRateLimiter(windowMs);
  }

  async consume(key: string, limit: number): Promise<RateDecision> {
    try {
      const [count, ttl] = (await (this.redis as any).cbConsume(this.prefix + key, this.windowMs)) as [number, number];
      this.warned = false;
      return { allowed: count <= limit, retryAfterMs: count <= limit ? 0 : ttl };
    } catch (error) {
      if (!this.warned) this.log(`rate limits: Redis unavailable (${(error as Error).message}); counting in this process`, 'warn');
      this.warned = true;
      return this.fallback.consume(key, limit);
    }
  }

  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); this.redis.off('ready', done); resolve(); };
      const timer = setTimeout(done, redisConnectWaitMs);
      this.redis.once('ready', done);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

export function createRateLimiter(redisUrl: string | undefined, windowMs: number, log: LineLog): RateLimiter {
  return redisUrl ? new RedisRateLimiter(redisUrl, windowMs, log) : new MemoryRateLimiter(windowMs);
}
