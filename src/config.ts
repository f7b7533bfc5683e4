// Every setting, read once from the environment, typed, with defaults. Nothing else reads process.env.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllowHosts } from './webhooks/addresses.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The development secret: good for the demo and tests only; production refuses it (it is published in this file). */
export const devJwtSecret = 'civility-bank-development-secret-change-me';
/**
 * The shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as the
 * hash (256 bits); a shorter one can be guessed offline from any token, and then tokens forged.
 */
export const jwtSecretBytesMin = 32;

export interface Config {
  production: boolean;
  host: string;
  port: number;
  /** External PostgreSQL; when unset an embedded PostgreSQL is started from embeddedDataDir. */
  databaseUrl: string | undefined;
  /**
   * Whether the embedded PostgreSQL may be used when DATABASE_URL is unset: by default outside
   * production; production needs EMBEDDED_DB=true (a deliberate choice of a one-machine database).
   */
  embeddedDb: boolean;
  embeddedDataDir: string;
  embeddedPort: number;
  /**
   * The service's pg pool: with WORKERS > 1 a total that the workers share (each gets
   * workerPoolSize of it), so that adding workers does not multiply the connections.
   */
  dbPoolSize: number;
  /**
   * HTTP worker processes (node:cluster) sharing one port; 1 serves in the starting process itself.
   * WORKERS=auto means one per core. The default is measured: README "Measured figures".
   */
  workers: number;
  jwt: {
    /** HS256 shared secret. */
    secret: string | undefined;
    /** PEM public key for RS256 / ES256; when set, HS256 is not accepted. */
    publicKey: string | undefined;
    /** PEM private key, only for `npm run token` against an RS256/ES256 deployment. */
    privateKey: string | undefined;
    algorithm: 'HS256' | 'RS256' | 'ES256';
    issuer: string;
    audience: string;
  };
  /** Time zone of new head banks; cap windows and report periods are counted in it. */
  defaultTimeZone: string;
  /** Seed the demo bank on first start: by default outside production only (SEED_DEMO=true asks for it there). */
  seedDemo: boolean;
  /**
   * Print a 24-hour head-bank admin token of the demo bank at start: by default only where the demo
   * is seeded outside production (PRINT_DEMO_TOKEN=true asks for it in production).
   */
  printDemoToken: boolean;
  /** How often the settler folds account_deltas into hot (system) account balances, and branch_year_deltas into branch_year_rollups. */
  settleIntervalMs: number;
  /**
   * Whether single awards that arrive while this process's award call is in flight are sent together
   * as one cb_award_batch call when it returns (group commit, src/ledger/awardCoalescer.ts). Per process.
   */
  awardCoalescing: boolean;
  /** How often the expiry sweeper runs; at most 30 s, so that a sweep that takes a while still releases within a minute. */
  sweepIntervalMs: number;
  /** How often the sealer brings final transactions into the digest chain. */
  sealIntervalMs: number;
  /** How often the awarding round pays the winners of selections whose notice period has ended (src/selections/awarding.ts). */
  selectionsIntervalMs: number;
  /**
   * Drills only (npm run chaos): the service's clock (bank.clock) runs this many ms ahead of the
   * machine's, so that a notice period's midnight falls within a run of minutes.
   * 0 by default; production refuses anything else (awards, periods and expiries follow this clock).
   */
  clockOffsetMs: number;
  /** How far ahead monthly posting partitions are created at start. */
  partitionMonthsAhead: number;
  /** How often the event producer appends new seals and state changes to the feed (src/events/produce.ts). */
  eventsIntervalMs: number;
  /** NATS JetStream publishing of the feed (src/events/nats.ts); off unless NATS_URL is set. */
  nats: {
    /** e.g. nats://127.0.0.1:4222; unset: nothing is published. */
    url: string | undefined;
    /** The JetStream stream, created if missing. */
    stream: string;
    /** Subjects are <prefix>.<head bank code>.<event type>; the stream takes <prefix>.>. */
    subjectPrefix: string;
    /** The stream keeps messages this long (then they age out; the feed in PostgreSQL keeps them). */
    maxAgeHours: number;
    /** The stream keeps at most this many bytes (the oldest go first). */
    maxBytes: number;
    /** JetStream drops a second message with the same Nats-Msg-Id (event id) within this window. */
    duplicateWindowSeconds: number;
    /** How often the publisher looks for events not yet acknowledged by JetStream. */
    publishIntervalMs: number;
  };
  /** Operators (people signing in to the pages): src/operators/. */
  operators: {
    /** How long a signed-in session (and its token) lasts: a shift by default. */
    sessionMinutes: number;
    /** Failed sign-ins one address may make per window (src/operators/addressThrottle.ts) before RATE_LIMITED. */
    signInFailuresPerAddressMax: number;
    /** scrypt's cost exponent for new password hashes (N = 2^passwordLogN); at least 15 in production. */
    passwordLogN: number;
  };
  /** The bearer token GET /metrics asks for; unset: /metrics is open (keep it on a private network then). */
  metricsToken: string | undefined;
  /** Structured logs (src/logger.ts): pino's level, and JSON or human-readable lines (pretty: by default when stdout is a terminal). */
  log: {
    level: LogLevel;
    format: 'json' | 'pretty';
  };
  /** Abuse limits of the HTTP/GraphQL edge (src/http/, src/graphql/operationLimits.ts). */
  limits: {
    /** Request bodies larger than this are refused with 413. */
    bodyBytesMax: number;
    /** Tokens a GraphQL document may have; parsing stops past it. */
    queryTokensMax: number;
    /** Nesting of selection sets, fragments expanded. */
    queryDepthMax: number;
    /** Estimated fields an operation may resolve: each field 1, list fields times their `first`. */
    queryComplexityMax: number;
    /** Requests a subject (a token's head bank and sub) may make per window; 0 turns the limit off. */
    rateLimitRequests: number;
    /** Requests without a valid token one IP address may make per window; 0 turns the limit off. */
    rateLimitAnonymousRequests: number;
    rateLimitWindowMs: number;
    /** Where rate-limit counters live when several processes must share them; unset: in process. */
    redisUrl: string | undefined;
    /**
     * The time budget of a request: PostgreSQL cancels any statement of the service's pools that runs
     * longer (statement_timeout), and a request past it starts no further root field. Both end in
     * LIMIT_EXCEEDED, never in a pool everyone else waits on.
     */
    requestTimeBudgetMs: number;
  };
  /** Webhook delivery (src/webhooks/): every service process runs a worker. */
  webhooks: {
    /** Hosts and addresses that may be private, loopback or link-local (WEBHOOK_ALLOW_HOSTS, comma separated). */
    allowHosts: string[];
    /** The waits before each retry after a failed attempt; after the last one fails the delivery is dead-lettered. */
    retryScheduleMs: number[];
    /** One attempt's budget: connecting, sending and reading the (bounded) answer. */
    attemptTimeoutMs: number;
    /** Subscriptions a process sends to at once. */
    concurrency: number;
    /** How often an idle worker looks for work. */
    intervalMs: number;
  };
}

/**
 * The default retry schedule (Standard Webhooks' suggestion, as Svix runs it): 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 10 h: eight attempts over about 27 hours, each wait ±20 % jitter.
 */
export const defaultWebhookRetrySchedule = '5s,5m,30m,2h,5h,10h,10h';
/** Retries a schedule may have: a bound on attempts per delivery (and on the attempts a delivery lists). */
export const webhookRetriesMax = 12;

/** "5s,5m,2h" or plain milliseconds "50,100" → milliseconds. */
export function parseRetrySchedule(raw: string, name = 'WEBHOOK_RETRY_SCHEDULE'): number[] {
  const units: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const waits = raw.split(',').map((part) => {
    const match = /^\s*(\d+)(ms|s|m|h|)\s*$/.exec(part);
    if (!match) throw new Error(`${name} must be a comma list of waits like 5s,5m,2h; got "${raw}"`);
    return Number(match[1]) * units[match[2]!]!;
  });
  if (waits.length > webhookRetriesMax) throw new Error(`${name} may list at most ${webhookRetriesMax} retries`);
  return waits;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw.toLowerCase() as T)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw.toLowerCase() as T;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/**
 * More workers than this only add context switches and idle connections: the largest machine the
 * bank is sized for has 32 cores, and the database wants cores of its own.
 */
export const workersMax = 32;
/** WORKERS when unset: chosen by measurement on the 2-core machine (README "Measured figures"). */
export const workersDefault = 1;
/** Connections of a worker's hot pool at the least, however many workers share DB_POOL_SIZE. */
export const workerPoolSizeMin = 4;

function workerCount(env: NodeJS.ProcessEnv): number {
  if (env.WORKERS?.toLowerCase() === 'auto') return Math.min(workersMax, os.availableParallelism());
  return integer(env, 'WORKERS', workersDefault, 1, workersMax);
}

/** Each worker's share of DB_POOL_SIZE: the service's connections stay bounded whatever WORKERS is. */
export function workerPoolSize(config: Pick<Config, 'dbPoolSize' | 'workers'>): number {
  return Math.max(workerPoolSizeMin, Math.ceil(config.dbPoolSize / config.workers));
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** A stream name or subject token: letters, digits, - and _ (no dots, wildcards or spaces). */
function natsName(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new Error(`${name} must be 1 to 64 letters, digits, - or _, got "${raw}"`);
  return raw;
}

/** CLOCK_OFFSET_MS: ahead by at most two days, and never in production. */
function clockOffset(env: NodeJS.ProcessEnv, production: boolean): number {
  const offset = integer(env, 'CLOCK_OFFSET_MS', 0, 0, 2 * 24 * 3_600_000);
  if (production && offset !== 0) throw new Error('CLOCK_OFFSET_MS is for drills (npm run chaos); production runs on the machine\'s clock');
  return offset;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const publicKey = env.JWT_PUBLIC_KEY || undefined;
  const algorithm = (env.JWT_ALGORITHM || (publicKey ? 'RS256' : 'HS256')) as Config['jwt']['algorithm'];
  if (!['HS256', 'RS256', 'ES256'].includes(algorithm)) throw new Error(`JWT_ALGORITHM must be HS256, RS256 or ES256`);
  if (algorithm !== 'HS256' && !publicKey) throw new Error(`JWT_ALGORITHM=${algorithm} needs JWT_PUBLIC_KEY`);
  const secret = env.JWT_SECRET || (algorithm === 'HS256' ? (production ? undefined : devJwtSecret) : undefined);
  if (algorithm === 'HS256' && !secret) throw new Error('JWT_SECRET must be set in production');
  if (production && algorithm === 'HS256' && secret === devJwtSecret) {
    throw new Error('JWT_SECRET is the published development secret; set a random one in production (e.g. `openssl rand -base64 48`)');
  }
  if (algorithm === 'HS256' && Buffer.byteLength(secret!, 'utf8') < jwtSecretBytesMin) {
    throw new Error(`JWT_SECRET must be at least ${jwtSecretBytesMin} bytes (e.g. \`openssl rand -base64 48\`)`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  const embeddedDb = flag(env, 'EMBEDDED_DB', !production);
  if (!databaseUrl && !embeddedDb) {
    throw new Error('set DATABASE_URL to your PostgreSQL in production, or EMBEDDED_DB=true to run the embedded one on this machine');
  }
  const seedDemo = flag(env, 'SEED_DEMO', !production);
  return {
    production,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    databaseUrl,
    embeddedDb,
    embeddedDataDir: path.resolve(projectRoot, env.PG_DATA_DIR || '.data/pg'),
    embeddedPort: integer(env, 'PG_PORT', 54329, 1024, 65535),
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 24, 1, 500),
    workers: workerCount(env),
    jwt: {
      secret,
      publicKey,
      privateKey: env.JWT_PRIVATE_KEY || undefined,
      algorithm,
      issuer: env.JWT_ISSUER || 'civility-bank',
      audience: env.JWT_AUDIENCE || 'civility-bank',
    },
    defaultTimeZone: env.BANK_TIME_ZONE || 'Asia/Shanghai',
    seedDemo,
    printDemoToken: flag(env, 'PRINT_DEMO_TOKEN', seedDemo && !production),
    settleIntervalMs: integer(env, 'SETTLE_INTERVAL_MS', 1000, 10, 3_600_000),
    awardCoalescing: flag(env, 'AWARD_COALESCING', true),
    sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 15_000, 10, 30_000),
    sealIntervalMs: integer(env, 'SEAL_INTERVAL_MS', 1000, 10, 3_600_000),
    selectionsIntervalMs: integer(env, 'SELECTIONS_INTERVAL_MS', 10_000, 10, 3_600_000),
    clockOffsetMs: clockOffset(env, production),
    partitionMonthsAhead: integer(env, 'PARTITION_MONTHS_AHEAD', 3, 1, 120),
    eventsIntervalMs: integer(env, 'EVENTS_INTERVAL_MS', 1000, 10, 3_600_000),
    nats: {
      url: env.NATS_URL || undefined,
      stream: natsName(env, 'NATS_STREAM', 'CIVILITY'),
      subjectPrefix: natsName(env, 'NATS_SUBJECT_PREFIX', 'civility'),
      // a week: a consumer that was down over a long weekend still finds its messages
      maxAgeHours: integer(env, 'NATS_MAX_AGE_HOURS', 7 * 24, 1, 24 * 365),
      // 1 GiB: a week of a busy town's events (~1 KB each) with room to spare
      maxBytes: integer(env, 'NATS_MAX_BYTES', 1024 * 1024 * 1024, 1024 * 1024, 1024 ** 4),
      // a day: longer than any outage after which a publisher republishes what it had sent unacknowledged
      duplicateWindowSeconds: integer(env, 'NATS_DUPLICATE_WINDOW_SECONDS', 24 * 60 * 60, 1, 7 * 24 * 60 * 60),
      publishIntervalMs: integer(env, 'NATS_PUBLISH_INTERVAL_MS', 1000, 10, 3_600_000),
      },
    metricsToken: env.METRICS_TOKEN || undefined,
    log: {
      level: oneOf(env, 'LOG_LEVEL', logLevels, 'info'),
      format: oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, process.stdout.isTTY ? 'pretty' : 'json'),
    },
    operators: {
      // a working shift; at most a week, so that a lost phone's session does not outlive a roster
      sessionMinutes: integer(env, 'OPERATOR_SESSION_MINUTES', 480, 1, 7 * 24 * 60),
      // a busy office behind one address mistypes a few times an hour; a guesser needs thousands
      signInFailuresPerAddressMax: integer(env, 'OPERATOR_SIGN_IN_FAILURES_PER_ADDRESS', 20, 1, 1_000_000),
      // 15: 32 MiB and ~0.15 s a hash (OWASP); tests lower it so that a hundred sign-ins take seconds, not minutes
      passwordLogN: integer(env, 'OPERATOR_PASSWORD_LOG_N', 15, production ? 15 : 10, 20),
    },
    limits: {
      // a 1,000-award batch sent as variables is about 300 KB
      bodyBytesMax: integer(env, 'BODY_LIMIT_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      // the largest query of the SDL's own examples is a few hundred tokens; 1,000 awards written inline are ~25,000
      queryTokensMax: integer(env, 'QUERY_TOKENS_MAX', 30_000, 100, 1_000_000),
      // the deepest useful read (transaction → reverses → member → accounts → …) is about 8 levels
      queryDepthMax: integer(env, 'QUERY_DEPTH_MAX', 12, 2, 100),
      // 200 transactions (the page maximum) with 20 fields and their postings is about 10,000
      queryComplexityMax: integer(env, 'QUERY_COMPLEXITY_MAX', 20_000, 10, 10_000_000),
      // a kiosk scans at most a few residents a second; a batch of 1,000 awards is one request
      rateLimitRequests: integer(env, 'RATE_LIMIT_REQUESTS', 300, 0, 10_000_000),
      rateLimitAnonymousRequests: integer(env, 'RATE_LIMIT_ANONYMOUS_REQUESTS', 60, 0, 10_000_000),
      rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 10_000, 100, 3_600_000),
      redisUrl: env.REDIS_URL || undefined,
      // the slowest honest request (a report of a whole town, a verifyLedger of a demo-sized bank) takes about a second
      requestTimeBudgetMs: integer(env, 'REQUEST_STATEMENT_TIMEOUT_MS', 15_000, 100, 3_600_000),
    },
    webhooks: {
      allowHosts: parseAllowHosts(env.WEBHOOK_ALLOW_HOSTS),
      retryScheduleMs: parseRetrySchedule(env.WEBHOOK_RETRY_SCHEDULE || defaultWebhookRetrySchedule),
      // a receiver should answer at once and work later; 10 s forgives a slow one (Svix waits 15 s)
      attemptTimeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
      // a slow endpoint holds one slot for at most the timeout; eight keep the others moving
      concurrency: integer(env, 'WEBHOOK_CONCURRENCY', 8, 1, 100),
      intervalMs: integer(env, 'WEBHOOK_INTERVAL_MS', 500, 10, 60_000),
    },
  };
}
