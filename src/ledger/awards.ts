// awardPoints and awardPointsBatch: a client or admin applies an earning rule to a member. Input is
// checked here; the award itself (idempotency, scope, rule, caps, postings) is one SQL call, which a
// single award may share with others waiting at the same moment (awardCoalescer.ts).
// Invariants 4 and 5 are held in SQL (cb_award_batch); this file keeps bad input out.
import type { Bank } from '../bank.js';
import { mayApplyRule, requireRole, ruleNotForToken, type Principal } from '../auth/principal.js';
import { checkExternalId, checkId } from '../directory/members.js';
import { BankError, badInput, type ErrorCode } from '../errors.js';
import { jsonDeeperThan, jsonDepthMax } from '../inputChecks.js';
import { withRetry } from '../db/errors.js';
import { checkRuleCode, quantityScale } from '../rules/rules.js';
import { parseAmount } from './amounts.js';
import { canonical, checkIdempotencyKey, hashCanonical } from './idempotency.js';
import { coalescedAward } from './awardCoalescer.js';
import { callAwardBatch, type AwardItem, type AwardScope } from './sql/award.js';
import { writeResultFromJson, writeResultWithTransaction, type WriteResult } from './transactions.js';

/** One award covers at most this many units (drops, shifts, hours). */
export const quantityMax = '1000';
/** awardPointsBatch takes up to this many awards: SPEC's limit, and one statement's worth. */
export const batchSizeMax = 1000;
export const memoLengthMax = 500;
/** Metadata is a small JSON object (station id, photo link); its serialized size is bounded. */
export const metadataBytesMax = 4096;
/** Awards dated later than this into the future are refused (clock skew of kiosks allowed). */
export const futureSkewMs = 5 * 60_000;
/** Awards dated before this are refused: no civility bank ran earlier. */
const earliestOccurredAt = new Date('2000-01-01T00:00:00Z');

export interface AwardInput {
  idempotencyKey: string;
  memberId?: string | null;
  externalId?: string | null;
  /** A household by externalId, instead of a member: only for a rule whose beneficiary is HOUSEHOLD. */
  householdExternalId?: string | null;
  rule: string;
  quantity?: string | null;
  occurredAt?: Date | null;
  memo?: string | null;
  metadata?: unknown;
}

export function checkMemo(memo: unknown, field = 'memo'): string | null {
  if (memo == null) return null;
  if (typeof memo !== 'string' || memo.length > memoLengthMax || /[\u0000]/.test(memo)) throw badInput(field, `must be text of at most ${memoLengthMax} characters`);
  return memo;
}

export function checkMetadata(metadata: unknown, field = 'metadata'): object | null {
  if (metadata == null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw badInput(field, 'must be a JSON object');
  // before anything recursive reads it (JSON.stringify below overflowed the stack at a few thousand levels)
  if (jsonDeeperThan(metadata, jsonDepthMax)) throw badInput(field, `is nested deeper than ${jsonDepthMax} levels`);
  const text = JSON.stringify(metadata);
  if (Buffer.byteLength(text) > metadataBytesMax || text.includes('\\u0000')) throw badInput(field, `must serialize to at most ${metadataBytesMax} bytes of JSON without NUL characters`);
  return metadata;
}

export function checkOccurredAt(bank: Bank, value: Date | null | undefined, field = 'occurredAt', now?: Date): Date | null {
  if (value == null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badInput(field, 'must be an ISO 8601 date-time');
  if (value.getTime() > (now ?? bank.clock()).getTime() + futureSkewMs) throw badInput(field, `${value.toISOString()} is in the future`);
  if (value < earliestOccurredAt) throw badInput(field, `${value.toISOString()} is before ${earliestOccurredAt.toISOString()}`);
  return value;
}

interface PreparedAward { item: AwardItem }

/**
 * What the awards of one request share, worked out once: the instant they are checked against (and
 * dated at, when they give no occurredAt), and each distinct quantity text already parsed and checked
 * (a batch's awards mostly repeat one or two). A quantity that fails is not remembered: it fails again,
 * naming its own item. Bounded by the batch (batchSizeMax entries).
 */
interface AwardRequest { now: Date; quantities: Map<string, string> }

/** The checked quantity of an award, as its text for SQL: at most 2 places, positive, at most quantityMax. */
function checkQuantity(request: AwardRequest, raw: unknown, field: string): string {
  const text = raw ?? '1';
  const known = typeof text === 'string' ? request.quantities.get(text) : undefined;
  if (known !== undefined) return known;
  const quantity = parseAmount(field, text, { scale: quantityScale, sign: 'positive' });
  if (quantity.gt(quantityMax)) throw badInput(field, `at most ${quantityMax} per award`);
  const checked = quantity.toString();
  request.quantities.set(text as string, checked);
  return checked;
}

/**
 * The hash an award's key is bound to: requestHash('awardPoints', meaning) with the canonical JSON
 * written out in its fixed key order (sorted: externalId, memberId, memo, metadata, occurredAt,
 * quantity, rule), the same text and so the same hash (test/ledger/awardHash.test.ts), without
 * sorting seven keys per award.
 */
export function awardRequestHash(meaning: {
  memberId: string | null; externalId: string | null; householdExternalId?: string; rule: string; quantity: string;
  occurredAt: string | null; memo: string | null; metadata: object | null;
}): string {
  // householdExternalId is in the meaning only when given, so every member award hashes as it always did.
  const household = meaning.householdExternalId === undefined ? '' : `"householdExternalId":${JSON.stringify(meaning.householdExternalId)},`;
  const text = `{"externalId":${JSON.stringify(meaning.externalId)},${household}"memberId":${JSON.stringify(meaning.memberId)},`
    + `"memo":${JSON.stringify(meaning.memo)},"metadata":${canonical(meaning.metadata)},"occurredAt":${JSON.stringify(meaning.occurredAt)},`
    + `"quantity":${JSON.stringify(meaning.quantity)},"rule":${JSON.stringify(meaning.rule)}}`;
  return hashCanonical('awardPoints', text);
}

/** Validates one award and builds the item cb_award_one and cb_award_batch take; throws BAD_USER_INPUT / FORBIDDEN. */
function prepareAward(bank: Bank, principal: Principal, input: AwardInput, prefix: string, request: AwardRequest): PreparedAward {
  const key = checkIdempotencyKey(input.idempotencyKey, `${prefix}idempotencyKey`);
  const hasId = input.memberId != null;
  const named = Number(hasId) + Number(input.externalId != null) + Number(input.householdExternalId != null);
  if (named !== 1) throw badInput(`${prefix}memberId`, 'give exactly one of memberId, externalId or householdExternalId');
  const memberId = hasId ? checkId(input.memberId, `${prefix}memberId`) : null;
  const householdExternalId = input.householdExternalId == null ? undefined : checkExternalId(input.householdExternalId, `${prefix}householdExternalId`);
  const externalId = hasId || householdExternalId !== undefined ? null : checkExternalId(input.externalId, `${prefix}externalId`);
  const rule = checkRuleCode(input.rule, `${prefix}rule`);
  // A rule outside the token's list reads exactly like a rule that does not exist (NOT_FOUND, as
  // for a '*' token naming an unknown code): the caller learns nothing about rules it may not apply.
  if (!mayApplyRule(principal, rule)) throw ruleNotForToken(`${prefix}rule`, rule);
  const quantity = checkQuantity(request, input.quantity, `${prefix}quantity`);
  const occurredAt = checkOccurredAt(bank, input.occurredAt, `${prefix}occurredAt`, request.now);
  const memo = checkMemo(input.memo, `${prefix}memo`);
  const metadata = checkMetadata(input.metadata, `${prefix}metadata`);
  // The hash covers the request as sent: an omitted occurredAt stays omitted, so a retry matches.
  const occurredAtText = occurredAt?.toISOString() ?? null;
  const item: AwardItem = {
    key, hash: awardRequestHash({ memberId, externalId, householdExternalId, rule, quantity, occurredAt: occurredAtText, memo, metadata }),
    rule, quantity, occurredAt: occurredAtText ?? request.now.toISOString(), memo, metadata,
  };
  if (memberId) item.memberId = memberId;
  else if (householdExternalId !== undefined) item.householdExternalId = householdExternalId;
  else item.externalId = externalId;
  return { item };
}

export function awardScope(principal: Principal): AwardScope {
  return { headId: principal.headId, sub: principal.sub, role: principal.role, scopePath: principal.branch.path, timeZone: principal.branch.timeZone };
}

/**
 * The award SQL names the member's externalId when it refuses one outside the caller's scope; the
 * caller may have named it by id only, so the refusal leaves it out (no identifier crosses a scope).
 */
export function withoutScopeIdentifiers<E extends { code: string; message: string; field?: string | null }>(error: E, principal: Principal): E {
  if (error.code !== 'FORBIDDEN' || !/outside your scope/.test(error.message)) return error;
  const party = error.message.startsWith('household') ? 'household' : 'member';
  return { ...error, message: `the ${party} is outside your scope (${principal.branch.code})` };
}

export async function awardPoints(bank: Bank, principal: Principal, input: AwardInput): Promise<WriteResult> {
  requireRole(principal, 'client', 'admin');
  const { item } = prepareAward(bank, principal, input, '', { now: bank.clock(), quantities: new Map() });
  try {
    const json = await coalescedAward(bank, awardScope(principal), item);
    return writeResultWithTransaction(bank, principal.headId, json);
  } catch (error) {
    if (error instanceof BankError && error.code === 'FORBIDDEN') {
      const scrubbed = withoutScopeIdentifiers(error, principal);
      if (scrubbed !== error) throw new BankError('FORBIDDEN', scrubbed.message, error.field);
    }
    throw error;
  }
}

export interface BatchItemResult {
  index: number;
  idempotencyKey: string;
  result: WriteResult | null;
  error: { code: ErrorCode; message: string; field: string | null } | null;
}

/**
 * The batch statement, or with dryRun the same statement in a transaction that is rolled back: every
 * check the write makes (member, scope, rule, caps, keys already used), and nothing kept.
 */
async function runAwardBatch(bank: Bank, scope: AwardScope, items: AwardItem[], dryRun: boolean): Promise<any[]> {
  if (!dryRun) return callAwardBatch(bank.pool, scope, items);
  const client = await bank.pool.connect();
  try {
    await client.query('BEGIN');
    return await callAwardBatch(client, scope, items);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/**
 * Up to batchSizeMax awards in one round trip. Each item has its own key and its own result; a
 * failing item writes nothing. SQL takes its locks in a fixed order, whatever the input order.
 * With dryRun (npm run import --dry-run) the results are what the write would answer, and nothing is written.
 */
export async function awardPointsBatch(bank: Bank, principal: Principal, awards: AwardInput[], options: { dryRun?: boolean } = {}): Promise<BatchItemResult[]> {
  requireRole(principal, 'client', 'admin');
  if (!Array.isArray(awards) || awards.length === 0 || awards.length > batchSizeMax) {
    throw badInput('awards', `give 1 to ${batchSizeMax} awards, got ${Array.isArray(awards) ? awards.length : 'none'}`);
  }
  const results: BatchItemResult[] = awards.map((a, index) => ({ index, idempotencyKey: String(a.idempotencyKey), result: null, error: null }));
  const prepared: { index: number; award: PreparedAward }[] = [];
  const request: AwardRequest = { now: bank.clock(), quantities: new Map() };
  awards.forEach((input, index) => {
    try {
      prepared.push({ index, award: prepareAward(bank, principal, input, `awards[${index}].`, request) });
    } catch (error) {
      if (!(error instanceof BankError)) throw error;
      results[index]!.error = { code: error.code, message: error.message, field: error.field ?? null };
    }
  });
  if (prepared.length > 0) {
    const out = await withRetry(() => runAwardBatch(bank, awardScope(principal), prepared.map((p) => p.award.item), options.dryRun === true));
    if (!Array.isArray(out) || out.length !== prepared.length) throw new Error('invariant broken: batch answered a different number of items');
    out.forEach((json, i) => {
      const target = results[prepared[i]!.index]!;
      if (json.error) target.error = withoutScopeIdentifiers({ code: json.error.code, message: json.error.message, field: json.error.field ? `awards[${target.index}].${json.error.field}` : null }, principal);
      else target.result = writeResultFromJson(json);
    });
  }
  return results;
}
