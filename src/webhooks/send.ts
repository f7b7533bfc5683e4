// One HTTP attempt of a webhook delivery: resolve and check the address (addresses.ts), connect to
// exactly that address (the host name still goes in Host and TLS SNI, so certificates are checked
// against it), POST the signed body, and read at most responseBytesMax of the answer within the
// attempt's time budget. Redirects are not followed (a 3xx is a failure: a redirect could point
// inward). Never throws: every outcome is an AttemptOutcome to record.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { RefusedAddress, resolveDeliveryAddress } from './addresses.js';

/** Bytes of a response read: enough for an error message; the rest is not read (the socket is closed). */
export const responseBytesMax = 64 * 1024;
/** Characters of the response kept with the attempt (the console shows them). */
export const responseExcerptMax = 1024;
/** Characters of an error message kept with an attempt. */
export const attemptErrorMax = 500;

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  responseExcerpt: string | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowHosts: readonly string[];
}

function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}

export async function sendWebhook(request: WebhookRequest): Promise<AttemptOutcome> {
  const started = Date.now();
  const done = (o: Omit<AttemptOutcome, 'durationMs'>): AttemptOutcome => ({ ...o, durationMs: Date.now() - started,
    error: o.error === null ? null : o.error.slice(0, attemptErrorMax) });
  const url = new URL(request.url);
  let target: { address: string; family: 4 | 6 };
  let dnsTimer: NodeJS.Timeout | undefined;
  try {
    // the attempt's budget covers the lookup too: a resolver that never answers must not hold the lease
    target = await Promise.race([resolveDeliveryAddress(url, request.allowHosts), new Promise<never>((_, reject) => {
      dnsTimer = setTimeout(() => reject(new Error(`no address within ${request.timeoutMs} ms`)), request.timeoutMs);
    })]);
  } catch (error) {
    const message = error instanceof RefusedAddress ? error.message : `DNS: ${(error as Error).message}`;
    return done({ ok: false, statusCode: null, responseExcerpt: null, error: message });
  } finally {
    clearTimeout(dnsTimer);
  }
  const remainingMs = Math.max(1, request.timeoutMs - (Date.now() - started));
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const finish = (o: Omit<AttemptOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(done(o));
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: 'POST',
      lookup: pinnedLookup(target.address, target.family),
      agent: false,
      headers: { 'content-type': 'application/json', 'user-agent': 'CivilityBank-Webhooks/1', ...request.headers, 'content-length': Buffer.byteLength(request.body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const answer = () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8').slice(0, responseExcerptMax);
        finish({ ok: status >= 200 && status < 300, statusCode: status >= 100 && status <= 599 ? status : null, responseExcerpt: text || null,
          error: status >= 200 && status < 300 ? null : `HTTP ${status}` });
      };
      res.on('data', (chunk: Buffer) => {
        const room = responseBytesMax - bytes;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        bytes += chunk.length;
        if (bytes >= responseBytesMax) answer();
      });
      res.on('end', answer);
      res.on('error', answer);
    });
    const timer = setTimeout(() => finish({ ok: false, statusCode: null, responseExcerpt: null, error: `no complete answer within ${request.timeoutMs} ms` }), remainingMs);
    req.on('error', (error) => finish({ ok: false, statusCode: null, responseExcerpt: null, error: error.message }));
    req.end(request.body);
  });
}
