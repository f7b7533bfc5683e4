// Admins managing operators of their own scope, as the console will: a branch admin neither sees
// nor creates operators of a sibling branch, merchant staff act only for their own merchant, a
// password never comes back in any answer, concurrent creations of one username create one, and
// `npm run operator` makes the first operator from the command line.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';
import { projectRoot } from '../../src/config.js';

let h: Harness;
/** Every answer of this file, as sent, to look for passwords in. */
const answers: string[] = [];
const passwords = new Set<string>();
const cheapHashes = { OPERATOR_PASSWORD_LOG_N: '12' };

const signInMutation = `mutation($i: SignInInput!) { signIn(input: $i) { token expiresAt
  operator { id username displayName role branch { code name } merchant { id name } } } }`;
const createMutation = `mutation($i: CreateOperatorInput!) { createOperator(input: $i) { replayed operator {
  id username displayName role branch { code } merchant { id name } disabled disabledAt lockedUntil failedAttempts createdBy createdAt passwordChangedAt } } }`;
const listQuery = `query($b: String, $first: Int, $after: String) { operators(branch: $b, first: $first, after: $after) {
  edges { cursor node { id username role branch { code } merchant { id } } } pageInfo { hasNextPage endCursor } } }`;

async function gql(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse> {
  const res = await h.gql(token, query, variables);
  answers.push(JSON.stringify(res));
  return res;
}

function password(label: string): string {
  const value = `${label} ${h.tag} pass phrase`;
  passwords.add(value);
  return value;
}

async function create(fields: Record<string, unknown>, token = h.adminToken) {
  const res = await gql(token, createMutation, {
    i: { username: `${h.tag}-${Math.random().toString(36).slice(2, 8)}`, password: password('create'), displayName: 'Operator', role: 'admin', ...fields },
  });
  return res;
}

async function createOk(fields: Record<string, unknown>, token = h.adminToken) {
  const res = await create(fields, token);
  expect(res.errors, 'createOperator').toBeUndefined();
  return res.data.createOperator.operator;
}

async function signInOk(username: string, pw: string): Promise<string> {
  const res = await gql(null, signInMutation, { i: { username, password: pw } });
  expect(res.errors, 'signIn').toBeUndefined();
  return res.data.signIn.token;
}

let merchantA: string;
let merchantB: string;
let adminA: { id: string; username: string; token: string };
let adminB: { id: string; username: string };

beforeAll(async () => {
  h = await startHarness({ poolSize: 30, env: { OPERATOR_SIGN_IN_FAILURES_PER_ADDRESS: '1000', ...cheapHashes } });
  merchantA = await h.addMerchant('Caring Grocery', h.branches[0]);
  merchantB = await h.addMerchant('Neighbourhood Barber', h.branches[1]);
  const pwA = password('admin A');
  const a = await createOk({ username: `${h.tag}-admin-a`, password: pwA, branch: h.branches[0]!.code, displayName: 'Secretary of A' });
  adminA = { id: a.id, username: a.username, token: await signInOk(a.username, pwA) };
  const b = await createOk({ branch: h.branches[1]!.code, displayName: 'Secretary of B' });
  adminB = { id: b.id, username: b.username };
});

afterAll(async () => {
  await h.checkInvariants();
  await h.close();
});

describe('creating operators', () => {
  it('creates an admin of a branch and merchant staff of a merchant, with what the console shows', async () => {
    const admin = await createOk({ username: `${h.tag}-Li.Ming@Town`, branch: h.branches[2]!.code, displayName: '李明' });
    expect(admin).toMatchObject({
      username: `${h.tag}-li.ming@town`, displayName: '李明', role: 'admin', branch: { code: h.branches[2]!.code }, merchant: null,
      disabled: false, disabledAt: null, lockedUntil: null, failedAttempts: 0, createdBy: `admin-${h.tag}`,
    });
    const staff = await createOk({ role: 'merchant', merchant: merchantA });
    expect(staff).toMatchObject({ role: 'merchant', branch: { code: h.branches[0]!.code }, merchant: { id: merchantA, name: 'Caring Grocery' } });
  });

  it('refuses bad input with the field at fault and writes nothing', async () => {
    const before = await h.bank.knex('operators').where({ head_id: h.head.id }).count({ n: '*' }).first();
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'ab' }, 'username'],
      [{ username: 'has space' }, 'username'],
      [{ password: 'short' }, 'password'],
      [{ password: 'has a\ttab in it' }, 'password'],
      [{ password: 'x'.repeat(129) }, 'password'],
      [{ username: `${h.tag}-echo`, password: `my name is ${h.tag}-echo` }, 'password'],
      [{ displayName: '' }, 'displayName'],
      [{ branch: undefined }, 'branch'],
      [{ merchant: merchantA }, 'merchant'],
      [{ role: 'merchant' }, 'merchant'],
      [{ role: 'merchant', merchant: merchantA, branch: h.branches[1]!.code }, 'branch'],
    ];
    for (const [fields, field] of cases) {
      const res = await create({ branch: h.branches[0]!.code, ...fields });
      expect(codes(res), JSON.stringify(fields)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions!.field, JSON.stringify(fields)).toBe(field);
    }
    const after = await h.bank.knex('operators').where({ head_id: h.head.id }).count({ n: '*' }).first();
    expect(after!.n).toBe(before!.n);
  });

  it('creates one operator when the same username is sent many times at once', async () => {
    const username = `${h.tag}-rush`;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create({ username, branch: h.branches[0]!.code, displayName: `Attempt ${i}` })));
    const created = results.filter((r) => !r.errors);
    expect(created).toHaveLength(1);
    for (const r of results.filter((x) => x.errors)) {
      expect(codes(r)).toEqual(['INVALID_STATE']);
      expect(r.errors![0]!.message).toBe(`username "${username}" is taken; choose another`);
    }
    const rows = await h.bank.knex('operators').where({ username });
    expect(rows).toHaveLength(1);
  });

  it('replays a retry with the same idempotencyKey, also when the retries arrive together', async () => {
    const key = h.key();
    const username = `${h.tag}-retry`;
    const results = await Promise.all(Array.from({ length: 4 }, () => create({ idempotencyKey: key, username, branch: h.branches[0]!.code })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data.createOperator.operator.id)).size).toBe(1);
    expect(results.filter((r) => !r.data.createOperator.replayed)).toHaveLength(1);
    const conflict = await create({ idempotencyKey: key, username: `${h.tag}-other`, branch: h.branches[0]!.code });
    expect(codes(conflict)).toEqual(['IDEMPOTENCY_CONFLICT']);
  });
});

describe('scope', () => {
  it('an admin of branch A neither sees nor manages the operators of sibling branch B', async () => {
    const listed = await gql(adminA.token, listQuery, { first: 200 });
    expect(listed.errors).toBeUndefined();
    const ids = listed.data.operators.edges.map((e: any) => e.node.id);
    expect(ids).toContain(adminA.id);
    expect(ids).not.toContain(adminB.id);
    for (const e of listed.data.operators.edges) expect(e.node.branch.code).toBe(h.branches[0]!.code);
    expect(codes(await gql(adminA.token, listQuery, { b: h.branches[1]!.code }))).toEqual(['FORBIDDEN']);
    expect((await gql(adminA.token, `query($id: ID!) { operator(id: $id) { id } }`, { id: adminB.id })).data.operator).toBeNull();
    for (const m of ['disableOperator', 'enableOperator']) {
      const res = await gql(adminA.token, `mutation($i: OperatorRefInput!) { ${m}(input: $i) { id } }`, { i: { id: adminB.id } });
      expect(codes(res), m).toEqual(['NOT_FOUND']);
    }
    const reset = await gql(adminA.token, `mutation($i: ResetOperatorPasswordInput!) { resetOperatorPassword(input: $i) { id } }`,
      { i: { id: adminB.id, password: password('takeover') } });
    expect(codes(reset)).toEqual(['NOT_FOUND']);
    expect(codes(await create({ branch: h.branches[1]!.code }, adminA.token))).toEqual(['FORBIDDEN']);
    expect(codes(await create({ branch: h.head.code }, adminA.token))).toEqual(['FORBIDDEN']);
    expect(codes(await create({ role: 'merchant', merchant: merchantB }, adminA.token))).toEqual(['FORBIDDEN']);
    // Inside its own branch it may.
    const mine = await createOk({ branch: h.branches[0]!.code }, adminA.token);
    expect(mine.createdBy).toBe(`operator:${adminA.id}`);
    const staff = await createOk({ role: 'merchant', merchant: merchantA }, adminA.token);
    expect(staff.merchant.id).toBe(merchantA);
    // The head bank's admin sees both branches.
    const all = await gql(h.adminToken, listQuery, { first: 200 });
    const allIds = all.data.operators.edges.map((e: any) => e.node.id);
    expect(allIds).toEqual(expect.arrayContaining([adminA.id, adminB.id, mine.id]));
  });

  it('pages through operators oldest first', async () => {
    const first = await gql(h.adminToken, listQuery, { first: 2 });
    expect(first.data.operators.edges).toHaveLength(2);
    expect(first.data.operators.pageInfo.hasNextPage).toBe(true);
    const next = await gql(h.adminToken, listQuery, { first: 2, after: first.data.operators.pageInfo.endCursor });
    const [a, b] = first.data.operators.edges.map((e: any) => Number(e.node.id));
    const [c] = next.data.operators.edges.map((e: any) => Number(e.node.id));
    expect(a).toBeLessThan(b);
    expect(b).toBeLessThan(c);
    expect(codes(await gql(h.adminToken, listQuery, { first: 2, after: 'bm90IGEgY3Vyc29y' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('an admin cannot disable itself or reset its own password behind the current one', async () => {
    expect(codes(await gql(adminA.token, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { id } }`, { i: { id: adminA.id } })))
      .toEqual(['INVALID_STATE']);
    expect(codes(await gql(adminA.token, `mutation($i: ResetOperatorPasswordInput!) { resetOperatorPassword(input: $i) { id } }`,
      { i: { id: adminA.id, password: password('self') } }))).toEqual(['FORBIDDEN']);
  });

  it('merchant, member and client tokens may not manage operators', async () => {
    const member = await h.addMember(`${h.tag}-m-scope`);
    const tokens = [
      h.token({ role: 'merchant', merchant: merchantA, sub: `merchant-${merchantA}` }),
      h.token({ role: 'member', member, sub: `member-${member}` }),
      h.clientToken,
    ];
    for (const token of tokens) {
      expect(codes(await gql(token, listQuery))).toEqual(['FORBIDDEN']);
      expect(codes(await create({ branch: h.branches[0]!.code }, token))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(token, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { id } }`, { i: { id: adminA.id } }))).toEqual(['FORBIDDEN']);
    }
  });
});

describe('merchant staff at the counter', () => {
  it('fulfil only their own merchant\'s vouchers, and manage nothing else', async () => {
    const pw = password('shop');
    const staff = await createOk({ role: 'merchant', merchant: merchantA, password: pw, displayName: 'Counter 1' });
    const signedIn = await gql(null, signInMutation, { i: { username: staff.username, password: pw } });
    expect(signedIn.data.signIn.operator).toMatchObject({ role: 'merchant', merchant: { id: merchantA, name: 'Caring Grocery' }, branch: { code: h.branches[0]!.code } });
    const token = signedIn.data.signIn.token;
    const me = await gql(token, `{ me { role merchant: operator { merchant { id } } } }`);
    expect(me.data.me).toEqual({ role: 'merchant', merchant: { merchant: { id: merchantA } } });
    // Two items, one of each merchant, set up with the merchants' own tokens.
    const item = async (merchant: string) => {
      const res = await gql(h.token({ role: 'merchant', merchant, sub: `merchant-${merchant}` }),
        `mutation($i: UpsertCatalogItemInput!) { upsertCatalogItem(input: $i) { item { id } } }`,
        { i: { idempotencyKey: h.key(), code: `soap-${merchant}`, title: 'Soap', category: 'daily-goods', cost: '5.00', visibleTo: h.head.code } });
      expect(res.errors).toBeUndefined();
      return res.data.upsertCatalogItem.item.id;
    };
    const [itemA, itemB] = [await item(merchantA), await item(merchantB)];
    const memberId = await h.addMember(`${h.tag}-shopper`);
    await h.fund(memberId, '20.00');
    const memberToken = h.token({ role: 'member', member: memberId, sub: `member-${memberId}` });
    const redeem = async (itemId: string) => {
      const res = await gql(memberToken, `mutation($i: RedeemInput!) { redeem(input: $i) { redemption { code } } }`, { i: { idempotencyKey: h.key(), item: itemId } });
      expect(res.errors).toBeUndefined();
      return res.data.redeem.redemption.code as string;
    };
    const [codeA, codeB] = [await redeem(itemA), await redeem(itemB)];
    const fulfil = `mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { status merchant { id } } } }`;
    const own = await gql(token, fulfil, { i: { idempotencyKey: h.key(), code: codeA.toLowerCase() } });
    expect(own.errors).toBeUndefined();
    expect(own.data.fulfillRedemption.redemption).toEqual({ status: 'FULFILLED', merchant: { id: merchantA } });
    const other = await gql(token, fulfil, { i: { idempotencyKey: h.key(), code: codeB } });
    expect(codes(other)).toEqual(['FORBIDDEN']);
    expect(await h.bank.knex('redemptions').where({ head_id: h.head.id, code: codeB }).first('status')).toEqual({ status: 'PENDING' });
    expect(codes(await gql(token, listQuery))).toEqual(['FORBIDDEN']);
    expect(codes(await create({ role: 'merchant', merchant: merchantA }, token))).toEqual(['FORBIDDEN']);
    // Disabled by the branch admin, the counter's token stops at once.
    await gql(adminA.token, `mutation($i: OperatorRefInput!) { disableOperator(input: $i) { id } }`, { i: { id: staff.id } });
    expect(codes(await gql(token, fulfil, { i: { idempotencyKey: h.key(), code: codeB } }))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('passwords', () => {
  it('never appear in any answer, nor does their hash', async () => {
    // Every answer of this file so far, plus the reads a console makes.
    await gql(h.adminToken, listQuery, { first: 200 });
    await gql(adminA.token, `{ me { operator { id username } } }`);
    const everything = answers.join('\n');
    expect(answers.length).toBeGreaterThan(30);
    for (const pw of passwords) expect(everything.includes(pw), `a password in an answer`).toBe(false);
    expect(everything).not.toMatch(/\$scrypt\$|password_hash|passwordHash/);
  });
});

describe('npm run operator', () => {
  const run = promisify(execFile);
  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => {
    const child = run(path.join(projectRoot, 'node_modules/.bin/tsx'), [path.join(projectRoot, 'src/cli/operator.ts'), ...args], {
      cwd: projectRoot, env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ...cheapHashes, ...env }, timeout: 60_000,
    });
    if (input !== undefined) { child.child.stdin!.end(input); } else { child.child.stdin!.end(); }
    return child.then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
  };

  it('prints its usage with --help and exits 0', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/npm run operator -- <command>/);
    expect(res.stdout).toMatch(/add --username U --role admin\|merchant --branch CODE/);
  }, 120_000);

  it('adds the first operator with a password from the environment or stdin, or a generated one shown once; lists, disables, resets', async () => {
    const username = `${h.tag}-first`;
    const pw = password('cli');
    const added = await cli(['add', '--username', username, '--role', 'admin', '--branch', h.head.code, '--name', '第一位 First'], { OPERATOR_PASSWORD: pw });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`created operator ${username} \\(id \\d+\\): admin of branch ${h.head.code}`));
    expect(added.stdout).not.toContain(pw);
    await signInOk(username, pw);

    const staffName = `${h.tag}-till`;
    const piped = password('piped');
    const staff = await cli(['add', '--username', staffName, '--role', 'merchant', '--branch', h.head.code, '--merchant', merchantB], {}, `${piped}\n`);
    expect(staff.code, staff.stderr).toBe(0);
    expect(staff.stdout).toMatch(/staff of merchant \d+ \(Neighbourhood Barber\)/);
    await signInOk(staffName, piped);

    const generated = await cli(['reset-password', '--username', staffName], {}, '');
    expect(generated.code).toBe(0);
    const shown = /password \(shown once\): (\S+)/.exec(generated.stdout)![1]!;
    expect(shown).toHaveLength(20);
    await signInOk(staffName, shown);

    const list = await cli(['list', '--branch', h.head.code]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(username);
    expect(list.stdout).toContain(staffName);

    const disabled = await cli(['disable', '--username', staffName]);
    expect(disabled.code).toBe(0);
    const refused = await gql(null, signInMutation, { i: { username: staffName, password: shown } });
    expect(refused.errors![0]!.message).toMatch(/is disabled/);
  }, 300_000);
});
