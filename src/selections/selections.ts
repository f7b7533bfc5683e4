// Selections (评选, issue 16 §2): an admin opens a selection for a branch (a quota, the rule that pays
// each winner, a notice period in whole days of the bank's calendar), nominates candidates within the
// quota, and publishes the shortlist (公示). During the period members of the branch object (异议);
// admins uphold (the candidate is struck) or dismiss each objection. Every act is recorded in the
// selection's history. Each write locks the selection row and acts only from the state it allows, so a
// quota is never overrun and no objection lands once awarding has begun. Paying winners: awarding.ts.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { checkExternalId, checkId, findMember, type Member } from '../directory/members.js';
import { withRetry } from '../db/errors.js';
import { BankError, badInput, type ErrorCode, type MessageParams } from '../errors.js';
import { englishMessage } from '../errorMessages.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { checkReason } from '../ledger/entries.js';
import { checkEvidenceLinks } from '../claims/claims.js';
import { checkRuleCode } from '../rules/rules.js';
import { checkName, checkWholeNumber } from '../inputChecks.js';
import { decodePageCursor } from '../pagination.js';
import { instantOfWallClock, wallClockOf } from '../wallClock.js';

export type SelectionStatus = 'OPEN' | 'PUBLISHED' | 'AWARDING' | 'AWARDED' | 'WITHDRAWN';
export const selectionStatuses: readonly SelectionStatus[] = ['OPEN', 'PUBLISHED', 'AWARDING', 'AWARDED', 'WITHDRAWN'];
export type CandidateStatus = 'NOMINATED' | 'STRUCK' | 'AWARDED';
export type ObjectionStatus = 'OPEN' | 'UPHELD' | 'DISMISSED';

/** A title names a selection on a notice board line ("最美庭院 2026年12月, 东村"). */
export const titleLengthMax = 200;
/** Winners per selection: a village's monthly selection has a handful; one award call per winner. */
export const quotaMax = 1000;
/** The notice period SPEC gives by default (公示 5 days), and the longest a selection may set or be extended to at once. */
export const noticeDaysDefault = 5;
export const noticeDaysMax = 60;
/** A selection's period may be extended by at most this many days in all: past that, withdraw and open a new one. */
export const extendedDaysMax = 365;
/** Objections one member may file on one selection: enough to object to each candidate, bounded against flooding. */
export const objectionsPerMemberMax = 20;
/** The subject the awarding round writes under: the awards' idempotency keys (selection:<id>:<candidate>) live under it. */
export const awardingSubject = 'system:selections';

export interface Selection {
  id: string; headId: string; branchId: string; title: string; quota: number; rule: string; noticeDays: number;
  status: SelectionStatus; openedBy: string; openedAt: Date; publishedAt: Date | null; periodEndsAt: Date | null;
  extendedDays: number; withdrawnAt: Date | null; awardedAt: Date | null;
}

export interface Candidate {
  id: string; selectionId: string; kind: 'MEMBER' | 'HOUSEHOLD'; memberId: string | null; householdId: string | null;
  name: string; reason: string; evidenceLinks: string[]; status: CandidateStatus; nominatedBy: string; nominatedAt: Date;
  transactionId: string | null; awardedAt: Date | null; awardError: string | null;
}

export interface Objection {
  id: string; selectionId: string; candidateId: string; memberId: string; filedBy: string; filedAt: Date; reason: string;
  status: ObjectionStatus; resolvedBy: string | null; resolvedAt: Date | null; resolutionReason: string | null;
}

export interface HistoryEntry { id: string; act: string; actor: string; at: Date; details: Record<string, unknown> }

export function toSelection(r: Record<string, any>): Selection {
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), title: r.title, quota: r.quota, rule: r.rule_code,
    noticeDays: r.notice_days, status: r.status, openedBy: r.opened_by, openedAt: r.opened_at, publishedAt: r.published_at,
    periodEndsAt: r.period_ends_at, extendedDays: r.extended_days, withdrawnAt: r.withdrawn_at, awardedAt: r.awarded_at,
  };
}

function toCandidate(r: Record<string, any>): Candidate {
  return {
    id: String(r.id), selectionId: String(r.selection_id), kind: r.kind, memberId: r.member_id == null ? null : String(r.member_id),
    householdId: r.household_id == null ? null : String(r.household_id), name: r.name ?? '', reason: r.reason, evidenceLinks: r.evidence_links,
    status: r.status, nominatedBy: r.nominated_by, nominatedAt: r.nominated_at, transactionId: r.transaction_id == null ? null : String(r.transaction_id),
    awardedAt: r.awarded_at, awardError: r.award_error,
  };
}

function toObjection(r: Record<string, any>): Objection {
  return {
    id: String(r.id), selectionId: String(r.selection_id), candidateId: String(r.candidate_id), memberId: String(r.member_id),
    filedBy: r.filed_by, filedAt: r.filed_at, reason: r.reason, status: r.status, resolvedBy: r.resolved_by, resolvedAt: r.resolved_at,
    resolutionReason: r.resolution_reason,
  };
}

const errorCodeOf: Record<string, ErrorCode> = {
  'selection.notFound': 'NOT_FOUND', 'selection.candidateNotFound': 'NOT_FOUND', 'selection.objectionNotFound': 'NOT_FOUND',
  'selection.ruleNotApplicable': 'NOT_FOUND', 'selection.quotaFull': 'LIMIT_EXCEEDED', 'selection.objectionsPerMember': 'LIMIT_EXCEEDED',
  'selection.objectorOutside': 'FORBIDDEN', 'selection.candidateOutside': 'BAD_USER_INPUT', 'selection.ruleCreditsMembers': 'BAD_USER_INPUT', 'selection.householdNotFound': 'NOT_FOUND',
  'selection.ruleNeedsApproval': 'BAD_USER_INPUT', 'selection.extendedTooFar': 'BAD_USER_INPUT',
};

/** A refusal from the catalogue (errorMessages.ts: English and Chinese), by id; INVALID_STATE unless listed above. */
export function selectionError(id: string, params: MessageParams, field?: string): BankError {
  return new BankError(errorCodeOf[id] ?? 'INVALID_STATE', englishMessage(id, params), field, { id, params });
}

/**
 * The end of a notice period (the first instant after it): midnight of the bank's calendar (timeZone),
 * days whole days after the day of `from`. Published at 2026-12-01 21:00 in Asia/Shanghai with 5 days,
 * the shortlist is up on the 1st to the 5th and the period ends at 2026-12-06 00:00 +08:00.
 * `from` at midnight counts its day as the first. Extending moves a period's end by whole days the same way.
 */
export function noticePeriodEnd(from: Date, days: number, timeZone: string): Date {
  const wall = wallClockOf(from, timeZone);
  const midnight = new Date(Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate() + days));
  return instantOfWallClock(midnight, timeZone);
}

export async function loadSelection(bank: Bank | { knex: Knex }, headId: string, id: string): Promise<Selection | null> {
  const row = await bank.knex('selections').where({ head_id: headId, id }).first();
  return row ? toSelection(row) : null;
}

async function requireSelection(bank: Bank, principal: Principal, id: unknown): Promise<Selection> {
  const selection = await loadSelection(bank, principal.headId, checkId(id, 'selection'));
  if (!selection) throw selectionError('selection.notFound', { selection: String(id) }, 'selection');
  return selection;
}

/** The selection for an admin whose scope covers its branch (claims' rule: the branch or above). */
async function selectionToManage(bank: Bank, principal: Principal, id: unknown): Promise<{ selection: Selection; branch: Branch }> {
  requireRole(principal, 'admin');
  const selection = await requireSelection(bank, principal, id);
  const branch = await bank.branches.requireById(selection.branchId);
  requireScope(principal, branch, 'selection');
  return { selection, branch };
}

/** The selection's row, locked for this write (every write takes it first: one order, no deadlock). */
async function lockSelection(trx: Knex.Transaction, selection: Selection): Promise<Selection> {
  return toSelection(await trx('selections').where({ head_id: selection.headId, id: selection.id }).forUpdate().first());
}

async function record(trx: Knex.Transaction, selection: Selection, act: string, actor: string, at: Date, details: Record<string, unknown> = {}): Promise<void> {
  await trx('selection_history').insert({ head_id: selection.headId, selection_id: selection.id, act, actor, at, details: JSON.stringify(details) });
}

/** How many rows a query matches. */
async function countRows(query: Knex.QueryBuilder): Promise<number> {
  const [row] = await query.count({ n: '*' });
  return Number(row!.n);
}

/** A selection's state as a word of its refusals (errorMessages.ts translates it). */
function stateOf(status: string): string {
  return status.toLowerCase();
}

/** Runs one selection write once per key, in a transaction, retried on deadlock; answers the selection after it. */
async function writeOnce<T extends { id: string }>(
  bank: Bank, principal: Principal, key: string, operation: string, meaning: unknown, write: (trx: Knex.Transaction) => Promise<T>,
): Promise<{ selection: Selection; replayed: boolean; result: T }> {
  const hash = requestHash(operation, meaning);
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) => runIdempotent(trx, principal, key, operation, hash, () => write(trx))));
  return { selection: (await loadSelection(bank, principal.headId, String(result.id)))!, replayed, result };
}

/** The latest version of a rule on a branch's path, the deepest definition winning (as cb_award_target finds it). */
async function ruleInForce(bank: Bank, branch: Branch, code: string): Promise<{ requires_approval: boolean; beneficiary: 'MEMBER' | 'HOUSEHOLD' } | undefined> {
  return bank.knex('rules as r').join('branches as b', 'b.id', 'r.branch_id')
    .where({ 'r.head_id': branch.headId, 'r.code': code }).whereIn('r.branch_id', branch.path.split('/').filter(Boolean))
    .orderBy([{ column: 'b.depth', order: 'desc' }, { column: 'r.version', order: 'desc' }]).first('r.requires_approval', 'r.beneficiary');
}

export interface OpenSelectionInput { idempotencyKey: string; branch: string; title: string; quota: number; rule: string; noticeDays?: number | null }

export async function openSelection(bank: Bank, principal: Principal, input: OpenSelectionInput): Promise<{ selection: Selection; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const branch = await bank.branches.require(input.branch);
  requireScope(principal, branch, 'branch');
  const title = checkName('title', input.title, titleLengthMax)!;
  const quota = checkWholeNumber('quota', input.quota, 1, quotaMax);
  if (quota === null) throw badInput('quota', 'is required');
  const noticeDays = checkWholeNumber('noticeDays', input.noticeDays, 1, noticeDaysMax) ?? noticeDaysDefault;
  const rule = checkRuleCode(input.rule, 'rule');
  // The rule in force on the branch's path (as an award to its members finds it): it must exist and pay without approval.
  const version = await ruleInForce(bank, branch, rule);
  if (!version) throw selectionError('selection.ruleNotApplicable', { rule, branch: branch.code }, 'rule');
  if (version.requires_approval) throw selectionError('selection.ruleNeedsApproval', { rule }, 'rule');
  const now = bank.clock();
  return writeOnce(bank, principal, key, 'openSelection', { branch: branch.id, title, quota, noticeDays, rule }, async (trx) => {
    const [row] = await trx('selections').insert({
      head_id: principal.headId, branch_id: branch.id, title, quota, rule_code: rule, notice_days: noticeDays, status: 'OPEN',
      opened_by: principal.sub, opened_at: now,
    }).returning('*');
    const selection = toSelection(row);
    await record(trx, selection, 'OPENED', principal.sub, now, { title, quota, rule, noticeDays, branch: branch.code });
    return { id: selection.id };
  });
}

export interface NominateInput {
  idempotencyKey: string; selection: string; memberId?: string | null; externalId?: string | null;
  householdId?: string | null; householdExternalId?: string | null; reason: string; evidenceLinks?: string[] | null;
}

/** Who a nomination names: a member, or a household (户). */
interface Nominee { kind: 'MEMBER' | 'HOUSEHOLD'; memberId: string | null; householdId: string | null; label: string; branchId: string; field: string }

async function findNominee(bank: Bank, headId: string, input: NominateInput): Promise<Nominee> {
  const named = [input.memberId, input.externalId, input.householdId, input.householdExternalId].filter((v) => v != null).length;
  if (named !== 1) throw badInput('memberId', 'give exactly one of memberId, externalId, householdId or householdExternalId');
  if (input.householdId == null && input.householdExternalId == null) {
    const member = await findMember(bank, headId, { id: input.memberId, externalId: input.externalId });
    return { kind: 'MEMBER', memberId: member.id, householdId: null, label: `member ${member.externalId}`, branchId: member.branchId, field: 'member' };
  }
  const field = input.householdId != null ? 'householdId' : 'householdExternalId';
  const query = bank.knex('households').where({ head_id: headId });
  if (input.householdId != null) query.andWhere({ id: checkId(input.householdId, field) });
  else query.andWhere({ external_id: checkExternalId(input.householdExternalId, field) });
  const row = await query.first('id', 'external_id', 'branch_id');
  if (!row) throw selectionError('selection.householdNotFound', { field, household: String(input.householdId ?? input.householdExternalId) }, field);
  return { kind: 'HOUSEHOLD', memberId: null, householdId: String(row.id), label: `household ${row.external_id}`, branchId: String(row.branch_id), field };
}

export async function nominate(bank: Bank, principal: Principal, input: NominateInput): Promise<{ selection: Selection; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const { selection, branch } = await selectionToManage(bank, principal, input.selection);
  const nominee = await findNominee(bank, principal.headId, input);
  if (!isWithin(await bank.branches.requireById(nominee.branchId), branch)) {
    throw selectionError('selection.candidateOutside', { field: nominee.field, candidate: nominee.label, branch: branch.code, selection: selection.id }, nominee.field);
  }
  // A household is paid under a rule that credits households (rules.beneficiary); a member under either
  // (a HOUSEHOLD rule credits the member's household, as any award under it does).
  if (nominee.kind === 'HOUSEHOLD' && (await ruleInForce(bank, branch, selection.rule))?.beneficiary !== 'HOUSEHOLD') {
    throw selectionError('selection.ruleCreditsMembers', { field: nominee.field, rule: selection.rule, selection: selection.id }, nominee.field);
  }
  const reason = checkReason(input.reason, true)!;
  const evidenceLinks = checkEvidenceLinks(input.evidenceLinks, 'evidenceLinks');
  const now = bank.clock();
  const meaning = { selection: selection.id, member: nominee.memberId, household: nominee.householdId, reason, evidenceLinks };
  return writeOnce(bank, principal, key, 'nominate', meaning, async (trx) => {
    const locked = await lockSelection(trx, selection);
    if (locked.status !== 'OPEN') throw selectionError('selection.notOpen', { selection: selection.id, state: stateOf(locked.status) });
    const twice = await trx('selection_candidates').where({ head_id: selection.headId, selection_id: selection.id })
      .andWhere(nominee.memberId ? { member_id: nominee.memberId } : { household_id: nominee.householdId }).first('id');
    if (twice) throw selectionError('selection.candidateTwice', { candidate: nominee.label, selection: selection.id });
    const n = await countRows(trx('selection_candidates').where({ head_id: selection.headId, selection_id: selection.id, status: 'NOMINATED' }));
    // The quota: at most `quota` nominated candidates, counted under the selection's lock.
    if (n >= locked.quota) throw selectionError('selection.quotaFull', { selection: selection.id, quota: locked.quota, nominated: n });
    const [row] = await trx('selection_candidates').insert({
      head_id: selection.headId, selection_id: selection.id, kind: nominee.kind, member_id: nominee.memberId, household_id: nominee.householdId,
      reason, evidence_links: evidenceLinks, status: 'NOMINATED', nominated_by: principal.sub, nominated_at: now,
    }).returning('id');
    await record(trx, selection, 'NOMINATED', principal.sub, now,
      { candidateId: String(row.id), kind: nominee.kind, memberId: nominee.memberId, householdId: nominee.householdId, reason, evidenceLinks });
    return { id: selection.id };
  });
}

export interface SelectionActInput { idempotencyKey: string; selection: string; reason?: string | null; days?: number | null }

export async function publishSelection(bank: Bank, principal: Principal, input: SelectionActInput): Promise<{ selection: Selection; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const { selection, branch } = await selectionToManage(bank, principal, input.selection);
  const now = bank.clock();
  return writeOnce(bank, principal, key, 'publishSelection', { selection: selection.id }, async (trx) => {
    const locked = await lockSelection(trx, selection);
    if (locked.status !== 'OPEN') throw selectionError('selection.notOpen', { selection: selection.id, state: stateOf(locked.status) });
    const n = await countRows(trx('selection_candidates').where({ head_id: selection.headId, selection_id: selection.id, status: 'NOMINATED' }));
    if (n === 0) throw selectionError('selection.noCandidates', { selection: selection.id });
    const periodEndsAt = noticePeriodEnd(now, locked.noticeDays, branch.timeZone);
    await trx('selections').where({ head_id: selection.headId, id: selection.id }).update({ status: 'PUBLISHED', published_at: now, period_ends_at: periodEndsAt });
    await record(trx, selection, 'PUBLISHED', principal.sub, now, { periodEndsAt: periodEndsAt.toISOString(), timeZone: branch.timeZone, candidates: n });
    return { id: selection.id };
  });
}

export async function withdrawSelection(bank: Bank, principal: Principal, input: SelectionActInput): Promise<{ selection: Selection; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const reason = checkReason(input.reason, true)!;
  const { selection } = await selectionToManage(bank, principal, input.selection);
  const now = bank.clock();
  return writeOnce(bank, principal, key, 'withdrawSelection', { selection: selection.id, reason }, async (trx) => {
    const locked = await lockSelection(trx, selection);
    // Before awarding only: once AWARDING, winners are being paid (the round moved it under this lock).
    if (locked.status !== 'OPEN' && locked.status !== 'PUBLISHED') {
      throw selectionError('selection.notWithdrawable', { selection: selection.id, state: stateOf(locked.status) });
    }
    await trx('selections').where({ head_id: selection.headId, id: selection.id }).update({ status: 'WITHDRAWN', withdrawn_at: now });
    await record(trx, selection, 'WITHDRAWN', principal.sub, now, { reason });
    return { id: selection.id };
  });
}

export async function extendSelection(bank: Bank, principal: Principal, input: SelectionActInput): Promise<{ selection: Selection; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const reason = checkReason(input.reason, true)!;
  const days = checkWholeNumber('days', input.days, 1, noticeDaysMax);
  if (days === null) throw badInput('days', 'is required');
  const { selection, branch } = await selectionToManage(bank, principal, input.selection);
  const now = bank.clock();
  return writeOnce(bank, principal, key, 'extendSelection', { selection: selection.id, days, reason }, async (trx) => {
    const locked = await lockSelection(trx, selection);
    if (locked.status !== 'PUBLISHED') throw selectionError('selection.notPublished', { selection: selection.id, state: stateOf(locked.status) });
    if (locked.extendedDays + days > extendedDaysMax) throw selectionError('selection.extendedTooFar', { field: 'days', max: extendedDaysMax }, 'days');
    const periodEndsAt = noticePeriodEnd(locked.periodEndsAt!, days, branch.timeZone);
    await trx('selections').where({ head_id: selection.headId, id: selection.id })
      .update({ period_ends_at: periodEndsAt, extended_days: locked.extendedDays + days });
    await record(trx, selection, 'EXTENDED', principal.sub, now, { days, reason, from: locked.periodEndsAt!.toISOString(), to: periodEndsAt.toISOString() });
    return { id: selection.id };
  });
}

export interface FileObjectionInput { idempotencyKey: string; selection: string; candidate: string; reason: string }

/** A member of the selection's branch objects to a nominated candidate, during the notice period only. */
export async function fileObjection(bank: Bank, principal: Principal, input: FileObjectionInput): Promise<{ selection: Selection; objection: Objection; replayed: boolean }> {
  requireRole(principal, 'member');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const reason = checkReason(input.reason, true)!;
  const candidateId = checkId(input.candidate, 'candidate');
  const selection = await requireSelection(bank, principal, input.selection);
  const branch = await bank.branches.requireById(selection.branchId);
  const member = await findMember(bank, principal.headId, { id: principal.memberId });
  if (!isWithin(await bank.branches.requireById(member.branchId), branch)) {
    // A member of another branch learns nothing of an OPEN (unpublished) selection: it reads as unknown.
    if (selection.status === 'OPEN') throw selectionError('selection.notFound', { selection: selection.id }, 'selection');
    throw selectionError('selection.objectorOutside', { selection: selection.id, branch: branch.name });
  }
  const now = bank.clock();
  const written = await writeOnce(bank, principal, key, 'fileObjection', { selection: selection.id, candidate: candidateId, reason }, async (trx) => {
    const locked = await lockSelection(trx, selection);
    if (locked.status === 'OPEN') throw selectionError('selection.notFound', { selection: selection.id }, 'selection');
    if (locked.status !== 'PUBLISHED') throw selectionError('selection.notPublished', { selection: selection.id, state: stateOf(locked.status) });
    if (now >= locked.periodEndsAt!) throw selectionError('selection.periodOver', { selection: selection.id, at: locked.periodEndsAt! });
    const candidate = await trx('selection_candidates').where({ head_id: selection.headId, selection_id: selection.id, id: candidateId }).first();
    if (!candidate) throw selectionError('selection.candidateNotFound', { candidate: candidateId, selection: selection.id }, 'candidate');
    if (candidate.status !== 'NOMINATED') {
      throw selectionError('selection.candidateNotNominated', { candidate: candidateId, selection: selection.id, state: stateOf(candidate.status) });
    }
    const n = await countRows(trx('selection_objections').where({ head_id: selection.headId, selection_id: selection.id, member_id: member.id }));
    if (n >= objectionsPerMemberMax) throw selectionError('selection.objectionsPerMember', { selection: selection.id, max: objectionsPerMemberMax });
    const [row] = await trx('selection_objections').insert({
      head_id: selection.headId, selection_id: selection.id, candidate_id: candidateId, member_id: member.id, filed_by: principal.sub,
      filed_at: now, reason, status: 'OPEN',
    }).returning('id');
    await record(trx, selection, 'OBJECTED', principal.sub, now, { objectionId: String(row.id), candidateId, reason });
    return { id: selection.id, objection: String(row.id) };
  });
  const objection = toObjection(await bank.knex('selection_objections').where({ head_id: principal.headId, id: written.result.objection }).first());
  return { selection: written.selection, replayed: written.replayed, objection };
}

export interface ResolveObjectionInput { idempotencyKey: string; objection: string; decision: 'UPHELD' | 'DISMISSED'; reason: string }

/** An admin upholds an objection (its candidate is struck) or dismisses it (the candidate stays), with a reason. */
export async function resolveObjection(bank: Bank, principal: Principal, input: ResolveObjectionInput): Promise<{ selection: Selection; objection: Objection; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  if (input.decision !== 'UPHELD' && input.decision !== 'DISMISSED') throw badInput('decision', 'must be one of UPHELD, DISMISSED');
  const reason = checkReason(input.reason, true)!;
  const objectionId = checkId(input.objection, 'objection');
  const found = await bank.knex('selection_objections').where({ head_id: principal.headId, id: objectionId }).first();
  if (!found) throw selectionError('selection.objectionNotFound', { objection: objectionId }, 'objection');
  const { selection } = await selectionToManage(bank, principal, String(found.selection_id)).catch((error) => {
    // out of scope reads like unknown: no selection of another branch is confirmed
    if (error instanceof BankError && error.code === 'FORBIDDEN' && principal.role === 'admin') throw selectionError('selection.objectionNotFound', { objection: objectionId }, 'objection');
    throw error;
  });
  const now = bank.clock();
  const written = await writeOnce(bank, principal, key, 'resolveObjection', { objection: objectionId, decision: input.decision, reason }, async (trx) => {
    const locked = await lockSelection(trx, selection);
    const row = await trx('selection_objections').where({ head_id: selection.headId, id: objectionId }).forUpdate().first();
    if (row.status !== 'OPEN') throw selectionError('selection.objectionResolved', { objection: objectionId, decision: row.status.toLowerCase(), by: row.resolved_by });
    if (locked.status !== 'PUBLISHED') throw selectionError('selection.notPublished', { selection: selection.id, state: stateOf(locked.status) });
    await trx('selection_objections').where({ head_id: selection.headId, id: objectionId })
      .update({ status: input.decision, resolved_by: principal.sub, resolved_at: now, resolution_reason: reason });
    if (input.decision === 'UPHELD') {
      await trx('selection_candidates').where({ head_id: selection.headId, id: row.candidate_id, status: 'NOMINATED' }).update({ status: 'STRUCK' });
    }
    await record(trx, selection, input.decision, principal.sub, now, { objectionId, candidateId: String(row.candidate_id), reason });
    return { id: selection.id };
  });
  const objection = toObjection(await bank.knex('selection_objections').where({ head_id: principal.headId, id: objectionId }).first());
  return { selection: written.selection, replayed: written.replayed, objection };
}

// Reads ---------------------------------------------------------------------------------------

/** Whether the caller may see the selection: admins whose scope covers its branch; members of its branch once it is published. */
export async function selectionVisible(bank: Bank, principal: Principal, selection: Selection): Promise<boolean> {
  const branch = await bank.branches.requireById(selection.branchId);
  if (principal.role === 'admin') return branch.headId === principal.headId && isWithin(branch, principal.branch);
  if (principal.role !== 'member' || selection.status === 'OPEN') return false;
  const member = await findMember(bank, principal.headId, { id: principal.memberId });
  return isWithin(await bank.branches.requireById(member.branchId), branch);
}

export async function readSelection(bank: Bank, principal: Principal, id: string): Promise<Selection | null> {
  requireRole(principal, 'admin', 'member');
  const selection = await loadSelection(bank, principal.headId, checkId(id, 'id'));
  return selection && (await selectionVisible(bank, principal, selection)) ? selection : null;
}

/** Selections newest first: an admin's of a branch subtree in its scope; a member's of its branch and above, once published. */
export async function listSelections(
  bank: Bank, principal: Principal, args: { branch?: string | null; status?: SelectionStatus | null; first?: number | null; after?: string | null },
): Promise<{ items: Selection[]; hasNextPage: boolean }> {
  requireRole(principal, 'admin', 'member');
  if (args.status != null && !selectionStatuses.includes(args.status)) throw badInput('status', `must be one of ${selectionStatuses.join(', ')}`);
  const size = checkPageSize(args.first);
  const beforeId = decodePageCursor('s', args.after);
  const q = bank.knex('selections').where('head_id', principal.headId);
  if (principal.role === 'admin') {
    const branch = args.branch ? await bank.branches.require(args.branch) : principal.branch;
    requireScope(principal, branch, 'branch');
    q.whereIn('branch_id', (await bank.branches.subtree(branch)).map((b) => b.id));
  } else {
    const member: Member = await findMember(bank, principal.headId, { id: principal.memberId });
    const path = (await bank.branches.requireById(member.branchId)).path;
    q.whereIn('branch_id', path.split('/').filter(Boolean)).whereNot('status', 'OPEN');
  }
  if (args.status) q.andWhere('status', args.status);
  if (beforeId) q.andWhere('id', '<', beforeId);
  const rows = await q.orderBy('id', 'desc').limit(size + 1);
  return { items: rows.slice(0, size).map(toSelection), hasNextPage: rows.length > size };
}

/** The candidates of a selection, in nomination order, with the member's or household's name (masked where it is shown in public). */
export async function listCandidates(bank: Bank, selection: Selection): Promise<Candidate[]> {
  const rows = await bank.knex('selection_candidates as c')
    .leftJoin('members as m', function join() { this.on('m.head_id', '=', 'c.head_id').andOn('m.id', '=', 'c.member_id'); })
    .leftJoin('households as hh', function join() { this.on('hh.head_id', '=', 'c.head_id').andOn('hh.id', '=', 'c.household_id'); })
    .where({ 'c.head_id': selection.headId, 'c.selection_id': selection.id }).orderBy('c.id').select('c.*', bank.knex.raw('coalesce(m.name, hh.name) AS name'));
  return rows.map(toCandidate);
}

/** Objections of a selection: all of them for an admin, a member's own for a member. */
export async function listObjections(bank: Bank, principal: Principal, selection: Selection): Promise<Objection[]> {
  const q = bank.knex('selection_objections').where({ head_id: selection.headId, selection_id: selection.id });
  if (principal.role !== 'admin') q.andWhere('member_id', principal.memberId ?? '0');
  return (await q.orderBy('id')).map(toObjection);
}

/** The selection's history, oldest first (admins only: it names who acted). */
export async function listHistory(bank: Bank, principal: Principal, selection: Selection): Promise<HistoryEntry[] | null> {
  if (principal.role !== 'admin') return null;
  const rows = await bank.knex('selection_history').where({ head_id: selection.headId, selection_id: selection.id }).orderBy('id');
  return rows.map((r) => ({ id: String(r.id), act: r.act, actor: r.actor, at: r.at, details: r.details }));
}

// The notice board (公示栏) --------------------------------------------------------------------

/** Shortlists on one notice board: the newest published ones. */
export const noticeBoardSelectionsMax = 10;
/** Names shown per shortlist: a quota is usually a handful; past this the board says how many more. */
export const noticeBoardCandidatesMax = 50;

export interface PublicShortlist {
  id: string; title: string; branchId: string; publishedAt: Date; periodEndsAt: Date; candidates: number; openObjections: number;
  /** Raw names, in nomination order: the board masks them (maskName). */
  names: string[];
}

/** The shortlists in their notice period of the given branches, newest first: for the public board, which masks the names. */
export async function publicShortlists(bank: Bank, headId: string, branchIds: string[]): Promise<PublicShortlist[]> {
  const selections = await bank.knex('selections').where({ head_id: headId, status: 'PUBLISHED' }).whereIn('branch_id', branchIds)
    .orderBy([{ column: 'published_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(noticeBoardSelectionsMax);
  if (selections.length === 0) return [];
  const ids = selections.map((s: any) => String(s.id));
  const { rows } = await bank.knex.raw(`
    SELECT c.selection_id, coalesce(m.name, hh.name, '') AS name, count(*) OVER (PARTITION BY c.selection_id) AS candidates,
           row_number() OVER (PARTITION BY c.selection_id ORDER BY c.id) AS place,
           (SELECT count(*) FROM selection_objections o WHERE o.head_id = c.head_id AND o.selection_id = c.selection_id AND o.status = 'OPEN') AS open_objections
      FROM selection_candidates c LEFT JOIN members m ON m.head_id = c.head_id AND m.id = c.member_id
      LEFT JOIN households hh ON hh.head_id = c.head_id AND hh.id = c.household_id
     WHERE c.head_id = ? AND c.selection_id = ANY (?::bigint[]) AND c.status = 'NOMINATED'
     ORDER BY c.selection_id, c.id`, [headId, ids]);
  return selections.map((s: any) => {
    const own = rows.filter((r: any) => String(r.selection_id) === String(s.id));
    return {
      id: String(s.id), title: s.title, branchId: String(s.branch_id), publishedAt: s.published_at, periodEndsAt: s.period_ends_at,
      candidates: Number(own[0]?.candidates ?? 0), openObjections: Number(own[0]?.open_objections ?? 0),
      names: own.filter((r: any) => Number(r.place) <= noticeBoardCandidatesMax).map((r: any) => r.name),
    };
  });
}
