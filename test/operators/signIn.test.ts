// Signing in as people do at the counter and in the branch office: the token works like any other,
// a wrong password and an unknown username look the same, repeated failures lock the account and
// slow down the address, and signing out, expiry, disabling and a password reset end sessions on
// the very next request.
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startApp, startHarness, type Harness } from '../support/harness.js';
import { AddressThrottle, trackedAddressesMax } from '../../src/operators/addressThrottle.js';
import { isoInTimeZone } from '../../src/operators/attempts.js';

let h: Harness;
/** scrypt at 2^12 instead of 2^15: the same code, an eighth of the work per sign-in (config.operators.passwordLogN). */
const cheapHashes = { OPERATOR_PASSWORD_LOG_N: '12' };

const signInMutation = `mutation($i: SignInInput!) { signIn(input: $i) { token expiresAt
  operator { id username displayName role branch { code name } merchant { id name } } } }`;
const meQuery = `{ me { sub role branch { code } operator { id username role failedAttempts lockedUntil disabled } } }`;
const createMutation = `mutation($i: CreateOperatorInput!) { createOperator(input: $i) { replayed operator { id username role branch { code } } } }`;

async function createOperator(fields: Record<string, unknown>, token = h.adminToken): Promise<{ id: string; username: string; password: string }> {
  const username = (fields.username as string) ?? `${h.tag}-${Math.random().toString(36).slice(2, 8)}`;
  const password = (fields.password as string) ?? 'correct horse battery';
  const res = await h.gql(token, createMutation, { i: { username, password, displayName: 'Test operator', role: 'admin', branch: h.branches[0]!.code, ...fields } });
  expect(res.errors, 'createOperator').toBeUndefined();
  return { id: res.data.createOperator.operator.id, username: res.data.createOperator.operator.username, password };
}

async function signIn(username: string, password: string) {
  return h.gql(null, signInMutation, { i: { username, password } });
}

async function signInOk(username: string, password: string): Promise<string> {
  const res = await signIn(username, password);
  expect(res.errors, 'signIn').toBeUndefined();
  return res.data.signIn.token;
}

beforeAll(async () => {
  // Every request of this file comes from 127.0.0.1: the per-address limit has its own test below.
  h = await startHarness({ env: { OPERATOR_SIGN_IN_FAILURES_PER_ADDRESS: '1000', ...cheapHashes } });
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('signing in', () => {
  it('gives an admin a token of its branch that the API accepts like any other, for the session lifetime', async () => {
    const op = await createOperator({ username: `${h.tag}-Secretary`, displayName: '王秀英' });
    expect(op.username).toBe(`${h.tag}-secretary`);
    const before = Date.now();
    const res = await signIn(op.username, op.password);
    expect(res.errors).toBeUndefined();
    const { token, expiresAt, operator } = res.data.signIn;
    expect(operator).toEqual({ id: op.id, username: op.username, displayName: '王秀英', role: 'admin', branch: { code: h.branches[0]!.code, name: 'Branch A' }, merchant: null });
    // 480 minutes by default: a shift. The token ends with its session.
    expect(new Date(expiresAt).getTime() - before).toBeGreaterThan(479 * 60_000);
    expect(new Date(expiresAt).getTime() - before).toBeLessThan(481 * 60_000);
    const claims = jwt.decode(token) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: `operator:${op.id}`, role: 'admin', branch: h.branches[0]!.code });
    expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(claims.exp! * 1000 - new Date(expiresAt).getTime())).toBeLessThan(2000);
    const me = await h.gql(token, meQuery);
    expect(me.errors).toBeUndefined();
    expect(me.data.me).toMatchObject({ sub: `operator:${op.id}`, role: 'admin', branch: { code: h.branches[0]!.code }, operator: { id: op.id, username: op.username } });
    // An ordinary admin action inside its branch.
    const member = await h.addMember(`${h.tag}-resident-1`, h.branches[0]);
    const read = await h.gql(token, `query($id: ID!) { member(id: $id) { externalId } }`, { id: member });
    expect(read.data.member).toEqual({ externalId: `${h.tag}-resident-1` });
  });

  it('accepts the username in any case and in full-width letters typed with a Chinese input method', async () => {
    const op = await createOperator({ username: `${h.tag}-wide` });
    const fullWidth = op.username.toUpperCase().replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
    await signInOk(`  ${fullWidth} `, op.password);
  });

  it('answers a wrong password and an unknown username with the same message', async () => {
    const op = await createOperator({});
    const wrong = await signIn(op.username, 'not the password at all');
    const unknown = await signIn(`${h.tag}-nobody`, 'not the password at all');
    const malformed = await signIn('x', 'not the password at all');
    expect(codes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect(codes(unknown)).toEqual(['UNAUTHENTICATED']);
    expect(unknown.errors![0]!.message).toBe(wrong.errors![0]!.message);
    expect(malformed.errors![0]!.message).toBe(wrong.errors![0]!.message);
    expect(wrong.errors![0]!.message).toMatch(/wrong username or password/);
    expect(wrong.data).toBeNull();
  });

  it('locks an account after 5 wrong passwords in a row, says until when in the bank\'s time zone, and an admin\'s reset unlocks it', async () => {
    const op = await createOperator({});
    for (let i = 1; i <= 4; i++) expect(codes(await signIn(op.username, `wrong password ${i}`))).toEqual(['UNAUTHENTICATED']);
    const fifth = await signIn(op.username, 'wrong password 5');
    expect(codes(fifth)).toEqual(['LIMIT_EXCEEDED']);
    expect(fifth.errors![0]!.message).toMatch(/locked after 5 wrong passwords in a row, until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00 \(Asia\/Shanghai\)/);
    expect(fifth.errors![0]!.message).toMatch(/ask an admin to reset the password/);
    const until = /until (\S+)/.exec(fifth.errors![0]!.message)![1]!;
    expect(new Date(until).getTime() - Date.now()).toBeGreaterThan(14 * 60_000);
    // Locked: even the right password is refused, without a guess being checked.
    const right = await signIn(op.username, op.password);
    expect(codes(right)).toEqual(['LIMIT_EXCEEDED']);
    const seen = await h.gql(h.adminToken, `query($id: ID!) { operator(id: $id) { failedAttempts lockedUntil } }`, { id: op.id });
    expect(seen.data.operator.failedAttempts).toBe(5);
    expect(Math.abs(new Date(seen.data.operator.lockedUntil).getTime() - new Date(until).getTime())).toBeLessThan(1000);
    const reset = await h.gql(h.adminToken, `mutation($i: ResetOperatorPasswordInput!) { resetOperatorPassword(input: $i) { failedAttempts lockedUntil } }`,
      { i: { id: op.id, password: 'a brand new passphrase' } });
    expect(reset.data.resetOperatorPassword).toEqual({ failedAttempts: 0, lockedUntil: null });
    await signInOk(op.username, 'a brand new passphrase');
  });

  it('counts only consecutive failures: a right password starts the count again', async () => {
    const op = await createOperator({});
    for (let i = 0; i < 4; i++) await signIn(op.username, 'wrong password here');
    await signInOk(op.username, op.password);
    for (let i = 0; i < 4; i++) expect(codes(await signIn(op.username, 'wrong password here'))).toEqual(['UNAUTHENTICATED']);
    await signInOk(op.username, op.password);
  });

  it('checks at most 5 passwords per lock even when guesses arrive together', async () => {
    const op = await createOperator({});
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => signIn(op.username, `concurrent guess ${i}`)));
    const all = results.flatMap(codes);
    // Each guess is counted before its password is checked: five are checked, the rest are refused as locked.
    expect(all.filter((c) => c === 'UNAUTHENTICATED').length).toBeLessThanOrEqual(4);
    expect(all.filter((c) => c === 'LIMIT_EXCEEDED').length).toBeGreaterThanOrEqual(8);
    const row = await h.bank.knex('operators').where({ head_id: h.head.id, id: op.id }).first('failed_attempts', 'locked_until');
    expect(row.failed_attempts).toBe(5);
    expect(row.locked_until).not.toBeNull();
  });

  it('tells a disabled operator who knows its password that it is disabled, and nobody else', async () => {
    const op = await createOperator({});
    await h.gql(h.adminToken, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { disabled } }`, { i: { id: op.id } });
    const right = await signIn(op.username, op.password);
    expect(codes(right)).toEqual(['UNAUTHENTICATED']);
    expect(right.errors![0]!.message).toMatch(/is disabled; an admin of its branch can enable it/);
    const wrong = await signIn(op.username, 'wrong password here');
    expect(wrong.errors![0]!.message).toMatch(/wrong username or password/);
  });
});

describe('sessions', () => {
  const ended = /your session has ended: signed out, expired or the operator was disabled; sign in again/;

  it('a disabled operator\'s token stops working on the very next request, and enabling it does not revive the token', async () => {
    const op = await createOperator({});
    const token = await signInOk(op.username, op.password);
    expect((await h.gql(token, meQuery)).errors).toBeUndefined();
    const disabled = await h.gql(h.adminToken, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { disabled disabledAt } }`, { i: { id: op.id } });
    expect(disabled.data.disableOperator.disabled).toBe(true);
    const next = await h.gql(token, meQuery);
    expect(next.status).toBe(401);
    expect(codes(next)).toEqual(['UNAUTHENTICATED']);
    expect(next.errors![0]!.message).toMatch(ended);
    await h.gql(h.adminToken, `mutation($i: OperatorRefInput!) { enableOperator(input: $i) { disabled } }`, { i: { id: op.id } });
    expect(codes(await h.gql(token, meQuery))).toEqual(['UNAUTHENTICATED']);
    const fresh = await signInOk(op.username, op.password);
    expect((await h.gql(fresh, meQuery)).errors).toBeUndefined();
  });

  it('signing out ends the session: the same token is refused next time, other sessions go on', async () => {
    const op = await createOperator({});
    const desk = await signInOk(op.username, op.password);
    const phone = await signInOk(op.username, op.password);
    const out = await h.gql(desk, `mutation { signOut { endedAt } }`);
    expect(out.errors).toBeUndefined();
    expect(new Date(out.data.signOut.endedAt).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const after = await h.gql(desk, meQuery);
    expect(after.status).toBe(401);
    expect(after.errors![0]!.message).toMatch(ended);
    expect((await h.gql(phone, meQuery)).errors).toBeUndefined();
  });

  it('refuses signOut for a token that signIn did not make', async () => {
    expect(codes(await h.gql(h.adminToken, `mutation { signOut { endedAt } }`))).toEqual(['INVALID_STATE']);
  });

  it('refuses a token whose session has expired, even while the token itself has not', async () => {
    const op = await createOperator({});
    const token = await signInOk(op.username, op.password);
    const { sid } = jwt.decode(token) as { sid: string };
    // An hour later than the session's end, as if the shift were over.
    await h.bank.knex('operator_sessions').where({ head_id: h.head.id, id: sid })
      .update({ created_at: h.bank.knex.raw(`now() - interval '9 hours'`), expires_at: h.bank.knex.raw(`now() - interval '1 hour'`) });
    const res = await h.gql(token, meQuery);
    expect(res.status).toBe(401);
    expect(res.errors![0]!.message).toMatch(ended);
  });

  it('refuses a session token whose claims no longer match the operator (role, branch or merchant changed)', async () => {
    const op = await createOperator({});
    const token = await signInOk(op.username, op.password);
    const { sid } = jwt.decode(token) as { sid: string };
    // A token for the same session that claims a wider scope (as if signed with the shared secret by someone else).
    const widened = h.token({ role: 'admin', sub: `operator:${op.id}`, branch: h.head.code, sid } as any);
    expect(codes(await h.gql(widened, meQuery))).toEqual(['UNAUTHENTICATED']);
    const asMerchant = h.token({ role: 'merchant', sub: `operator:${op.id}`, merchant: '1', sid } as any);
    expect(codes(await h.gql(asMerchant, meQuery))).toEqual(['UNAUTHENTICATED']);
    const otherSub = h.token({ role: 'admin', sub: 'operator:999999', branch: h.branches[0]!.code, sid } as any);
    expect(codes(await h.gql(otherSub, meQuery))).toEqual(['UNAUTHENTICATED']);
    expect((await h.gql(token, meQuery)).errors).toBeUndefined();
  });

  it('a password reset by an admin ends the operator\'s sessions; changing one\'s own keeps the current session only', async () => {
    const op = await createOperator({});
    const a = await signInOk(op.username, op.password);
    const b = await signInOk(op.username, op.password);
    const change = `mutation($i: ChangeMyPasswordInput!) { changeMyPassword(input: $i) { username passwordChangedAt } }`;
    const wrong = await h.gql(a, change, { i: { currentPassword: 'not my password', newPassword: 'my own new passphrase' } });
    expect(codes(wrong)).toEqual(['FORBIDDEN']);
    const weak = await h.gql(a, change, { i: { currentPassword: op.password, newPassword: 'short' } });
    expect(codes(weak)).toEqual(['BAD_USER_INPUT']);
    const ok = await h.gql(a, change, { i: { currentPassword: op.password, newPassword: 'my own new passphrase' } });
    expect(ok.errors).toBeUndefined();
    expect((await h.gql(a, meQuery)).errors).toBeUndefined();
    expect(codes(await h.gql(b, meQuery))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await signIn(op.username, op.password))).toEqual(['UNAUTHENTICATED']);
    await signInOk(op.username, 'my own new passphrase');
    // The wrong current password above counted, and the right sign-in set the count back.
    expect((await h.gql(a, meQuery)).data.me.operator.failedAttempts).toBe(0);
    await h.gql(h.adminToken, `mutation($i: ResetOperatorPasswordInput!) { resetOperatorPassword(input: $i) { id } }`, { i: { id: op.id, password: 'reset by the office' } });
    expect(codes(await h.gql(a, meQuery))).toEqual(['UNAUTHENTICATED']);
    // changeMyPassword needs an operator's session.
    expect(codes(await h.gql(h.adminToken, change, { i: { currentPassword: 'x', newPassword: 'whatever it is now' } }))).toEqual(['FORBIDDEN']);
  });

  it('keeps other tokens as they were: no session query for tokens without sid', async () => {
    const statements = await h.statementsOf(async () => { await h.gql(h.adminToken, `{ me { role } }`); });
    expect(statements).toBe(0);
    const op = await createOperator({});
    const token = await signInOk(op.username, op.password);
    const withSession = await h.statementsOf(async () => { await h.gql(token, `{ me { role } }`); });
    expect(withSession).toBe(1);
  });
});

describe('stored passwords', () => {
  it('are scrypt hashes with their parameters and salt, rehashed at the next sign-in when the cost setting changes', async () => {
    const op = await createOperator({});
    const stored = async () => (await h.bank.knex('operators').where({ head_id: h.head.id, id: op.id }).first('password_hash')).password_hash as string;
    const first = await stored();
    expect(first).toMatch(/^\$scrypt\$ln=12,r=8,p=3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const app = await startApp({ OPERATOR_PASSWORD_LOG_N: '13' });
    try {
      const res = await request(app.url).post('/graphql').set('content-type', 'application/json')
        .send({ query: signInMutation, variables: { i: { username: op.username, password: op.password } } });
      expect(res.body.errors).toBeUndefined();
    } finally {
      await app.close();
    }
    expect(await stored()).toMatch(/^\$scrypt\$ln=13,r=8,p=3\$/);
    await signInOk(op.username, op.password);
  });
});

describe('the per-address limit', () => {
  it('answers RATE_LIMITED (429, Retry-After) after too many failed sign-ins from one address, even for the right password', async () => {
    const op = await createOperator({});
    const app = await startApp({ OPERATOR_SIGN_IN_FAILURES_PER_ADDRESS: '3', ...cheapHashes });
    try {
      const post = (password: string) => request(app.url).post('/graphql').set('content-type', 'application/json')
        .send({ query: signInMutation, variables: { i: { username: `${h.tag}-unknown-${password.length}`, password } } });
      const signInThere = (username: string, password: string) => request(app.url).post('/graphql').set('content-type', 'application/json')
        .send({ query: signInMutation, variables: { i: { username, password } } });
      // Two failures, then a success: the success clears the address's count.
      for (const p of ['guess one!!', 'guess two!!!']) expect((await post(p)).body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await signInThere(op.username, op.password)).body.errors).toBeUndefined();
      for (const p of ['guess three!!', 'guess four!!!', 'guess five!!!!']) expect((await post(p)).body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      const refused = await signInThere(op.username, op.password);
      expect(refused.status).toBe(429);
      expect(refused.body.errors[0].extensions.code).toBe('RATE_LIMITED');
      expect(refused.body.errors[0].message).toMatch(/too many failed sign-ins from your address; try again in \d+ s/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(800);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(900);
    } finally {
      await app.close();
    }
  });

  it('tracks a bounded number of addresses, forgetting the oldest first', () => {
    let now = 0;
    const throttle = new AddressThrottle(2, () => now);
    for (let i = 0; i < trackedAddressesMax + 50; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(throttle.size).toBeLessThanOrEqual(trackedAddressesMax);
    throttle.recordFailure('192.0.2.1');
    throttle.recordFailure('192.0.2.1');
    expect(() => throttle.check('192.0.2.1')).toThrow(/too many failed sign-ins/);
    now += 15 * 60_000;
    expect(() => throttle.check('192.0.2.1')).not.toThrow();
  });
});

it('formats instants in the bank\'s time zone with its offset', () => {
  expect(isoInTimeZone(new Date('2026-12-02T14:15:00Z'), 'Asia/Shanghai')).toBe('2026-12-02T22:15:00+08:00');
  expect(isoInTimeZone(new Date('2026-12-02T14:15:00Z'), 'UTC')).toBe('2026-12-02T14:15:00+00:00');
});
