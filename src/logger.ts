// Structured logs (pino): one JSON object a line on stdout, or human-readable lines (pino-pretty) on a
// terminal or with LOG_FORMAT=pretty. What never appears in a line: tokens, passwords, secrets and
// personal names. The first guard is what callers log: named fields (a request's id, operation, sub,
// role, duration, outcome), never a request's variables, headers or a database error's detail; the
// second is the redaction below, for a field of those names that slips in anyway.
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger } from 'pino';

/** Field names whose values are never written: at the top level of a line, and inside the objects below. */
const secretFields = ['authorization', 'cookie', 'password', 'newPassword', 'secret', 'token', 'variables', 'name'];
/**
 * Objects a line might carry by mistake (a request's headers or input, a member, a webhook). Named
 * rather than wildcards ("*.password"): pino's wildcard redaction cost ~100 µs a line here, more than
 * the rest of the line; named paths cost nothing measurable.
 */
const containers = ['headers', 'req.headers', 'input', 'member', 'operator', 'webhook', 'subscription'];
export const redactedPaths: readonly string[] = [...secretFields, ...containers.flatMap((c) => secretFields.map((f) => `${c}.${f}`))];

/**
 * The service's logger. destination: where lines go (stdout by default; tests pass a stream to read
 * them). A pretty logger writes synchronously: it is for a person at a terminal, not for throughput.
 */
export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.log.level,
    base: { pid: process.pid },
    redact: { paths: [...redactedPaths], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // an Error logged as `err` keeps its type, message, stack and code, never a pg error's detail (row values)
    serializers: { err: errorFields },
  };
  if (config.log.format === 'pretty') {
    return pino(options, pretty({
      destination: destination ?? 1, sync: true, colorize: !destination && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid', singleLine: true,
    }));
  }
  // pino's own default: a synchronous write a line, so that nothing is lost when the process exits
  return pino(options, destination ?? pino.destination(1));
}

/** A logger that writes nothing: the default of buildApp when its caller passes none (tests, the benchmark). */
export const silentLogger: Logger = pino({ level: 'silent' });

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * The one-line log function the background tasks and edges have always taken (`log(line)`), writing
 * through a logger; a level says how bad the line is (info by default).
 */
export type LineLog = (line: string, level?: LogLevel) => void;

export function lineLog(logger: Logger): LineLog {
  return (line, level = 'info') => logger[level](line);
}

/** What a log line keeps of an error. */
export function errorFields(error: unknown): { type: string; message: string; stack?: string; code?: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, stack: error.stack, ...(typeof code === 'string' ? { code } : {}) };
}
