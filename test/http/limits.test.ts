// The edge under abuse: GraphQL over HTTP as its specification says (methods, media types, status
// codes), security headers, body, token, depth and complexity limits, per-subject rate limits in
// process and shared through Redis across processes, and production mode without introspection
// or stack traces.
import net from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.js';
import { codes, startApp, startHarness, type Harness, type RunningApp } from '../support/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ poolSize: 4 }); });
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const me = '{ me { role } }';
const post = (url: string, token: string | null, body: unknown, type = 'application/json') => {
  const req = request(url).post('/graphql').set('content-type', type);
  if (token) req.set('authorization', `Bearer ${token}`);
  return req.send(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('GraphQL over HTTP', () => {
  it('answers a query by GET and by POST', async () => {
    const byGet = await request(h.url).get('/graphql').query({ query: me }).set('authorization', `Bearer ${h.adminToken}`);
    expect(byGet.status).toBe(200);
    expect(byGet.body.data.me.role).toBe('admin');
    const byPost = await post(h.url, h.adminToken, { query: me });
    expect(byPost.status).toBe(200);
  });

  it('refuses a mutation by GET (405, Allow: POST) and methods other than GET and POST (405)', async () => {
    const mutation = await request(h.url).get('/graphql').query({ query: 'mutation { __typename }' }).set('authorization', `Bearer ${h.adminToken}`);
    expect(mutation.status).toBe(405);
    expect(mutation.headers.allow).toBe('POST');
    const put = await request(h.url).put('/graphql').set('content-type', 'application/json').send({ query: me });
    expect(put.status).toBe(405);
  });

  it('refuses a POST body that is not application/json (415) or not JSON (400)', async () => {
    const plain = await post(h.url, h.adminToken, JSON.stringify({ query: me }), 'text/plain');
    expect(plain.status).toBe(415);
    expect(codes(plain.body)).toEqual(['BAD_USER_INPUT']);
    const broken = await post(h.url, h.adminToken, '{"query":');
    expect(broken.status).toBe(400);
    expect(codes(broken.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers application/graphql-response+json with 400 for a document that does not validate, and 406 for an Accept it cannot serve', async () => {
    const invalid = await post(h.url, h.adminToken, { query: '{ nope }' }).set('accept', 'application/graphql-response+json');
    expect(invalid.status).toBe(400);
    expect(invalid.headers['content-type']).toMatch(/^application\/graphql-response\+json/);
    const html = await post(h.url, h.adminToken, { query: me }).set('accept', 'text/html');
    expect(html.status).toBe(406);
  });

  it('refuses batched operations (one operation per request)', async () => {
    const batch = await post(h.url, h.adminToken, [{ query: me }, { query: me }]);
    expect(batch.status).toBe(400);
  });

  it('sends security headers and no X-Powered-By', async () => {
    const res = await post(h.url, h.adminToken, { query: me });
    expect(res.headers).toMatchObject({
      'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store',
    });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('size, depth and complexity limits', () => {
  it('refuses a body over the limit with 413 and a GraphQL error', async () => {
    const res = await post(h.url, h.adminToken, { query: me, variables: { filler: 'x'.repeat(h.bank.config.limits.bodyBytesMax) } });
    expect(res.status).toBe(413);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a query nested deeper than the limit before running it', async () => {
    let nested = 'id';
    for (let i = 0; i < h.bank.config.limits.queryDepthMax; i++) nested = `id reverses { ${nested} }`;
    const res = await post(h.url, h.adminToken, { query: `{ transactions { edges { node { ${nested} } } } }` });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors[0].message).toMatch(/deeper than/);
  });

  it('refuses a query whose pages multiply past the complexity limit (aliases and variables counted)', async () => {
    const page = 'edges { node { id kind status occurredAt postings { line accountId asset amount balanceAfter } member { id name } } }';
    const aliases = Array.from({ length: 8 }, (_, i) => `t${i}: transactions(first: $n) { ${page} }`).join(' ');
    const res = await post(h.url, h.adminToken, { query: `query($n: Int) { ${aliases} }`, variables: { n: 200 } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(/would cost more than \d+/);
    const small = await post(h.url, h.adminToken, { query: `query($n: Int) { ${aliases} }`, variables: { n: 2 } });
    expect(small.status).toBe(200);
  });

  it('refuses 1,600 aliases of a member\'s statement (1,000 movements each) at once, quickly, without running one', async () => {
    const memberId = await h.addMember(`${h.tag}-statement-flood`);
    const member = h.token({ role: 'member', member: memberId });
    const aliases = Array.from({ length: 1_600 }, (_, i) => `s${i}: me { ...S }`).join(' ');
    const fragment = 'fragment S on Me { member { statement(period: { year: 2026 }) { movements { transactionId kind occurredAt asset amount } } } }';
    const started = Date.now();
    const res = await post(h.url, member, { query: `{ ${aliases} } ${fragment}` });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors[0].message).toMatch(/statement at most 2 times/);
    expect(Date.now() - started).toBeLessThan(3_000);
    // three statements hidden under a list are three
    const listed = await post(h.url, h.adminToken, { query: `{ transactions(first: 3) { edges { node { member { statement(period: { year: 2026 }) { totals { asset } } } } } } }` });
    expect(listed.status).toBe(400);
    // one statement with its 1,000 movements is fine
    const one = await post(h.url, member, { query: `{ ${aliases.split(' s1:')[0]} } ${fragment}` });
    expect(one.status).toBe(200);
    expect(one.body.errors).toBeUndefined();
  });

  it('refuses 1,000 aliases of verifyLedger, and a second one, quickly', async () => {
    const started = Date.now();
    const res = await post(h.url, h.adminToken, { query: `{ ${Array.from({ length: 1_000 }, (_, i) => `v${i}: verifyLedger { ok }`).join(' ')} }` });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors[0].message).toMatch(/verifyLedger at most 1 time/);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await post(h.url, h.adminToken, { query: '{ a: verifyLedger { ok } b: verifyLedger { ok } }' })).status).toBe(400);
    for (const report of ['partyScores(branch: $b, period: { year: 2026 }) { totalCount }', 'branchStats(branch: $b, period: { year: 2026 }) { branch { id } }']) {
      const five = Array.from({ length: 5 }, (_, i) => `r${i}: ${report}`).join(' ');
      const refused = await post(h.url, h.adminToken, { query: `query($b: String!) { ${five} }`, variables: { b: h.head.code } });
      expect(refused.status, report).toBe(400);
      expect(refused.body.errors[0].message).toMatch(/report at most 4 times/);
    }
  });

  it('counts each alias of a field that runs its own query: 300 member lookups are refused, 20 answer', async () => {
    const lookups = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `m${i}: member(id: "${i + 1}") { name }`).join(' ')} }`;
    const many = await post(h.url, h.adminToken, { query: lookups(300) });
    expect(many.status).toBe(400);
    expect(many.body.errors[0].message).toMatch(/would cost more than/);
    expect((await post(h.url, h.adminToken, { query: lookups(20) })).status).toBe(200);
  });

  it('stops parsing a document with more tokens than the limit', async () => {
    const fields = Array.from({ length: h.bank.config.limits.queryTokensMax }, (_, i) => `a${i}: __typename`).join(' ');
    const res = await post(h.url, h.adminToken, { query: `{ ${fields} }` });
    expect(res.status).toBe(400);
    expect(codes(res.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('fragment bombs are cut off at the limit', async () => {
    const fragments = ['fragment f0 on Transaction { id kind status }'];
    for (let i = 1; i < 12; i++) fragments.push(`fragment f${i} on Transaction { a: reverses { ...f${i - 1} } b: reversedBy { ...f${i - 1} } }`);
    const started = Date.now();
    const res = await post(h.url, h.adminToken, { query: `{ transactions(first: 1) { edges { node { ...f11 } } } } ${fragments.join(' ')}` });
    expect(res.status).toBe(400);
    // 2^11 expansions if measured naively; cut off at the limit it is milliseconds (generous for a loaded CI machine)
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('rate limits', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_ANONYMOUS_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '60000', DB_POOL_SIZE: '2' });
  });
  afterAll(async () => { await app.close(); });

  it('refuses a subject past its limit with 429 RATE_LIMITED and Retry-After, without slowing other subjects', async () => {
    const token = h.token({ role: 'client', sub: `${h.tag}-greedy`, rules: '*' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(app.url, token, { query: me })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await post(app.url, token, { query: me });
    expect(codes(refused.body)).toEqual(['RATE_LIMITED']);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post(app.url, h.token({ role: 'client', sub: `${h.tag}-polite`, rules: '*' }), { query: me })).status).toBe(200);
  });

  it('counts /exports with /graphql in one budget per subject: 429 with Retry-After past it', async () => {
    const token = h.token({ role: 'admin', sub: `${h.tag}-exporter` });
    const exportOnce = () => request(app.url).get(`/exports/party-scores.csv?year=2026`).set('authorization', `Bearer ${token}`).buffer(true);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(app.url, token, { query: me })).status);
    for (let i = 0; i < 4; i++) statuses.push((await exportOnce()).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await exportOnce();
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('keeps one bucket per head bank, role and subject: a client and a member sharing a sub do not share a budget', async () => {
    const sub = `${h.tag}-shared-sub`;
    const memberId = await h.addMember(`${h.tag}-shared-sub-member`);
    const client = h.token({ role: 'client', sub, rules: '*' });
    const member = h.token({ role: 'member', sub, member: memberId });
    for (let i = 0; i < 5; i++) expect((await post(app.url, client, { query: me })).status).toBe(200);
    expect((await post(app.url, client, { query: me })).status).toBe(429);
    expect((await post(app.url, member, { query: me })).status, 'the member is not slowed by the client').toBe(200);
  });

  it('counts callers without a valid token by address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(app.url, 'not.a.token', { query: me })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});

const redisUrl = 'redis://127.0.0.1:6379';
const redisUp = await new Promise<boolean>((resolve) => {
  const socket = net.connect({ host: '127.0.0.1', port: 6379 });
  socket.setTimeout(500, () => { socket.destroy(); resolve(false); });
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

describe.skipIf(!redisUp)('rate limits held in Redis (REDIS_URL)', () => {
  it('hold across two service processes sharing one Redis', async () => {
    const apps = await Promise.all([1, 2].map(() => startApp({ REDIS_URL: redisUrl, RATE_LIMIT_REQUESTS: '6', RATE_LIMIT_WINDOW_MS: '60000', DB_POOL_SIZE: '2' })));
    try {
      const token = h.token({ role: 'client', sub: `${h.tag}-roaming-${Date.now()}`, rules: '*' });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await post(apps[i % 2]!.url, token, { query: me })).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(6);
      expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  });

  it('fall back to counting in process when Redis cannot be reached', async () => {
    const app = await startApp({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_REQUESTS: '2', RATE_LIMIT_WINDOW_MS: '60000', DB_POOL_SIZE: '2' });
    try {
      const token = h.token({ role: 'client', sub: `${h.tag}-no-redis`, rules: '*' });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(app.url, token, { query: me })).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await app.close();
    }
  });
});

describe('the time budget of a request (REQUEST_STATEMENT_TIMEOUT_MS)', () => {
  let app: RunningApp;
  beforeAll(async () => { app = await startApp({ REQUEST_STATEMENT_TIMEOUT_MS: '400', DB_POOL_SIZE: '4' }); });
  afterAll(async () => { await app.close(); });

  it('ends a read and a write that wait past it with LIMIT_EXCEEDED, writes nothing, and leaves the service answering', async () => {
    const memberId = await h.addMember(`${h.tag}-slow`);
    const before = await h.footprint();
    const blocker = await h.bank.knex.transaction();
    try {
      // another session holds the member's wallets and the closures table: what needs them waits, past the budget
      await blocker.raw(`SELECT id FROM accounts WHERE head_id = ? AND owner_type = 'MEMBER' AND owner_id = ? FOR UPDATE`, [h.head.id, memberId]);
      await blocker.raw('LOCK TABLE score_year_closures IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const [write, read] = await Promise.all([
        post(app.url, h.adminToken, { query: 'mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId } }',
          variables: { i: { idempotencyKey: h.key(), member: { id: memberId }, asset: 'POINTS', amount: '5.00', reason: 'slow' } } }),
        post(app.url, h.adminToken, { query: `{ scoreYearClosures(branch: "${h.head.code}") { year } }` }),
      ]);
      expect(Date.now() - started).toBeLessThan(5_000);
      for (const res of [write, read]) {
        expect(codes(res.body)).toEqual(['LIMIT_EXCEEDED']);
        expect(res.body.errors[0].message).toMatch(/time budget/);
      }
      // meanwhile others are served
      expect((await post(app.url, h.adminToken, { query: `{ member(id: "${memberId}") { name } }` })).body.errors).toBeUndefined();
      await blocker.rollback();
      expect(await h.footprint()).toBe(before);
    } finally {
      if (!blocker.isCompleted()) await blocker.rollback();
    }
  });
});

const productionSecret = 'production-test-secret-of-forty-eight-bytes-0000';

describe('production mode', () => {
  let app: RunningApp;
  let adminToken: string;
  beforeAll(async () => {
    // the harness's tokens are signed with the development secret, which production refuses; a 48-byte one signs them here
    app = await startApp({ NODE_ENV: 'production', JWT_SECRET: productionSecret, DATABASE_URL: inject('databaseUrl'), DB_POOL_SIZE: '2' });
    adminToken = signToken(app.config, { sub: `${h.tag}-production-admin`, role: 'admin', branch: h.head.code });
  });
  afterAll(async () => { await app.close(); });

  it('turns introspection off and sends no stack traces', async () => {
    const introspection = await post(app.url, adminToken, { query: '{ __schema { types { name } } }' });
    expect(introspection.status).toBe(400);
    expect(JSON.stringify(introspection.body)).not.toMatch(/stacktrace|\bat .+\.(ts|js):\d+/);
    for (const body of [{ query: '{ me { ' }, { query: '{ transaction(id: "x") { id } }' }]) {
      const res = await post(app.url, adminToken, body);
      expect(JSON.stringify(res.body)).not.toMatch(/stacktrace|\bat .+\.(ts|js):\d+/);
    }
    const broken = await post(app.url, adminToken, '{"query": ');
    expect(broken.text).not.toMatch(/stacktrace|\bat .+\.(ts|js):\d+/);
  });

  it('suggests no field, argument, type or enum value near a wrong one ("Did you mean …?")', async () => {
    const cases = [
      { query: '{ mem { id } }' },
      { query: '{ me { rol } }' },
      { query: '{ leaderboard(branch: "x", asset: POINTZ, period: { year: 2026 }) { rank } }' },
      { query: 'mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId } }', variables: { i: { idempotencyKey: 'k', memberId: '1', rul: 'x' } } },
    ];
    for (const body of cases) {
      const res = await post(app.url, adminToken, body);
      expect(res.body.errors?.length, JSON.stringify(body)).toBeGreaterThan(0);
      expect(JSON.stringify(res.body), JSON.stringify(body)).not.toMatch(/Did you mean/);
      // outside production the hint stays: it helps a developer
      expect(JSON.stringify((await post(h.url, h.adminToken, body)).body), JSON.stringify(body)).toMatch(/Did you mean/);
    }
  });
});
