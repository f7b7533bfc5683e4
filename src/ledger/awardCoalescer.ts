// Group commit of single awards in the service (issue 14, decision 2). An award that finds no call of
// its lane in flight goes straight to cb_award_one, exactly as without coalescing; awards that arrive
// while one is in flight wait (no timer) and go together as one cb_award_batch call when it returns.
// Each request keeps its own key, answer and error: invariants 4 and 5 stay in SQL, per item.
import type { Bank } from '../bank.js';
import { BankError, type ErrorCode } from '../errors.js';
import { matchMessage } from '../errorMessages.js';
import { withRetry } from '../db/errors.js';
import { callAward, callAwardBatch, type AwardItem, type AwardScope } from './sql/award.js';
import { loadTransactionsJson } from './transactions.js';

/**
 * A group holds at most this many awards: a few times the clients one process serves at once (the
 * bench's 64), small enough that one group's statement stays far inside the request time budget
 * and its JSON a few hundred kilobytes; awards past it wait for the next group.
 */
export const awardGroupSizeMax = 256;

/** What the coalescer did since the process started: how many awards went alone and how many in groups. */
export interface AwardCoalescingStats {
  /** Calls of cb_award_one (a lone award, or a group of one). */
  loneCalls: number;
  /** Calls of cb_award_batch carrying a group of two or more awards. */
  groupCalls: number;
  /** Awards those group calls carried. */
  groupedAwards: number;
  /** Groups whose call failed for a reason that is not an outage, and whose awards then went alone. */
  fallbacks: number;
  /** Awards waiting now for their lane's call to return. */
  waiting: number;
}

interface Waiting { item: AwardItem; resolve(answer: any): void; reject(error: unknown): void }

/** Awards that may share one call: one scope (cb_award_batch takes one principal). */
interface Lane { scope: AwardScope; busy: boolean; queue: Waiting[] }

/** A lane per scope; a lane exists only while it has a call in flight. */
class AwardCoalescer {
  readonly stats: Omit<AwardCoalescingStats, 'waiting'> = { loneCalls: 0, groupCalls: 0, groupedAwards: 0, fallbacks: 0 };
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly bank: Bank) {}

  waiting(): number {
    let waiting = 0;
    for (const lane of this.lanes.values()) waiting += lane.queue.length;
    return waiting;
  }

  /** One award's answer, as cb_award_one gives it ({replayed, transactionId, transaction}), or its error. */
  award(scope: AwardScope, item: AwardItem): Promise<any> {
    if (!this.bank.config.awardCoalescing) return this.alone(scope, item);
    const laneKey = JSON.stringify([scope.headId, scope.sub, scope.role, scope.scopePath, scope.timeZone]);
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = { scope, busy: false, queue: [] };
      this.lanes.set(laneKey, lane);
    }
    if (!lane.busy) {
      lane.busy = true;
      const done = this.alone(scope, item);
      void done.then(() => this.next(laneKey), () => this.next(laneKey));
      return done;
    }
    return new Promise((resolve, reject) => lane.queue.push({ item, resolve, reject }));
  }

  private alone(scope: AwardScope, item: AwardItem): Promise<any> {
    this.stats.loneCalls++;
    return withRetry(() => callAward(this.bank.pool, scope, item));
  }

  /** The lane's call returned: send what waited, or close the lane. */
  private next(laneKey: string): void {
    const lane = this.lanes.get(laneKey)!;
    if (lane.queue.length === 0) {
      this.lanes.delete(laneKey);
      return;
    }
    // Invariant 4 across a group: never two awards of one key in one call (the batch would answer
    // the second from the first); the later one waits for the next group, and answers as it would alone.
    const group: Waiting[] = [];
    const rest: Waiting[] = [];
    const keys = new Set<string>();
    for (const waiting of lane.queue) {
      if (group.length < awardGroupSizeMax && !keys.has(waiting.item.key)) {
        keys.add(waiting.item.key);
        group.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    lane.queue = rest;
    let released = false;
    const release = () => {
      if (!released) { released = true; this.next(laneKey); }
    };
    const sent = group.length === 1 ? this.alone(lane.scope, group[0]!.item).then((answer) => [answer]) : this.together(lane.scope, group, release);
    void sent.then(
      (answers) => group.forEach((w, i) => w.resolve(answers[i])),
      (error) => group.forEach((w) => w.reject(error)),
    ).finally(release);
  }

  /**
   * One cb_award_batch call for the group (retried whole on deadlock or serialization failure:
   * nothing of a failed call committed), then one read of the written transactions. Resolves to one
   * outcome per award: an answer, or the error that award gets alone (as an AwardFailure). The lane
   * is released as soon as the write returns, so the next group is written while this one is read.
   */
  private async together(scope: AwardScope, group: Waiting[], release: () => void): Promise<unknown[]> {
    this.stats.groupCalls++;
    this.stats.groupedAwards += group.length;
    let out: any[];
    try {
      out = await withRetry(() => callAwardBatch(this.bank.pool, scope, group.map((w) => w.item)));
      release();
    } catch (error) {
      release();
      // An outage, a busy database or a spent time budget: each award gets what it would alone.
      if (error instanceof BankError && (error.code === 'UNAVAILABLE' || error.code === 'LIMIT_EXCEEDED')) throw error;
      // Anything else (never expected) is found out award by award, so that it stays with its own.
      this.stats.fallbacks++;
      return Promise.all(group.map((w) => this.alone(scope, w.item).catch((e: unknown) => failure(e))));
    }
    if (!Array.isArray(out) || out.length !== group.length) throw new Error('invariant broken: a group answered a different number of awards');
    const ids = out.filter((r) => !r.error).map((r) => String(r.transactionId));
    const written = ids.length > 0 ? await withRetry(() => loadTransactionsJson(this.bank, scope.headId, ids)) : new Map<string, any>();
    return out.map((r) => {
      if (r.error) return failure(this.refusal(r.error));
      const transaction = written.get(String(r.transactionId));
      if (!transaction) return failure(new Error(`invariant broken: written transaction ${r.transactionId} cannot be read`));
      return { replayed: Boolean(r.replayed), transactionId: String(r.transactionId), transaction };
    });
  }

  /** A group item's refusal, as cb_award_one raises it (both functions word it through the same catalogue). */
  private refusal(error: { code: ErrorCode; message: string; field?: string | null }): BankError {
    return new BankError(error.code, error.message, error.field ?? undefined, matchMessage(error.code, error.message));
  }
}

/** An award's own failure inside a group's answers (told apart from an answer by its class). */
class AwardFailure { constructor(readonly error: unknown) {} }
function failure(error: unknown): AwardFailure { return new AwardFailure(error); }

const coalescers = new WeakMap<Bank['pool'], AwardCoalescer>();

function coalescerOf(bank: Bank): AwardCoalescer {
  let coalescer = coalescers.get(bank.pool);
  if (!coalescer) {
    coalescer = new AwardCoalescer(bank);
    coalescers.set(bank.pool, coalescer);
  }
  return coalescer;
}

/** One award through this process's coalescer: its answer as cb_award_one gives it, or its own error. */
export async function coalescedAward(bank: Bank, scope: AwardScope, item: AwardItem): Promise<any> {
  const answer = await coalescerOf(bank).award(scope, item);
  if (answer instanceof AwardFailure) throw answer.error;
  return answer;
}

/** This process's coalescing so far, for tests and the bench. */
export function awardCoalescingStats(bank: Bank): AwardCoalescingStats {
  const coalescer = coalescerOf(bank);
  return { ...coalescer.stats, waiting: coalescer.waiting() };
}
