// The awarding round in real processes: two processes at a period's end pay each winner once between
// them, and a process killed with SIGKILL in the middle of awarding leaves no winner paid twice, and
// none unpaid once a round runs again. Each process is `node --import tsx test/support/selectionAwarder.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/config.js';
import { awardDueSelections } from '../../src/selections/awarding.js';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let now = new Date('2026-11-01T02:00:00Z');
beforeAll(async () => {
  h = await startHarness({ poolSize: 10 });
  h.bank.clock = () => now;
  const res = await h.gql(h.adminToken, `mutation($input: DefineRuleInput!) { defineRule(input: $input) { rule { code } } }`, {
    input: { idempotencyKey: h.key(), code: 'selection.family', name: '最美家庭 Most beautiful family', category: 'selection',
      outputs: [{ asset: 'POINTS', amountPerUnit: '30.00' }] },
  });
  expect(res.errors).toBeUndefined();
});
afterAll(async () => { await h.checkInvariants(); await h.close(); });

let members = 0;

/** A published selection of `winners` new members, published at `at` with a 1-day period; answers its id and the members. */
async function publishedSelection(winners: number, at: Date): Promise<{ id: string; memberIds: string[] }> {
  now = at;
  const gql = async (query: string, input: Record<string, unknown>) => {
    const res = await h.gql(h.adminToken, query, { input: { idempotencyKey: h.key(), ...input } });
    expect(res.errors).toBeUndefined();
    return res.data;
  };
  const { openSelection } = await gql(`mutation($input: OpenSelectionInput!) { openSelection(input: $input) { selection { id } } }`,
    { branch: h.branches[0]!.code, title: '最美家庭 2026年11月', quota: winners, rule: 'selection.family', noticeDays: 1 });
  const id = openSelection.selection.id;
  const memberIds: string[] = [];
  for (let i = 0; i < winners; i++) {
    const memberId = await h.addMember(`${h.tag}-aw${++members}`);
    memberIds.push(memberId);
    await gql(`mutation($input: NominateInput!) { nominate(input: $input) { replayed } }`, { selection: id, memberId, reason: '家风好' });
  }
  await gql(`mutation($input: SelectionActInput!) { publishSelection(input: $input) { replayed } }`, { selection: id });
  return { id, memberIds };
}

interface Awarder { child: ChildProcess; lines: string[]; waitFor(pattern: RegExp): Promise<string>; exited: Promise<number | null> }

function startAwarder(at: Date, env: Record<string, string> = {}): Awarder {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'test/support/selectionAwarder.ts')], {
    cwd: projectRoot, stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, CB_TEST_DATABASE_URL: inject('databaseUrl'), CB_AWARD_AT: at.toISOString(), CB_HEAD_ID: h.head.id, ...env },
  });
  const lines: string[] = [];
  const waiting = new Set<() => void>();
  let rest = '';
  const collect = (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiting) wake();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { for (const wake of waiting) wake(); resolve(code); }));
  return {
    child, lines, exited,
    waitFor: (pattern) => new Promise((resolve, reject) => {
      const check = () => {
        const line = lines.find((l) => pattern.test(l));
        if (line !== undefined) { clearTimeout(timer); waiting.delete(check); resolve(line); return; }
        if (child.exitCode !== null || child.signalCode !== null) { clearTimeout(timer); waiting.delete(check); reject(new Error(`awarder exited before ${pattern}:\n${lines.join('\n')}`)); }
      };
      const timer = setTimeout(() => { waiting.delete(check); reject(new Error(`no ${pattern} in 60 s:\n${lines.join('\n')}`)); }, 60_000);
      waiting.add(check);
      check();
    }),
  };
}

/** Every winner of the selections: its status, and how many award transactions and keys name it. */
async function payments(selectionIds: string[]) {
  const { rows } = await h.bank.knex.raw(`
    SELECT c.id, c.status, c.transaction_id,
           (SELECT count(*) FROM transactions t WHERE t.head_id = c.head_id AND t.metadata->>'candidateId' = c.id::text)::int AS transactions,
           (SELECT count(*) FROM idempotency_keys k WHERE k.head_id = c.head_id AND k.subject = 'system:selections'
               AND k.key = 'selection:' || c.selection_id || ':' || c.id)::int AS keys
      FROM selection_candidates c WHERE c.head_id = ? AND c.selection_id = ANY (?::bigint[]) ORDER BY c.id`, [h.head.id, selectionIds]);
  return rows as { id: string; status: string; transaction_id: string | null; transactions: number; keys: number }[];
}

describe('awarding with several processes', () => {
  it('two processes at the period end pay each winner once between them', async () => {
    const publishedAt = new Date('2026-11-03T02:00:00Z');
    const selections = [await publishedSelection(12, publishedAt), await publishedSelection(12, publishedAt), await publishedSelection(12, publishedAt)];
    const end = new Date('2026-11-03T16:00:00Z'); // 4 November 00:00 in Shanghai
    const awarders = [startAwarder(end), startAwarder(end)];
    await Promise.all(awarders.map((a) => a.waitFor(/^ready$/)));
    for (const a of awarders) a.child.stdin!.write('go\n');
    const rounds = await Promise.all(awarders.map(async (a) => JSON.parse(await a.waitFor(/^\{/))));
    expect(await Promise.all(awarders.map((a) => a.exited))).toEqual([0, 0]);
    // between them, 36 awards; neither paid one the other had paid
    expect(rounds[0].awarded + rounds[1].awarded).toBe(36);
    expect(rounds.every((r) => r.refused === 0)).toBe(true);
    const paid = await payments(selections.map((s) => s.id));
    expect(paid.length).toBe(36);
    expect(paid.filter((p) => p.status === 'AWARDED' && p.transactions === 1 && p.keys === 1).length).toBe(36);
    for (const s of selections) for (const m of s.memberIds) expect(await h.walletBalance(m)).toBe('30.00');
    const statuses = await h.bank.knex('selections').whereIn('id', selections.map((s) => s.id)).pluck('status');
    expect(statuses).toEqual(['AWARDED', 'AWARDED', 'AWARDED']);
    const finished = await h.bank.knex('selection_history').whereIn('selection_id', selections.map((s) => s.id)).where({ head_id: h.head.id, act: 'AWARDED' }).count({ n: '*' });
    expect(Number(finished[0]!.n)).toBe(3);
  });

  it('a SIGKILL in the middle of awarding leaves no winner paid twice, and the next round pays the rest once', async () => {
    const s = await publishedSelection(6, new Date('2026-11-05T02:00:00Z'));
    const end = new Date('2026-11-05T16:00:00Z');
    const awarder = startAwarder(end, { CB_PAUSE_AFTER: '3' });
    await awarder.waitFor(/^ready$/);
    awarder.child.stdin!.write('go\n');
    await awarder.waitFor(/^paused after candidate/);
    awarder.child.kill('SIGKILL');
    await awarder.exited;
    expect(awarder.child.signalCode).toBe('SIGKILL');
    let paid = await payments([s.id]);
    expect(paid.map((p) => p.status)).toEqual(['AWARDED', 'AWARDED', 'AWARDED', 'NOMINATED', 'NOMINATED', 'NOMINATED']);
    expect(paid.map((p) => p.transactions)).toEqual([1, 1, 1, 0, 0, 0]);
    expect((await h.bank.knex('selections').where({ head_id: h.head.id, id: s.id }).first()).status).toBe('AWARDING');

    // a second process is killed while its award statements are in flight, wherever they are
    const second = startAwarder(end);
    await second.waitFor(/^ready$/);
    second.child.stdin!.write('go\n');
    await new Promise((r) => setTimeout(r, 15));
    second.child.kill('SIGKILL');
    await second.exited;
    paid = await payments([s.id]);
    expect(paid.every((p) => p.transactions === (p.status === 'AWARDED' ? 1 : 0) && p.keys === p.transactions)).toBe(true);

    expect((await awardDueSelections(h.bank, end, {}, h.head.id)).refused).toBe(0);
    paid = await payments([s.id]);
    expect(paid.map((p) => [p.status, p.transactions, p.keys])).toEqual(Array(6).fill(['AWARDED', 1, 1]));
    for (const m of s.memberIds) expect(await h.walletBalance(m)).toBe('30.00');
    expect((await h.bank.knex('selections').where({ head_id: h.head.id, id: s.id }).first()).status).toBe('AWARDED');
  });
});
