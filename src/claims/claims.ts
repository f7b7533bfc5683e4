// Claims (申报): an activity under a rule that needs approval, reported by the member (or a client
// on its behalf) and approved or rejected by an admin of the member's branch or above. Approval
// posts through the awards path (cb_award_batch: caps counted at approval time); a claim is decided
// once, whatever the concurrency, because every decision locks the claim row and acts only on a
// PENDING claim (cb_approve_claim, and rejectClaim below).
import type { Bank } from '../bank.js';
import { mayApplyRule, requireRole, requireScope, ruleNotForToken, type Principal } from '../auth/principal.js';
import { checkId, findMember, requireMemberVisible, type Member } from '../directory/members.js';
import { withRetry } from '../db/errors.js';
import { BankError, badInput, type ErrorCode } from '../errors.js';
import { parseAmount } from '../ledger/amounts.js';
import { awardScope, withoutScopeIdentifiers, checkOccurredAt, quantityMax, type AwardInput } from '../ledger/awards.js';
import { checkReason } from '../ledger/entries.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkPageSize } from '../ledger/transactions.js';
import { checkRuleCode, quantityScale } from '../rules/rules.js';
import { findClosure, yearIn } from '../reports/scoreYears.js';
import { callApproveClaim } from './sql/approveClaim.js';

export type ClaimStatus = 'PENDING' | 'APPROVED' | 'REJECTED';
export const claimStatuses: readonly ClaimStatus[] = ['PENDING', 'APPROVED', 'REJECTED'];

/** Evidence is a short description and a few links (photos, sign-in sheets), not the files themselves. */
export const evidenceTextLengthMax = 2000;
export const evidenceLinksMax = 10;
export const evidenceLinkLengthMax = 500;

export interface Claim {
  id: string;
  headId: string;
  branchId: string;
  memberId: string;
  rule: string;
  quantity: string;
  occurredAt: Date;
  evidenceText: string | null;
  evidenceLinks: string[];
  status: ClaimStatus;
  submittedBy: string;
  submittedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
  transactionId: string | null;
}

export function toClaim(r: Record<string, any>): Claim {
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), memberId: String(r.member_id), rule: r.rule_code,
    quantity: String(r.quantity), occurredAt: r.occurred_at, evidenceText: r.evidence_text, evidenceLinks: r.evidence_links,
    status: r.status, submittedBy: r.submitted_by, submittedAt: r.submitted_at, decidedBy: r.decided_by, decidedAt: r.decided_at,
    reason: r.reason, transactionId: r.transaction_id == null ? null : String(r.transaction_id),
  };
}

/** What an award takes, with evidence for the approver instead of a memo and metadata. */
export interface SubmitClaimInput extends Omit<AwardInput, 'memo' | 'metadata'> {
  evidence?: { text?: string | null; links?: string[] | null } | null;
}

function checkEvidence(evidence: SubmitClaimInput['evidence']): { text: string | null; links: string[] } {
  const text = evidence?.text ?? null;
  if (text !== null && (typeof text !== 'string' || text.length > evidenceTextLengthMax || text.includes('\u0000'))) {
    throw badInput('evidence.text', `must be at most ${evidenceTextLengthMax} characters`);
  }
  return { text, links: checkEvidenceLinks(evidence?.links, 'evidence.links') };
}

/** Up to evidenceLinksMax http(s) links (claims' evidence, selections' nominations). */
export function checkEvidenceLinks(value: unknown, field: string): string[] {
  const links = value ?? [];
  if (!Array.isArray(links) || links.length > evidenceLinksMax) throw badInput(field, `at most ${evidenceLinksMax} links`);
  links.forEach((link, i) => {
    if (typeof link !== 'string' || link.length > evidenceLinkLengthMax || !/^https?:\/\/\S+$/.test(link)) {
      throw badInput(`${field}[${i}]`, `must be an http(s) URL of at most ${evidenceLinkLengthMax} characters`);
    }
  });
  return links as string[];
}

/** The rule version in force for a member: the deepest definition on its branch path, latest version. */
async function ruleInForce(bank: Bank, member: Member, code: string): Promise<{ requires_approval: boolean; outputs: { asset: string }[] } | null> {
  const branch = await bank.branches.requireById(member.branchId);
  return bank.knex('rules as r').join('branches as b', 'b.id', 'r.branch_id')
    .where({ 'r.head_id': member.headId, 'r.code': code }).whereIn('r.branch_id', branch.path.split('/').filter(Boolean))
    .orderBy([{ column: 'b.depth', order: 'desc' }, { column: 'r.version', order: 'desc' }]).first('r.requires_approval', 'r.outputs');
}

export async function submitClaim(bank: Bank, principal: Principal, input: SubmitClaimInput): Promise<{ claim: Claim; replayed: boolean }> {
  requireRole(principal, 'member', 'client', 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const rule = checkRuleCode(input.rule, 'rule');
  let member: Member;
  if (principal.role === 'member') {
    member = await findMember(bank, principal.headId, { id: principal.memberId });
    if ((input.memberId != null && input.memberId !== member.id) || (input.externalId != null && input.externalId !== member.externalId)) {
      throw new BankError('FORBIDDEN', 'a member submits claims only for itself');
    }
  } else {
    member = await findMember(bank, principal.headId, { id: input.memberId, externalId: input.externalId });
    requireScope(principal, await bank.branches.requireById(member.branchId), 'member');
    if (!mayApplyRule(principal, rule)) throw ruleNotForToken('rule', rule);
  }
  const quantity = parseAmount('quantity', input.quantity ?? '1', { scale: quantityScale, sign: 'positive' });
  if (quantity.gt(quantityMax)) throw badInput('quantity', `at most ${quantityMax} per claim`);
  const occurredAt = checkOccurredAt(bank, input.occurredAt) ?? bank.clock();
  const evidence = checkEvidence(input.evidence);
  const version = await ruleInForce(bank, member, rule);
  if (!version) throw new BankError('NOT_FOUND', `rule: no rule "${rule}" applies to member ${member.externalId}`, 'rule');
  if (!version.requires_approval) throw badInput('rule', `rule "${rule}" needs no approval: award it with awardPoints`);
  const branch = await bank.branches.requireById(member.branchId);
  if (version.outputs.some((o) => o.asset === 'PARTY_SCORE')) {
    const year = yearIn(branch.timeZone, occurredAt);
    if (await findClosure(bank.knex, branch, year)) {
      throw new BankError('INVALID_STATE', `the ${year} party-score year is closed for member ${member.externalId}'s branch: no claims dated in it`);
    }
  }
  const meaning = { member: member.id, rule, quantity: quantity.toString(), occurredAt: input.occurredAt?.toISOString() ?? null, evidence };
  const hash = requestHash('submitClaim', meaning);
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'submitClaim', hash, async () => {
      const [row] = await trx('claims').insert({
        head_id: member.headId, branch_id: member.branchId, member_id: member.id, rule_code: rule, quantity: quantity.toString(),
        occurred_at: occurredAt, evidence_text: evidence.text, evidence_links: evidence.links, status: 'PENDING',
        submitted_by: principal.sub, submitted_role: principal.role,
      }).returning('id');
      return { id: String(row.id) };
    })));
  return { claim: (await loadClaim(bank, principal.headId, String(result.id)))!, replayed };
}

export async function loadClaim(bank: Bank, headId: string, id: string): Promise<Claim | null> {
  const row = await bank.knex('claims').where({ head_id: headId, id }).first();
  return row ? toClaim(row) : null;
}

/** The claim, for an admin whose scope covers the claim's member. */
async function claimToDecide(bank: Bank, principal: Principal, id: string): Promise<Claim> {
  requireRole(principal, 'admin');
  const claim = await loadClaim(bank, principal.headId, checkId(id, 'claim'));
  if (!claim) throw new BankError('NOT_FOUND', `claim: no claim ${id}`, 'claim');
  const member = await findMember(bank, principal.headId, { id: claim.memberId });
  requireScope(principal, await bank.branches.requireById(member.branchId), 'claim');
  return claim;
}

interface DecideInput { idempotencyKey: string; claim: string; reason?: string | null }

/** Approves a PENDING claim: the award posts (or is refused, e.g. CAP_EXCEEDED, and the claim stays PENDING). */
export async function approveClaim(bank: Bank, principal: Principal, input: DecideInput): Promise<{ claim: Claim; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const claim = await claimToDecide(bank, principal, input.claim);
  const hash = requestHash('approveClaim', { claim: claim.id });
  const json = await withRetry(() => callApproveClaim(bank.pool, awardScope(principal), claim.id, key, hash));
  if (json.error) {
    const error = withoutScopeIdentifiers(json.error as { code: ErrorCode; message: string; field?: string | null }, principal);
    throw new BankError(error.code, error.message, error.field ?? undefined);
  }
  const decided = (await loadClaim(bank, principal.headId, claim.id))!;
  if (decided.status !== 'APPROVED' || decided.transactionId !== json.transactionId) {
    throw new Error(`invariant broken: claim ${claim.id} approved as transaction ${json.transactionId} reads ${decided.status} ${decided.transactionId}`);
  }
  return { claim: decided, replayed: Boolean(json.replayed) };
}

/** Rejects a PENDING claim with a reason; nothing posts. */
export async function rejectClaim(bank: Bank, principal: Principal, input: DecideInput): Promise<{ claim: Claim; replayed: boolean }> {
  const key = checkIdempotencyKey(input.idempotencyKey);
  const reason = checkReason(input.reason, true)!;
  const claim = await claimToDecide(bank, principal, input.claim);
  const replayed = await withRetry(() => bank.knex.transaction(async (trx) => {
    const row = await trx('claims').where({ head_id: claim.headId, id: claim.id }).forUpdate().first();
    if (row.status !== 'PENDING') {
      if (row.status === 'REJECTED' && row.decided_by === principal.sub && row.decision_key === key && row.reason === reason) return true;
      throw new BankError('INVALID_STATE', `claim ${claim.id} was already ${row.status.toLowerCase()} by ${row.decided_by}`);
    }
    await trx('claims').where({ head_id: claim.headId, id: claim.id })
      .update({ status: 'REJECTED', reason, decided_by: principal.sub, decided_at: trx.fn.now(), decision_key: key });
    return false;
  }));
  return { claim: (await loadClaim(bank, principal.headId, claim.id))!, replayed };
}

export interface ClaimPage { items: Claim[]; hasNextPage: boolean }

export function encodeClaimCursor(id: string): string {
  return Buffer.from(`c:${id}`).toString('base64url');
}

function decodeClaimCursor(cursor: string | null | undefined): string | null {
  if (cursor == null) return null;
  const match = /^c:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badInput('after', 'is not a cursor from this API');
  return match[1]!;
}

/** Claims oldest first: an admin's for a branch subtree in its scope, a member's own. */
export async function listClaims(
  bank: Bank, principal: Principal, args: { branch?: string | null; status?: ClaimStatus | null; first?: number | null; after?: string | null },
): Promise<ClaimPage> {
  requireRole(principal, 'admin', 'member');
  const size = checkPageSize(args.first);
  const afterId = decodeClaimCursor(args.after);
  const q = claimsQuery(bank, principal, await claimsScope(bank, principal, args), args.status);
  if (afterId) q.andWhere('c.id', '>', afterId);
  const rows = await q.orderBy('c.id').limit(size + 1).select('c.*');
  return { items: rows.slice(0, size).map(toClaim), hasNextPage: rows.length > size };
}

/** How many claims the list's filter holds, every page together (the console's "claims waiting"; index claims_branch_status). */
export async function countClaims(bank: Bank, principal: Principal, args: { branch?: string | null; status?: ClaimStatus | null }): Promise<number> {
  const [row] = await claimsQuery(bank, principal, await claimsScope(bank, principal, args), args.status).count({ n: '*' });
  return Number(row!.n);
}

/** The branches whose claims an admin lists (a subtree in its scope); null for a member (its own). */
async function claimsScope(bank: Bank, principal: Principal, args: { branch?: string | null; status?: ClaimStatus | null }): Promise<string[] | null> {
  requireRole(principal, 'admin', 'member');
  if (args.status != null && !claimStatuses.includes(args.status)) throw badInput('status', `must be one of ${claimStatuses.join(', ')}`);
  if (principal.role === 'member') return null;
  const branch = args.branch ? await bank.branches.require(args.branch) : principal.branch;
  requireScope(principal, branch, 'branch');
  return (await bank.branches.subtree(branch)).map((b) => b.id);
}

/** The claims a caller may list, filtered: a member's own; an admin's of its branches (claimsScope). */
function claimsQuery(bank: Bank, principal: Principal, branchIds: string[] | null, status: ClaimStatus | null | undefined) {
  const q = bank.knex('claims as c').where('c.head_id', principal.headId);
  if (branchIds === null) q.andWhere('c.member_id', principal.memberId!);
  else q.whereIn('c.branch_id', branchIds);
  if (status) q.andWhere('c.status', status);
  return q;
}

/** Who may read a claim: its member, and admins whose scope covers the member. */
export async function requireClaimVisible(bank: Bank, principal: Principal, claim: Claim): Promise<void> {
  if (principal.role === 'admin') {
    await requireMemberVisible(bank, principal, await findMember(bank, principal.headId, { id: claim.memberId }));
    return;
  }
  if (principal.role === 'member' && principal.memberId === claim.memberId) return;
  throw new BankError('FORBIDDEN', `claim ${claim.id} is outside your scope`);
}
