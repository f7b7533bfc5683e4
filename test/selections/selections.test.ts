// Selections (评选) over real HTTP: an admin opens a selection, nominates within its quota and
// publishes the shortlist; members of the branch object during the notice period (公示) and admins
// uphold or dismiss; once the period ends, in the bank's time zone, with no open objection, the
// awarding round pays each winner once under the selection's rule. The clock is injected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startHarness, type GraphQLResponse, type Harness } from '../support/harness.js';
import { awardDueSelections } from '../../src/selections/awarding.js';

let h: Harness;
/** The service's clock, moved by the tests. */
let now = new Date('2026-11-01T02:00:00Z');
beforeAll(async () => {
  h = await startHarness({ poolSize: 20 });
  h.bank.clock = () => now;
  const res = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { code } } }`, {
    input: { idempotencyKey: h.key(), code: 'selection.courtyard', name: '最美庭院 Most beautiful courtyard', category: 'selection',
      outputs: [{ asset: 'POINTS', amountPerUnit: '50.00' }] },
  });
  expect(res.errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

const selectionFields = `id title quota rule noticeDays status publishedAt periodEndsAt extendedDays withdrawnAt awardedAt branch { code }
  candidates { id kind status maskedName reason evidenceLinks member { id externalId } awardedAt transaction { id kind memo postings { asset amount account { owner { type } } } } }
  objections { id candidateId status reason filedBy resolvedBy resolutionReason }
  history { act actor at details }`;
const result = `replayed selection { ${selectionFields} }`;

let members = 0;
async function newMember(branch = h.branches[0]!) {
  const externalId = `${h.tag}-sm${++members}`;
  const id = await h.addMember(externalId, branch);
  await h.bank.knex('members').where({ head_id: h.head.id, id }).update({ name: `王小明${members}` });
  return { id, externalId, token: h.token({ role: 'member', member: id, sub: `member-${externalId}` }) };
}

function gqlOk(res: GraphQLResponse, what: string): any {
  expect(res.errors, what).toBeUndefined();
  return res.data;
}

async function open(input: Record<string, unknown> = {}, token = h.adminToken): Promise<GraphQLResponse> {
  return h.gql(token, `mutation($input: OpenSelectionInput!) { openSelection(input: $input) { ${result} } }`, {
    input: { idempotencyKey: h.key(), branch: h.branches[0]!.code, title: '最美庭院 2026年11月', quota: 3, rule: 'selection.courtyard', ...input },
  });
}

async function opened(input: Record<string, unknown> = {}): Promise<any> {
  return gqlOk(await open(input), 'openSelection').openSelection.selection;
}

function nominate(selection: string, memberId: string, token = h.adminToken, extra: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  return h.gql(token, `mutation($input: NominateInput!) { nominate(input: $input) { ${result} } }`, {
    input: { idempotencyKey: h.key(), selection, memberId, reason: '庭院整洁，花木繁茂', evidenceLinks: ['https://example.org/yard.jpg'], ...extra },
  });
}

function act(name: 'publishSelection' | 'withdrawSelection' | 'extendSelection', selection: string, extra: Record<string, unknown> = {}, token = h.adminToken) {
  return h.gql(token, `mutation($input: SelectionActInput!) { ${name}(input: $input) { ${result} } }`, { input: { idempotencyKey: h.key(), selection, ...extra } });
}

function object(token: string, selection: string, candidate: string, reason = '该户门前堆放杂物') {
  return h.gql(token, `mutation($input: FileObjectionInput!) { fileObjection(input: $input) { replayed objection { id status candidateId reason } selection { status } } }`,
    { input: { idempotencyKey: h.key(), selection, candidate, reason } });
}

function resolve(objection: string, decision: 'UPHELD' | 'DISMISSED', reason = '已核实', token = h.adminToken) {
  return h.gql(token, `mutation($input: ResolveObjectionInput!) { resolveObjection(input: $input) { replayed objection { id status resolvedBy resolutionReason } selection { status candidates { id status } } } }`,
    { input: { idempotencyKey: h.key(), objection, decision, reason } });
}

async function read(id: string, token = h.adminToken): Promise<any> {
  return gqlOk(await h.gql(token, `query($id: ID!) { selection(id: $id) { ${selectionFields} } }`, { id }), 'selection').selection;
}

/** A published selection with the given members nominated, published at `at`. */
async function published(candidates: string[], at: Date, input: Record<string, unknown> = {}): Promise<any> {
  now = at;
  const s = await opened(input);
  for (const m of candidates) gqlOk(await nominate(s.id, m), 'nominate');
  return gqlOk(await act('publishSelection', s.id), 'publish').publishSelection.selection;
}

const round = (at: Date) => awardDueSelections(h.bank, at, {}, h.head.id);

describe('the full path to an automatic award', () => {
  it('opens, nominates, publishes, takes an objection, and pays each winner once when the period ends', async () => {
    const [a, b, objector] = [await newMember(), await newMember(), await newMember()];
    now = new Date('2026-11-02T01:00:00Z'); // 09:00 on 2 November in Asia/Shanghai
    const s = await opened();
    expect(s).toMatchObject({ status: 'OPEN', quota: 3, noticeDays: 5, rule: 'selection.courtyard', publishedAt: null, periodEndsAt: null });
    const first = gqlOk(await nominate(s.id, a.id), 'nominate a').nominate.selection;
    expect(first.candidates).toMatchObject([{ kind: 'MEMBER', status: 'NOMINATED', maskedName: expect.stringMatching(/^王\*\d$/), reason: '庭院整洁，花木繁茂',
      evidenceLinks: ['https://example.org/yard.jpg'], member: { id: a.id } }]);
    gqlOk(await nominate(s.id, b.id), 'nominate b');
    // not public before publishing: a member of the branch does not see it
    expect(await h.gql(objector.token, `query($id: ID!) { selection(id: $id) { id } }`, { id: s.id })).toMatchObject({ data: { selection: null } });
    const pub = gqlOk(await act('publishSelection', s.id), 'publish').publishSelection.selection;
    expect(pub).toMatchObject({ status: 'PUBLISHED', publishedAt: '2026-11-02T01:00:00.000Z', periodEndsAt: '2026-11-06T16:00:00.000Z' });

    now = new Date('2026-11-04T03:00:00Z');
    const [ca, cb] = pub.candidates;
    const objection = gqlOk(await object(objector.token, s.id, cb.id), 'object').fileObjection.objection;
    expect(objection).toMatchObject({ status: 'OPEN', candidateId: cb.id });

    // the period ends with the objection open: nothing is paid, the selection waits
    const after = new Date('2026-11-06T16:00:00Z');
    expect(await round(after)).toMatchObject({ awarded: 0 });
    expect((await read(s.id)).status).toBe('PUBLISHED');

    now = new Date('2026-11-07T02:00:00Z');
    const dismissed = gqlOk(await resolve(objection.id, 'DISMISSED', '经核实，杂物已清理'), 'dismiss').resolveObjection;
    expect(dismissed.objection).toMatchObject({ status: 'DISMISSED', resolvedBy: `admin-${h.tag}`, resolutionReason: '经核实，杂物已清理' });

    const transactionsBefore = await h.transactionCount();
    expect(await round(now)).toMatchObject({ selections: 1, awarded: 2, refused: 0 });
    const done = await read(s.id);
    expect(done.status).toBe('AWARDED');
    for (const c of done.candidates) {
      expect(c).toMatchObject({ status: 'AWARDED', transaction: { kind: 'EARN', memo: '最美庭院 2026年11月' } });
      expect(c.transaction.postings).toContainEqual(expect.objectContaining({ asset: 'POINTS', amount: '50.00', account: { owner: { type: 'MEMBER' } } }));
    }
    expect(await h.walletBalance(a.id)).toBe('50.00');
    expect(await h.walletBalance(b.id)).toBe('50.00');
    // each award is an ordinary award, idempotent by selection and candidate
    const keys = await h.bank.knex('idempotency_keys').where({ head_id: h.head.id, subject: 'system:selections' }).orderBy('key').pluck('key');
    expect(keys).toEqual([`selection:${s.id}:${ca.id}`, `selection:${s.id}:${cb.id}`].sort());

    // later rounds pay nothing more
    expect(await round(new Date('2026-11-08T00:00:00Z'))).toMatchObject({ awarded: 0 });
    expect(await h.transactionCount()).toBe(transactionsBefore + 2);
    expect(done.history.map((e: any) => e.act)).toEqual(['OPENED', 'NOMINATED', 'NOMINATED', 'PUBLISHED', 'OBJECTED', 'DISMISSED',
      'AWARDING', 'AWARDED_CANDIDATE', 'AWARDED_CANDIDATE', 'AWARDED']);
    expect(done.history[4]).toMatchObject({ actor: `member-${objector.externalId}`, at: '2026-11-04T03:00:00.000Z' });
    expect(done.history.at(-1)).toMatchObject({ actor: 'system:selections', details: { winners: 2 } });
    // the history is append-only
    await expect(h.bank.knex('selection_history').where({ head_id: h.head.id }).del()).rejects.toThrow(/append-only/);
  });
});

describe('objections', () => {
  it('an upheld objection strikes its candidate (never paid), a dismissed one keeps it', async () => {
    const [a, b, c, objector] = [await newMember(), await newMember(), await newMember(), await newMember()];
    const s = await published([a.id, b.id, c.id], new Date('2026-11-10T02:00:00Z'));
    now = new Date('2026-11-11T02:00:00Z');
    const [ca, cb] = s.candidates;
    const o1 = gqlOk(await object(objector.token, s.id, ca.id, '该户存在违章搭建'), 'object a').fileObjection.objection;
    const o2 = gqlOk(await object(objector.token, s.id, cb.id), 'object b').fileObjection.objection;
    const upheld = gqlOk(await resolve(o1.id, 'UPHELD', '违章搭建属实'), 'uphold').resolveObjection;
    expect(upheld.selection.candidates.find((x: any) => x.id === ca.id).status).toBe('STRUCK');
    gqlOk(await resolve(o2.id, 'DISMISSED', '不属实'), 'dismiss');
    // decided once
    const again = await resolve(o1.id, 'DISMISSED');
    expect(codes(again)).toEqual(['INVALID_STATE']);
    expect(again.errors![0]!.message).toBe(`objection ${o1.id} was already upheld by admin-${h.tag}`);
    // a struck candidate takes no more objections
    expect(codes(await object(objector.token, s.id, ca.id))).toEqual(['INVALID_STATE']);

    expect(await round(new Date('2026-11-15T16:00:00Z'))).toMatchObject({ awarded: 2 });
    const done = await read(s.id);
    expect(done.candidates.map((x: any) => x.status)).toEqual(['STRUCK', 'AWARDED', 'AWARDED']);
    expect(await h.walletBalance(a.id)).toBe('0.00');
    expect(await h.walletBalance(b.id)).toBe('50.00');
    expect(await h.walletBalance(c.id)).toBe('50.00');
    expect(done.objections.map((o: any) => o.status)).toEqual(['UPHELD', 'DISMISSED']);
  });

  it('objections are taken only from members of the branch, during the period', async () => {
    const [a, outsider, late] = [await newMember(), await newMember(h.branches[1]!), await newMember()];
    const s = await published([a.id], new Date('2026-11-20T02:00:00Z'));
    const candidate = s.candidates[0].id;
    const foreign = await object(outsider.token, s.id, candidate);
    expect(codes(foreign)).toEqual(['FORBIDDEN']);
    now = new Date('2026-11-24T16:00:00Z'); // the period's end, 25 November 00:00 in Shanghai
    const tooLate = await object(late.token, s.id, candidate);
    expect(codes(tooLate)).toEqual(['INVALID_STATE']);
    expect(tooLate.errors![0]!.message).toBe(`the notice period of selection ${s.id} ended at 2026-11-25T00:00:00.000+08:00: objections are no longer taken`);
    // admins do not file objections; members do
    expect(codes(await object(h.adminToken, s.id, candidate))).toEqual(['FORBIDDEN']);
  });
});

describe('the notice board', () => {
  it('shows a published shortlist without a token, names masked, and not an unpublished or withdrawn one', async () => {
    const branch = h.branches[1]!;
    gqlOk(await h.gql(h.adminToken, `mutation($i: SetNoticeBoardInput!) { setNoticeBoard(input: $i) { code } }`, { i: { branch: branch.code, enabled: true } }), 'board on');
    const [a, b, objector] = [await newMember(branch), await newMember(branch), await newMember(branch)];
    const s = await published([a.id, b.id], new Date('2026-12-01T13:00:00Z'), { branch: branch.code, title: '最美庭院 2026年12月' });
    now = new Date('2026-12-02T02:00:00Z');
    gqlOk(await object(objector.token, s.id, s.candidates[1].id), 'object');
    now = new Date('2026-12-01T13:00:00Z');
    await opened({ branch: branch.code, title: '草稿评选' });
    const board = gqlOk(await h.gql(null, `query($b: String!) { noticeBoard(branch: $b) { selections { title branchName periodEndsAt candidates openObjections names } } }`,
      { b: branch.code }), 'board').noticeBoard;
    expect(board.selections).toEqual([{ title: '最美庭院 2026年12月', branchName: 'Branch B', periodEndsAt: '2026-12-05T16:00:00.000Z', candidates: 2,
      openObjections: 1, names: [expect.stringMatching(/^王\*\d$/), expect.stringMatching(/^王\*\d$/)] }]);
    expect(JSON.stringify(board)).not.toMatch(/王小明|sm\d/);
    gqlOk(await act('withdrawSelection', s.id, { reason: '重新评选' }), 'withdraw');
  });
});

describe('withdrawing', () => {
  it('a withdrawn selection pays nothing, and an awarded one cannot be withdrawn', async () => {
    const [a, b] = [await newMember(), await newMember()];
    const s = await published([a.id, b.id], new Date('2026-11-03T02:00:00Z'));
    expect(codes(await act('withdrawSelection', s.id))).toEqual(['BAD_USER_INPUT']); // a reason is required
    const withdrawn = gqlOk(await act('withdrawSelection', s.id, { reason: '评选标准调整' }), 'withdraw').withdrawSelection.selection;
    expect(withdrawn).toMatchObject({ status: 'WITHDRAWN', withdrawnAt: '2026-11-03T02:00:00.000Z' });
    const transactions = await h.transactionCount();
    expect(await round(new Date('2026-11-09T00:00:00Z'))).toMatchObject({ awarded: 0 });
    expect(await h.transactionCount()).toBe(transactions);
    expect(await h.walletBalance(a.id)).toBe('0.00');
    expect((await read(s.id)).candidates.map((c: any) => c.status)).toEqual(['NOMINATED', 'NOMINATED']);

    const paid = await published([b.id], new Date('2026-11-03T02:00:00Z'));
    await round(new Date('2026-11-08T00:00:00Z'));
    const refused = await act('withdrawSelection', paid.id, { reason: '太晚了' });
    expect(codes(refused)).toEqual(['INVALID_STATE']);
    expect(refused.errors![0]!.message).toBe(`selection ${paid.id} is awarded: a selection can be withdrawn only before awarding`);
  });
});

describe('the quota', () => {
  it('refuses a nomination over the quota, in Chinese for a Chinese console, and writes nothing', async () => {
    const [a, b, c] = [await newMember(), await newMember(), await newMember()];
    now = new Date('2026-11-05T02:00:00Z');
    const s = await opened({ quota: 2 });
    gqlOk(await nominate(s.id, a.id), 'a');
    gqlOk(await nominate(s.id, b.id), 'b');
    const before = await h.footprint();
    const over = await nominate(s.id, c.id);
    expect(codes(over)).toEqual(['LIMIT_EXCEEDED']);
    expect(over.errors![0]!.message).toBe(`selection ${s.id} has a quota of 2 and 2 candidates already: no more can be nominated`);
    expect(await h.footprint()).toBe(before);
    const zh = await fetch(`${h.url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminToken}`, 'accept-language': 'zh-CN' },
      body: JSON.stringify({ query: `mutation($input: NominateInput!) { nominate(input: $input) { replayed } }`,
        variables: { input: { idempotencyKey: h.key(), selection: s.id, memberId: c.id, reason: '好' } } }),
    }).then((r) => r.json()) as any;
    expect(zh.errors[0].message).toBe(`评选 ${s.id} 的名额为 2 个，已提名 2 个，不能再提名`);
    // a member nominated twice is refused too
    const twice = await nominate(s.id, a.id);
    expect(codes(twice)).toEqual(['INVALID_STATE']);
    expect(twice.errors![0]!.message).toBe(`member ${a.externalId} is already a candidate of selection ${s.id}`);
  });

  it('holds under concurrent nominations: exactly quota of them land', async () => {
    now = new Date('2026-11-05T02:00:00Z');
    const s = await opened({ quota: 3 });
    const candidates = await Promise.all(Array.from({ length: 8 }, () => newMember()));
    const answers = await Promise.all(candidates.map((m) => nominate(s.id, m.id)));
    expect(answers.filter((r) => !r.errors).length).toBe(3);
    expect(answers.filter((r) => codes(r)[0] === 'LIMIT_EXCEEDED').length).toBe(5);
    expect((await read(s.id)).candidates.length).toBe(3);
  });
});

describe("the period in the bank's time zone", () => {
  it('ends at midnight of the bank calendar, whole days after publishing, and the round pays from that instant', async () => {
    const a = await newMember();
    // 23:30 on 1 November in Shanghai (15:30 UTC): the 1st counts as the first day, the period ends 6 November 00:00 +08:00
    const late = await published([a.id], new Date('2026-11-01T15:30:00Z'));
    expect(late.periodEndsAt).toBe('2026-11-05T16:00:00.000Z');
    // 00:30 on 2 November in Shanghai (16:30 UTC on the 1st): a day later
    const early = await published([(await newMember()).id], new Date('2026-11-01T16:30:00Z'));
    expect(early.periodEndsAt).toBe('2026-11-06T16:00:00.000Z');
    const sevenDays = await published([(await newMember()).id], new Date('2026-11-01T16:30:00Z'), { noticeDays: 7 });
    expect(sevenDays.periodEndsAt).toBe('2026-11-08T16:00:00.000Z');

    expect(await round(new Date('2026-11-05T15:59:59.999Z'))).toMatchObject({ awarded: 0 });
    expect((await read(late.id)).status).toBe('PUBLISHED');
    expect(await round(new Date('2026-11-05T16:00:00Z'))).toMatchObject({ selections: 1, awarded: 1 });
    expect((await read(late.id)).status).toBe('AWARDED');
    expect((await read(early.id)).status).toBe('PUBLISHED');

    // extending moves the end by whole days of the same calendar, with a reason
    now = new Date('2026-11-03T02:00:00Z');
    expect(codes(await act('extendSelection', early.id, { days: 2 }))).toEqual(['BAD_USER_INPUT']);
    const extended = gqlOk(await act('extendSelection', early.id, { days: 2, reason: '收到群众反映，延长公示' }), 'extend').extendSelection.selection;
    expect(extended).toMatchObject({ periodEndsAt: '2026-11-08T16:00:00.000Z', extendedDays: 2 });
    expect(extended.history.at(-1)).toMatchObject({ act: 'EXTENDED', details: { days: 2, reason: '收到群众反映，延长公示' } });
    expect(await round(new Date('2026-11-08T15:59:59Z'))).toMatchObject({ awarded: 0 });
    expect(await round(new Date('2026-11-08T16:00:00Z'))).toMatchObject({ selections: 2, awarded: 2 });
  });

  it('follows a head bank in another time zone', async () => {
    const a = await newMember(h.branches[2]!);
    await h.bank.knex('branches').where({ id: h.branches[2]!.id }).update({ time_zone: 'Europe/London' });
    h.bank.branches.remember({ ...h.branches[2]!, timeZone: 'Europe/London' });
    try {
      const s = await published([a.id], new Date('2026-11-01T23:30:00Z'), { branch: h.branches[2]!.code, noticeDays: 1 });
      expect(s.periodEndsAt).toBe('2026-11-02T00:00:00.000Z');
    } finally {
      await h.bank.knex('branches').where({ id: h.branches[2]!.id }).update({ time_zone: h.branches[2]!.timeZone });
      h.bank.branches.remember(h.branches[2]!);
    }
  });
});

describe('authorization', () => {
  it('follows the roles and scoping of claims', async () => {
    const [a, memberB] = [await newMember(), await newMember(h.branches[1]!)];
    const adminB = h.token({ role: 'admin', branch: h.branches[1]!.code, sub: `admin-b-${h.tag}` });
    // members and clients do not open; an admin only within its scope
    expect(codes(await open({}, a.token))).toEqual(['FORBIDDEN']);
    expect(codes(await open({}, h.clientToken))).toEqual(['FORBIDDEN']);
    expect(codes(await open({}, adminB))).toEqual(['FORBIDDEN']);
    now = new Date('2026-11-12T02:00:00Z');
    const s = await opened();
    expect(codes(await nominate(s.id, a.id, adminB))).toEqual(['FORBIDDEN']);
    expect(codes(await nominate(s.id, memberB.id))).toEqual(['BAD_USER_INPUT']); // not of the selection's branch
    expect(codes(await nominate(s.id, a.id, h.adminToken, { householdId: '1' }))).toEqual(['BAD_USER_INPUT']);
    gqlOk(await nominate(s.id, a.id), 'nominate');
    expect(codes(await act('publishSelection', s.id, {}, adminB))).toEqual(['FORBIDDEN']);
    expect(codes(await act('publishSelection', s.id, {}, a.token))).toEqual(['FORBIDDEN']);
    gqlOk(await act('publishSelection', s.id), 'publish');
    // reads: the admin of another branch sees nothing; a member of the branch sees the published shortlist without the history
    expect((await h.gql(adminB, `query($id: ID!) { selection(id: $id) { id } }`, { id: s.id })).data.selection).toBeNull();
    const list = gqlOk(await h.gql(adminB, `{ selections { edges { node { id } } } }`), 'list b').selections.edges;
    expect(list.map((e: any) => e.node.id)).not.toContain(s.id);
    const seen = await read(s.id, a.token);
    expect(seen).toMatchObject({ status: 'PUBLISHED', history: null, objections: [] });
    expect(seen.candidates[0]).toMatchObject({ maskedName: expect.stringMatching(/^王\*/), member: { id: a.id } });
    const mine = gqlOk(await h.gql(a.token, `{ selections { edges { node { id status } } } }`), 'member list').selections.edges;
    expect(mine.map((e: any) => e.node.id)).toContain(s.id);
    expect((await h.gql(memberB.token, `query($id: ID!) { selection(id: $id) { id } }`, { id: s.id })).data.selection).toBeNull();
    // objections are resolved by admins in scope
    const objector = await newMember();
    const o = gqlOk(await object(objector.token, s.id, s.candidates?.[0]?.id ?? seen.candidates[0].id), 'object').fileObjection.objection;
    expect(codes(await resolve(o.id, 'UPHELD', '不', adminB))).toEqual(['NOT_FOUND']);
    expect(codes(await resolve(o.id, 'UPHELD', '不', objector.token))).toEqual(['FORBIDDEN']);
    // a member sees only its own objections
    expect((await read(s.id, objector.token)).objections.map((x: any) => x.id)).toEqual([o.id]);
    expect((await read(s.id, a.token)).objections).toEqual([]);
    gqlOk(await act('withdrawSelection', s.id, { reason: '测试结束' }), 'withdraw');
  });

  it('replays a write sent again with its key', async () => {
    const a = await newMember();
    now = new Date('2026-11-12T02:00:00Z');
    const input = { idempotencyKey: h.key(), branch: h.branches[0]!.code, title: '最美家庭', quota: 1, rule: 'selection.courtyard' };
    const mutation = `mutation($input: OpenSelectionInput!) { openSelection(input: $input) { replayed selection { id } } }`;
    const first = gqlOk(await h.gql(h.adminToken, mutation, { input }), 'first').openSelection;
    const again = gqlOk(await h.gql(h.adminToken, mutation, { input }), 'again').openSelection;
    expect(again).toEqual({ replayed: true, selection: first.selection });
    expect(codes(await h.gql(h.adminToken, mutation, { input: { ...input, quota: 2 } }))).toEqual(['IDEMPOTENCY_CONFLICT']);
    gqlOk(await nominate(first.selection.id, a.id), 'nominate');
  });
});
