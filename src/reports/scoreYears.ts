// Closing a party-score year (年度考核): once assessment is done, an admin closes the year for its
// branch subtree and PARTY_SCORE dated in that year no longer changes there. The database holds it:
// a trigger on postings refuses such postings (cb_guard_score_years, src/reports/sql/guard_score_years.sql), and closing
// takes the bank's score-year lock exclusively so that no write dated in the year is still running under it.
// Only the head bank reopens a year, with a reason; both acts stay recorded.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import type { Branch } from '../directory/branches.js';
import { withRetry } from '../db/errors.js';
import { BankError, badInput } from '../errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkReason } from '../ledger/entries.js';
import { checkYear } from './period.js';

export interface ScoreYearClosure {
  id: string;
  branchId: string;
  year: number;
  closedBy: string;
  closedAt: Date;
  reopenedBy: string | null;
  reopenedAt: Date | null;
  reopenReason: string | null;
}

export function toClosure(r: Record<string, any>): ScoreYearClosure {
  return {
    id: String(r.id), branchId: String(r.branch_id), year: r.year, closedBy: r.closed_by, closedAt: r.closed_at,
    reopenedBy: r.reopened_by, reopenedAt: r.reopened_at, reopenReason: r.reopen_reason,
  };
}

/** The year, in the bank's time zone, of an instant. */
export function yearIn(timeZone: string, at: Date): number {
  return Number(new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' }).format(at));
}

/** The open closure of year covering branch (its own or an ancestor's), if any. */
export async function findClosure(db: Knex | Knex.Transaction, branch: Branch, year: number): Promise<ScoreYearClosure | null> {
  const ancestors = branch.path.split('/').filter(Boolean);
  const row = await db('score_year_closures')
    .where({ head_id: branch.headId, year }).whereNull('reopened_at').whereIn('branch_id', ancestors).first();
  return row ? toClosure(row) : null;
}

interface CloseInput { idempotencyKey: string; branch: string; year: number }

export async function closeScoreYear(bank: Bank, principal: Principal, input: CloseInput): Promise<{ closure: ScoreYearClosure; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const branch = await bank.branches.require(input.branch);
  requireScope(principal, branch, 'branch');
  const year = checkYear(input.year);
  if (year > yearIn(branch.timeZone, bank.clock())) throw badInput('year', `${year} has not begun yet`);
  const hash = requestHash('closeScoreYear', { branch: branch.code, year });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'closeScoreYear', hash, async () => {
      // Waits for the bank's PARTY_SCORE writes that are still running (they hold it shared).
      await trx.raw('SELECT pg_advisory_xact_lock(cb_score_year_lock_key(?))', [branch.headId]);
      const existing = await findClosure(trx, branch, year);
      if (existing) {
        const by = await bank.branches.requireById(existing.branchId);
        throw new BankError('INVALID_STATE', `the ${year} party-score year is already closed for branch ${by.code} (by ${existing.closedBy})`);
      }
      // Stamped when the close takes effect, after the lock: now() is this transaction's start, before
      // the wait, and a write that held the lock then committed after it (the race test saw one).
      const [row] = await trx('score_year_closures').insert({
        head_id: branch.headId, branch_id: branch.id, year, closed_by: principal.sub, closed_at: trx.raw('clock_timestamp()'),
      }).returning('id');
      return { id: String(row.id) };
    })));
  return { closure: await loadClosure(bank, principal.headId, String(result.id)), replayed };
}

interface ReopenInput { idempotencyKey: string; branch: string; year: number; reason: string }

/** Only an admin of the head bank reopens a year, and says why. */
export async function reopenScoreYear(bank: Bank, principal: Principal, input: ReopenInput): Promise<{ closure: ScoreYearClosure; replayed: boolean }> {
  requireRole(principal, 'admin');
  if (principal.branch.id !== principal.headId) throw new BankError('FORBIDDEN', 'only an admin of the head bank may reopen a party-score year');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const branch = await bank.branches.require(input.branch);
  requireScope(principal, branch, 'branch');
  const year = checkYear(input.year);
  const reason = checkReason(input.reason, true)!;
  const hash = requestHash('reopenScoreYear', { branch: branch.code, year, reason });
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'reopenScoreYear', hash, async () => {
      const [row] = await trx('score_year_closures')
        .where({ head_id: branch.headId, branch_id: branch.id, year }).whereNull('reopened_at')
        .update({ reopened_by: principal.sub, reopened_at: trx.fn.now(), reopen_reason: reason }).returning('id');
      if (!row) throw new BankError('INVALID_STATE', `the ${year} party-score year is not closed for branch ${branch.code}`);
      return { id: String(row.id) };
    })));
  return { closure: await loadClosure(bank, principal.headId, String(result.id)), replayed };
}

async function loadClosure(bank: Bank, headId: string, id: string): Promise<ScoreYearClosure> {
  const row = await bank.knex('score_year_closures').where({ head_id: headId, id }).first();
  if (!row) throw new Error(`invariant broken: score year closure ${id} cannot be read`);
  return toClosure(row);
}

/** Every closing and reopening recorded for a branch subtree, newest first (bounded: one row per act). */
export const closuresListedMax = 500;

export async function listScoreYearClosures(bank: Bank, principal: Principal, branchCode: string): Promise<ScoreYearClosure[]> {
  requireRole(principal, 'admin');
  const branch = await bank.branches.require(branchCode);
  requireScope(principal, branch, 'branch');
  const rows = await bank.knex('score_year_closures as c').join('branches as b', 'b.id', 'c.branch_id')
    .where('c.head_id', branch.headId).whereLike('b.path', `${branch.path}%`)
    .orderBy('c.id', 'desc').limit(closuresListedMax).select('c.*');
  return rows.map(toClosure);
}
