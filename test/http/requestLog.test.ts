// An operator reads one structured line per request — its id, GraphQL operation, the principal's sub
// and role, duration and outcome — and never a token, a password, a secret or a person's name, even
// when a request carries them. Background tasks log through the same logger, and a person at a
// terminal reads lines rather than JSON.
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { runEvery } from '../../src/ledger/background.js';
import { createLogger, lineLog } from '../../src/logger.js';
import { serveApp, startHarness, type Harness } from '../support/harness.js';

/** A stream that keeps what the logger writes. */
function capture() {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _encoding, done) { chunks.push(chunk.toString('utf8')); done(); } });
  return { stream, text: () => chunks.join(''), lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>) };
}

let h: Harness;
let log: ReturnType<typeof capture>;
let served: Awaited<ReturnType<typeof serveApp>>;
let url: string;

beforeAll(async () => {
  h = await startHarness();
  log = capture();
  const logger = createLogger({ log: { level: 'info', format: 'json' } }, log.stream);
  const built = await buildApp(h.bank, lineLog(logger), undefined, { logger });
  served = await serveApp(built);
  url = served.url;
});

afterAll(async () => {
  await served.close();
  await h.checkInvariants();
  await h.close();
});

const password = 'correct-horse-battery-staple-42';
const personalName = '张三丰 Zhang Sanfeng';

describe('one log line per request', () => {
  it('has the id, operation, principal, duration and outcome, and none of the token, password or name it carried', async () => {
    const signIn = await request(url).post('/graphql').set('content-type', 'application/json').set('x-request-id', 'probe-17')
      .send({ query: 'mutation SignIn($i: SignInInput!) { signIn(input: $i) { token } }', variables: { i: { username: `nobody-${h.tag}`, password } } });
    expect(signIn.headers['x-request-id']).toBe('probe-17');
    const upsert = await request(url).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${h.adminToken}`)
      .send({ query: 'mutation Upsert($i: UpsertMemberInput!) { upsertMember(input: $i) { member { id } } }',
        variables: { i: { idempotencyKey: h.key(), externalId: `${h.tag}-zsf`, branch: h.branches[0]!.code, name: personalName } } });
    expect(upsert.body.errors).toBeUndefined();
    const refused = await request(url).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${h.clientToken}`)
      .send({ query: 'mutation Award($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }',
        variables: { i: { idempotencyKey: h.key(), externalId: `${h.tag}-zsf`, rule: 'no.such-rule', memo: personalName } } });
    expect(refused.body.errors[0].extensions.code).toBe('NOT_FOUND');
    const forged = await request(url).post('/graphql').set('authorization', 'Bearer forged.token.value').send({ query: '{ __typename }' });
    expect(forged.status).toBe(401);

    const requests = log.lines().filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(4);
    for (const line of requests) {
      expect(line).toMatchObject({ level: 30, method: 'POST', path: '/graphql' });
      expect(line.requestId).toMatch(/^[\w.:-]+$/);
      expect(line.durationMs).toBeGreaterThan(0);
      expect(typeof line.time).toBe('string');
    }
    const [first, second, third, fourth] = requests;
    expect(first).toMatchObject({ requestId: 'probe-17', operation: 'SignIn', sub: null, role: null, outcome: 'UNAUTHENTICATED' });
    expect(second).toMatchObject({ operation: 'Upsert', sub: `admin-${h.tag}`, role: 'admin', outcome: 'OK', status: 200 });
    expect(second!.requestId).toBe(upsert.headers['x-request-id']);
    expect(third).toMatchObject({ operation: 'Award', sub: `client-${h.tag}`, role: 'client', outcome: 'NOT_FOUND' });
    expect(fourth).toMatchObject({ operation: null, sub: null, outcome: 'UNAUTHENTICATED', status: 401 });

    const text = log.text();
    for (const secret of [password, h.adminToken, h.clientToken, 'forged.token.value', '张三丰', 'Zhang Sanfeng']) expect(text).not.toContain(secret);
  });

  it('an INTERNAL answer quotes the id of its request line, and the stack is logged under it', async () => {
    const query = h.bank.pool.query;
    h.bank.pool.query = (() => { throw new Error('an impossible state for the test'); }) as any;
    let res;
    try {
      res = await request(url).post('/graphql').set('content-type', 'application/json').set('authorization', `Bearer ${h.clientToken}`)
        .send({ query: 'mutation Award($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }',
          variables: { i: { idempotencyKey: h.key(), externalId: `${h.tag}-zsf`, rule: 'garbage.sorted-drop' } } });
    } finally {
      h.bank.pool.query = query;
    }
    const error = res.body.errors[0];
    expect(error.extensions.code).toBe('INTERNAL');
    const lines = log.lines().filter((l) => l.requestId === res.headers['x-request-id'] || String(l.msg).includes(error.extensions.requestId));
    expect(error.extensions.requestId).toBe(res.headers['x-request-id']);
    expect(lines.map((l) => [l.level, l.outcome ?? null])).toEqual([[50, null], [30, 'INTERNAL']]);
    expect(lines[0]!.msg).toMatch(/^INTERNAL .*an impossible state for the test/s);
  });

  it('redacts a token, password, secret or name that a line is given by mistake', () => {
    const kept = capture();
    const logger = createLogger({ log: { level: 'info', format: 'json' } }, kept.stream);
    logger.info({ password, headers: { authorization: `Bearer ${h.adminToken}` }, webhook: { secret: 'whsec_abc123' }, member: { name: personalName }, variables: { i: { password } } }, 'oops');
    expect(kept.text()).not.toMatch(/correct-horse|whsec_abc123|张三丰|Bearer/);
    expect(kept.lines()[0]).toMatchObject({ msg: 'oops', password: '[redacted]', member: { name: '[redacted]' }, variables: '[redacted]' });
  });
});

describe('background tasks and terminals', () => {
  it('a failing background round logs an error line naming its task', async () => {
    const kept = capture();
    const logger = createLogger({ log: { level: 'info', format: 'json' } }, kept.stream);
    const stop = runEvery('settler', 10, async () => { throw new Error('database went away'); }, lineLog(logger.child({ task: 'settler' })));
    await new Promise((r) => setTimeout(r, 60));
    await stop();
    expect(kept.lines()[0]).toMatchObject({ level: 50, task: 'settler', msg: 'settler: database went away' });
  });

  it('LOG_FORMAT=pretty writes lines a person reads, and LOG_LEVEL=warn keeps request lines out', async () => {
    const kept = capture();
    createLogger({ log: { level: 'info', format: 'pretty' } }, kept.stream).info({ requestId: 'r-1', outcome: 'OK' }, 'request');
    expect(kept.text()).toMatch(/^\[[\d:.]+\] INFO: request {"requestId":"r-1","outcome":"OK"}\n$/);
    expect(() => JSON.parse(kept.text())).toThrow();
    const quiet = capture();
    createLogger({ log: { level: 'warn', format: 'json' } }, quiet.stream).info('request');
    expect(quiet.text()).toBe('');
  });
});
