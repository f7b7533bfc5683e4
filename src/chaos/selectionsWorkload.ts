// The fault harness's selections (评选, issue 16 §2): the admin opens selections with a one-day notice
// period, nominates members of the branch (sometimes past the quota), publishes the shortlist,
// extends or withdraws some; members of the branch object to candidates, the admin upholds or
// dismisses. The harness runs the services' clock (CLOCK_OFFSET_MS) so that the bank's midnight, the
// end of every period published before it, falls inside the run: the services' awarding rounds pay
// the winners while processes are being killed. Writes that move no money answer per key with what
// they moved: `selection:ID` (open, nominate, publish, withdraw, extend, resolve) or `objection:ID`.
import type { ChaosMember, ChaosWorld, KeyOutcome, Workload } from './workload.js';

export interface ChaosCandidate { id: string; memberId: string; struck: boolean }

/** A selection as the admin's client last knew it. */
export interface ChaosSelection {
  id: string;
  branchCode: string;
  quota: number;
  /** OPEN: nominating; PUBLISHED: on notice until periodEndsAt (ms), or past it and not yet awarding; CLOSED: withdrawn, awarding or awarded. */
  status: 'OPEN' | 'PUBLISHED' | 'CLOSED';
  periodEndsAt: number;
  candidates: ChaosCandidate[];
}

/** The selections' part of the world. */
export interface SelectionsWorld {
  /** The rule that pays winners: needs no approval and has no cap, so a round never leaves a winner unpaid. */
  selectionRule: string;
  /** The services' clock (the machine's plus CLOCK_OFFSET_MS). */
  clock(): Date;
  selections: ChaosSelection[];
  /** Open objections the admin may resolve, each taken once. */
  objections: { id: string; selectionId: string }[];
}

/** Selections being nominated at once: few, so that several clients race nominations on one quota and most get published early. */
const openSelectionsMax = 2;
const selectionOutcome = (id: string | number): KeyOutcome => ({ transactionId: `selection:${id}` });
const selectionFields = 'selection { id status periodEndsAt candidates { id status member { id } } }';

const pick = <T>(world: ChaosWorld, list: readonly T[]): T | undefined => list[Math.floor(world.random() * list.length)];
const inStatus = (world: ChaosWorld, status: ChaosSelection['status']) => world.selections.filter((s) => s.status === status);
/** A published selection whose period (as the client's clock says) still runs. */
const onNotice = (world: ChaosWorld) => inStatus(world, 'PUBLISHED').filter((s) => s.periodEndsAt > world.clock().getTime());
const branchMembers = (world: ChaosWorld, selection: ChaosSelection): ChaosMember[] => world.members.filter((m) => m.branchCode === selection.branchCode);

const statusOrder: ChaosSelection['status'][] = ['OPEN', 'PUBLISHED', 'CLOSED'];

/**
 * Brings the client's idea of a selection up to the answer's (candidates, status, period end). Answers
 * arrive out of order (a nominate answered before a withdrawal may be acknowledged after it): a status
 * only moves forward, and an older answer's candidates do not replace a longer list.
 */
function learn(world: ChaosWorld, answer: any): void {
  const known = world.selections.find((s) => s.id === String(answer.id));
  if (!known) return;
  const candidates = answer.candidates.map((c: any) => ({ id: String(c.id), memberId: String(c.member?.id), struck: c.status === 'STRUCK' }));
  if (candidates.length >= known.candidates.length) known.candidates = candidates;
  if (answer.periodEndsAt) known.periodEndsAt = Math.max(Date.parse(answer.periodEndsAt), Number.isFinite(known.periodEndsAt) ? known.periodEndsAt : 0);
  const status = answer.status === 'OPEN' || answer.status === 'PUBLISHED' ? answer.status : 'CLOSED';
  if (statusOrder.indexOf(status) > statusOrder.indexOf(known.status)) known.status = status;
}

/** A write whose answer is the selection after it: the client learns from the answer once the key is acknowledged. */
function selectionWrite(name: string, weight: number, input: string, build: (world: ChaosWorld) => Record<string, unknown> | null): Workload {
  return {
    name, weight,
    build: (world, key) => {
      const variables = build(world);
      if (!variables) return null;
      const k = key();
      return {
        workload: name, token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: `mutation($i: ${input}!) { ${name}(input: $i) { ${selectionFields} } }`,
        variables: { i: { ...variables, idempotencyKey: k } }, context: {},
      };
    },
    read: (data, request) => {
      request.context.answer = data[name].selection;
      return [selectionOutcome(data[name].selection.id)];
    },
    acknowledged: (world, _id, request) => learn(world, request!.context.answer),
  };
}

const act = (name: string, weight: number, choose: (world: ChaosWorld) => ChaosSelection | undefined, extra: Record<string, unknown> = {}) =>
  selectionWrite(name, weight, 'SelectionActInput', (world) => {
    const selection = choose(world);
    return selection ? { selection: selection.id, ...extra } : null;
  });

export const selectionWorkloads: Workload[] = [
  {
    name: 'openSelection', weight: 1.5,
    build: (world, key) => {
      if (inStatus(world, 'OPEN').length >= openSelectionsMax) return null;
      const branchCode = pick(world, [...new Set(world.members.map((m) => m.branchCode))])!;
      const k = key();
      const quota = 2 + Math.floor(world.random() * 4);
      return {
        workload: 'openSelection', token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: 'mutation($i: OpenSelectionInput!) { openSelection(input: $i) { selection { id } } }',
        variables: { i: { idempotencyKey: k, branch: branchCode, title: `最美庭院 chaos ${k}`, quota, rule: world.selectionRule, noticeDays: 1 } },
        context: { branchCode, quota },
      };
    },
    read: (data) => [selectionOutcome(data.openSelection.selection.id)],
    acknowledged: (world, id, request) => {
      const { branchCode, quota } = request!.context;
      world.selections.push({ id: id.slice('selection:'.length), branchCode, quota, status: 'OPEN', periodEndsAt: Infinity, candidates: [] });
    },
  },
  // one more candidate, now and then twice (refused, INVALID_STATE) or past the quota (LIMIT_EXCEEDED:
  // several clients nominate to one selection at once)
  selectionWrite('nominate', 5, 'NominateInput', (world) => {
    const selection = pick(world, inStatus(world, 'OPEN'));
    const member = selection && pick(world, branchMembers(world, selection).filter((m) => world.random() < 0.1 || !selection.candidates.some((c) => c.memberId === m.id)));
    return member ? { selection: selection.id, memberId: member.id, reason: 'keeps the courtyard tidy', evidenceLinks: ['https://example.org/chaos.jpg'] } : null;
  }),
  act('publishSelection', 2, (world) => pick(world, inStatus(world, 'OPEN').filter((s) => s.candidates.length >= Math.min(2, s.quota)))),
  act('extendSelection', 0.3, (world) => pick(world, onNotice(world)), { days: 1, reason: 'more time for objections' }),
  // withdrawn now and then while nominating or on notice, sometimes right as the period ends (racing
  // the awarding round: refused once it has begun)
  act('withdrawSelection', 0.3, (world) => {
    const r = world.random();
    return pick(world, r < 0.2 ? inStatus(world, 'OPEN') : r < 0.4 ? inStatus(world, 'PUBLISHED') : onNotice(world));
  }, { reason: 'chaos withdrawal' }),
  {
    // a member of the branch objects to a candidate on notice (now and then just after the period: refused)
    name: 'fileObjection', weight: 2,
    build: (world, key) => {
      const selection = pick(world, world.random() < 0.1 ? inStatus(world, 'PUBLISHED') : onNotice(world));
      const candidate = selection && pick(world, selection.candidates.filter((c) => !c.struck));
      const objector = selection && pick(world, branchMembers(world, selection));
      if (!selection || !candidate || !objector) return null;
      const k = key();
      return {
        workload: 'fileObjection', token: world.memberToken(objector), subject: `chaos-member-${objector.id}`, keys: [k],
        query: 'mutation($i: FileObjectionInput!) { fileObjection(input: $i) { objection { id candidateId } } }',
        variables: { i: { idempotencyKey: k, selection: selection.id, candidate: candidate.id, reason: 'the bins were not sorted' } },
        context: { selectionId: selection.id },
      };
    },
    read: (data) => [{ transactionId: `objection:${data.fileObjection.objection.id}` }],
    acknowledged: (world, id, request) => { world.objections.push({ id: id.slice('objection:'.length), selectionId: request!.context.selectionId }); },
  },
  // the admin upholds (the candidate is struck) or dismisses an objection; an open one holds its selection
  selectionWrite('resolveObjection', 2, 'ResolveObjectionInput', (world) => {
    if (!world.objections.length) return null;
    const [objection] = world.objections.splice(Math.floor(world.random() * world.objections.length), 1);
    const decision = world.random() < 0.4 ? 'UPHELD' : 'DISMISSED';
    return { objection: objection!.id, decision, reason: decision === 'UPHELD' ? 'seen at the bins' : 'not borne out' };
  }),
];
