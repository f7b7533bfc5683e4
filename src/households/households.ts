// Households (户, issue 16 §1): a household belongs to a branch and has wallets like a member's; a
// member is in at most one household at a time (household_members_current) and every move is kept
// as history (a row is closed, never deleted). upsertHousehold is idempotent by externalId and sets
// the whole current membership; reads follow the members' roles and scopes. Spending from the
// household wallet is judged in SQL (cb_household_spender, src/households/sql/) by the branch policy.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { checkExternalId, openWallets } from '../directory/members.js';
import { BankError, assertInvariant, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { checkName } from '../inputChecks.js';
import { decodePageCursor, pageOf } from '../pagination.js';

export interface Household {
  id: string;
  headId: string;
  branchId: string;
  externalId: string;
  name: string;
  headMemberId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One stay of a member in a household: current while leftAt is null. */
export interface HouseholdMembership {
  id: string;
  householdId: string;
  memberId: string;
  adult: boolean;
  joinedAt: Date;
  joinedBy: string;
  leftAt: Date | null;
  leftBy: string | null;
}

/** Which wallet a redemption or a donation spends from. */
export type Wallet = 'MEMBER' | 'HOUSEHOLD';
/** Who may spend from a household wallet, set per branch (nearest ancestor that sets it; none: ANY_ADULT). */
export type HouseholdSpending = 'ANY_ADULT' | 'HEAD_ONLY';
const spendingPolicies: readonly HouseholdSpending[] = ['ANY_ADULT', 'HEAD_ONLY'];
export const defaultHouseholdSpending: HouseholdSpending = 'ANY_ADULT';

/** A household lists at most this many members at once: families, not villages (and one statement's worth). */
export const householdMembersMax = 50;
export const householdNameLengthMax = 200;
/** households(first): a page holds at most this many. */
export const householdsPageMax = 200;

export function toHousehold(r: Record<string, any>): Household {
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), externalId: r.external_id, name: r.name,
    headMemberId: r.head_member_id == null ? null : String(r.head_member_id), createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

function toMembership(r: Record<string, any>): HouseholdMembership {
  return {
    id: String(r.id), householdId: String(r.household_id), memberId: String(r.member_id), adult: r.adult,
    joinedAt: r.joined_at, joinedBy: r.joined_by, leftAt: r.left_at, leftBy: r.left_by,
  };
}

/** The wallet a spend names: MEMBER (the default) or HOUSEHOLD. */
export function checkWallet(value: unknown, field = 'wallet'): Wallet {
  if (value == null) return 'MEMBER';
  if (value !== 'MEMBER' && value !== 'HOUSEHOLD') throw badInput(field, 'must be MEMBER or HOUSEHOLD');
  return value;
}

export async function findHousehold(bank: Bank, headId: string, externalId: unknown, field = 'externalId'): Promise<Household | null> {
  const row = await bank.knex('households').where({ head_id: headId, external_id: checkExternalId(externalId, field) }).first();
  return row ? toHousehold(row) : null;
}

/** Households by id, in one query (the dataloader's batch function). */
export async function loadHouseholds(bank: Bank, headId: string, ids: readonly string[]): Promise<(Household | null)[]> {
  const rows = await bank.knex('households').where({ head_id: headId }).whereIn('id', ids as string[]);
  const byId = new Map(rows.map((r) => [String(r.id), toHousehold(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** The household a member is in now, or null. */
export async function householdOfMember(bank: Bank, headId: string, memberId: string): Promise<Household | null> {
  const row = await bank.knex('households as h')
    .join('household_members as hm', function on() { this.on('hm.head_id', 'h.head_id').andOn('hm.household_id', 'h.id'); })
    .where({ 'hm.head_id': headId, 'hm.member_id': memberId }).whereNull('hm.left_at').first('h.*');
  return row ? toHousehold(row) : null;
}

/** Who may read a household: its current members, and admins and clients whose scope covers its branch. */
export async function requireHouseholdVisible(bank: Bank, principal: Principal, household: Household): Promise<void> {
  if (household.headId !== principal.headId) throw new BankError('FORBIDDEN', 'the household is outside your scope');
  if (principal.role === 'member') {
    const current = principal.memberId
      && await bank.knex('household_members').where({ head_id: household.headId, household_id: household.id, member_id: principal.memberId })
        .whereNull('left_at').first('id');
    if (!current) throw new BankError('FORBIDDEN', 'a member token reads only its own household');
    return;
  }
  if (principal.role === 'merchant') throw new BankError('FORBIDDEN', 'merchants cannot read households');
  requireScope(principal, await bank.branches.requireById(household.branchId), 'household');
}

/** The current members, in the order they joined. */
export async function currentMemberships(bank: Bank, household: Household): Promise<HouseholdMembership[]> {
  const rows = await bank.knex('household_members').where({ head_id: household.headId, household_id: household.id })
    .whereNull('left_at').orderBy([{ column: 'joined_at' }, { column: 'id' }]);
  return rows.map(toMembership);
}

/** Every stay, current and past, in the order they began. */
export async function membershipHistory(bank: Bank, household: Household): Promise<HouseholdMembership[]> {
  const rows = await bank.knex('household_members').where({ head_id: household.headId, household_id: household.id })
    .orderBy([{ column: 'joined_at' }, { column: 'id' }]);
  return rows.map(toMembership);
}

export interface HouseholdListArgs { branch?: string | null; first?: number | null; after?: string | null }

/** Households of a branch subtree (default: the caller's scope), by id (admins and clients). */
export async function listHouseholds(bank: Bank, principal: Principal, args: HouseholdListArgs) {
  requireRole(principal, 'admin', 'client');
  const branch = args.branch ? await bank.branches.require(args.branch, 'branch') : principal.branch;
  requireScope(principal, branch, 'branch');
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > householdsPageMax) throw badInput('first', `must be 1 to ${householdsPageMax}`);
  const after = decodePageCursor('h', args.after);
  const query = bank.knex('households as h').join('branches as b', 'b.id', 'h.branch_id')
    .where('h.head_id', principal.headId).whereRaw('starts_with(b.path, ?)', [branch.path])
    .orderBy('h.id').limit(first + 1).select('h.*');
  if (after) query.andWhere('h.id', '>', after);
  return pageOf('h', (await query).map(toHousehold), first);
}

export interface HouseholdMemberInput { externalId: string; adult: boolean }

export interface UpsertHouseholdInput {
  idempotencyKey: string;
  externalId: string;
  branch: string;
  name: string;
  /** The head (户主) by member externalId: one of members, an adult. */
  head?: string | null;
  /** The whole current membership: members not listed leave, listed members in another household move here. */
  members: HouseholdMemberInput[];
}

const householdOutOfScope = 'this externalId belongs to a household outside your scope; an admin whose scope covers both branches may move it';

/** upsertHousehold's checks of its input (role, fields, the branch in scope), before anything is read. */
async function prepareUpsertHousehold(bank: Bank, principal: Principal, input: UpsertHouseholdInput) {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const externalId = checkExternalId(input.externalId);
  const name = checkName('name', input.name, householdNameLengthMax)!;
  const branch = await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, 'branch');
  if (!Array.isArray(input.members) || input.members.length > householdMembersMax) {
    throw badInput('members', `give 0 to ${householdMembersMax} members`);
  }
  const members = input.members.map((m, i) => {
    if (typeof m?.adult !== 'boolean') throw badInput(`members[${i}].adult`, 'must be true or false');
    return { externalId: checkExternalId(m.externalId, `members[${i}].externalId`), adult: m.adult, index: i };
  });
  const seen = new Set<string>();
  members.forEach((m, i) => {
    if (seen.has(m.externalId)) throw badInput(`members[${i}].externalId`, `member "${m.externalId}" is listed twice`);
    seen.add(m.externalId);
  });
  const head = input.head == null ? null : checkExternalId(input.head, 'head');
  if (head !== null) {
    const listed = members.find((m) => m.externalId === head);
    if (!listed) throw badInput('head', `the head "${head}" must be one of the household's members`);
    if (!listed.adult) throw badInput('head', `the head "${head}" must be an adult member`);
  }
  // Sorted: the same household listed in another order is the same request (and hashes alike).
  members.sort((a, b) => (a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0));
  return { key, externalId, name, branch, members, head };
}

/**
 * Creates or updates a household by externalId and sets its current membership. A member moving from
 * another household closes its row there (history kept); a change of the adult flag closes the row and
 * opens another. Locks: the household row, then the listed members (in id order), then the membership rows.
 */
export async function upsertHousehold(bank: Bank, principal: Principal, input: UpsertHouseholdInput): Promise<{ household: Household; created: boolean; replayed: boolean }> {
  const { key, externalId, name, branch, members, head } = await prepareUpsertHousehold(bank, principal, input);
  const hash = requestHash('upsertHousehold', { externalId, branch: branch.code, name, head, members: members.map((m) => ({ externalId: m.externalId, adult: m.adult })) });
  return withRetry(() => bank.knex.transaction(async (trx) => {
    const { result, replayed } = await runIdempotent(trx, principal, key, 'upsertHousehold', hash, async () => {
      const { id, created } = await lockOrCreateHousehold(trx, bank, principal, branch, externalId, name);
      const memberIds = await lockListedMembers(trx, bank, principal, branch, members);
      await setMemberships(trx, bank, principal, id, members.map((m) => ({ memberId: memberIds.get(m.externalId)!, adult: m.adult })));
      await trx('households').where({ head_id: principal.headId, id }).update({
        branch_id: branch.id, name, head_member_id: head === null ? null : memberIds.get(head)!, updated_at: trx.fn.now(),
      });
      return { id, created };
    });
    const household = toHousehold(await trx('households').where({ head_id: principal.headId, id: result.id }).first());
    return { household, created: Boolean(result.created) && !replayed, replayed };
  }));
}

async function lockOrCreateHousehold(trx: Knex.Transaction, bank: Bank, principal: Principal, branch: Branch, externalId: string, name: string) {
  const lock = () => trx('households').where({ head_id: principal.headId, external_id: externalId }).forUpdate().first();
  let existing = await lock();
  if (!existing) {
    // A concurrent upsert of the same new externalId waits here for the first and then updates it.
    const [row] = await trx('households').insert({ head_id: principal.headId, branch_id: branch.id, external_id: externalId, name })
      .onConflict(['head_id', 'external_id']).ignore().returning('id');
    if (row) {
      await openWallets(trx, principal.headId, branch.id, String(row.id), 'HOUSEHOLD');
      return { id: String(row.id), created: true };
    }
    existing = await lock();
    assertInvariant(existing, `household ${externalId} conflicted on insert but cannot be read`);
  }
  if (!isWithin(await bank.branches.requireById(String(existing.branch_id)), principal.branch)) {
    throw new BankError('FORBIDDEN', householdOutOfScope, 'externalId');
  }
  // A household moved to another branch takes its wallets along (households_wallets_follow).
  return { id: String(existing.id), created: false };
}

/** The listed members by externalId, each in the household's branch subtree; locked in id order. */
async function lockListedMembers(trx: Knex.Transaction, bank: Bank, principal: Principal, branch: Branch,
  members: (HouseholdMemberInput & { index: number })[]) {
  const externalIds = members.map((m) => m.externalId);
  if (externalIds.length === 0) return new Map<string, string>();
  // FOR NO KEY UPDATE: serializes two upserts naming one member, without waiting on awards' key checks.
  const { rows } = await trx.raw(
    `SELECT id, external_id, branch_id FROM members WHERE head_id = ? AND external_id = ANY(?::text[]) ORDER BY id FOR NO KEY UPDATE`,
    [principal.headId, externalIds]);
  const byExternal = new Map<string, any>(rows.map((r: any) => [r.external_id, r]));
  const ids = new Map<string, string>();
  for (const m of members) {
    const row = byExternal.get(m.externalId);
    const field = `members[${m.index}].externalId`;
    const memberBranch = row ? await bank.branches.requireById(String(row.branch_id)) : null;
    // A member outside the caller's scope reads like no member at all.
    if (!row || !memberBranch || !isWithin(memberBranch, principal.branch)) {
      throw new BankError('NOT_FOUND', `${field}: no member with externalId "${m.externalId}"`, field);
    }
    if (!isWithin(memberBranch, branch)) {
      throw badInput(field, `member "${m.externalId}" is in branch ${memberBranch.code}, outside the household's branch ${branch.code}`);
    }
    ids.set(m.externalId, String(row.id));
  }
  return ids;
}

/** Closes the rows that no longer hold (left, moved, adult flag changed) and opens the new ones. */
async function setMemberships(trx: Knex.Transaction, bank: Bank, principal: Principal, householdId: string,
  wanted: { memberId: string; adult: boolean }[]): Promise<void> {
  const head = principal.headId;
  const wantedIds = wanted.map((w) => w.memberId);
  const { rows: current } = await trx.raw(
    `SELECT hm.id, hm.household_id, hm.member_id, hm.adult, h.branch_id FROM household_members hm
       JOIN households h ON h.head_id = hm.head_id AND h.id = hm.household_id
      WHERE hm.head_id = ? AND hm.left_at IS NULL AND (hm.household_id = ? OR hm.member_id = ANY(?::bigint[]))
      ORDER BY hm.id FOR UPDATE OF hm`,
    [head, householdId, wantedIds]);
  const wantedBy = new Map(wanted.map((w) => [w.memberId, w]));
  const toClose: string[] = [];
  const staying = new Set<string>();
  for (const row of current) {
    const memberId = String(row.member_id);
    const want = wantedBy.get(memberId);
    if (String(row.household_id) === householdId && want && want.adult === row.adult) {
      staying.add(memberId);
      continue;
    }
    if (String(row.household_id) !== householdId
        && !isWithin(await bank.branches.requireById(String(row.branch_id)), principal.branch)) {
      throw new BankError('FORBIDDEN', 'a listed member is in a household outside your scope; an admin whose scope covers both may move it', 'members');
    }
    toClose.push(String(row.id));
  }
  if (toClose.length > 0) {
    await trx('household_members').where({ head_id: head }).whereIn('id', toClose)
      .update({ left_at: trx.fn.now(), left_by: principal.sub.slice(0, 200) });
  }
  const joining = wanted.filter((w) => !staying.has(w.memberId));
  if (joining.length > 0) {
    await trx('household_members').insert(joining.map((w) => ({
      head_id: head, household_id: householdId, member_id: w.memberId, adult: w.adult, joined_by: principal.sub.slice(0, 200),
    })));
  }
}

/** The policy a branch applies (its own, or its nearest ancestor's that sets one) and its own setting. */
export async function householdSpendingOf(bank: Bank, branch: Branch): Promise<{ effective: HouseholdSpending; own: HouseholdSpending | null }> {
  const { rows } = await bank.knex.raw(
    `SELECT b.id, b.household_spending FROM branches b
      WHERE starts_with(?, b.path) AND b.household_spending IS NOT NULL ORDER BY b.depth DESC`, [branch.path]);
  const own = rows.find((r: any) => String(r.id) === branch.id)?.household_spending ?? null;
  return { effective: rows[0]?.household_spending ?? defaultHouseholdSpending, own };
}

/** An admin sets who may spend from household wallets in a branch subtree; null inherits from above. */
export async function setHouseholdSpending(bank: Bank, principal: Principal, input: { branch: string; policy?: HouseholdSpending | null }): Promise<Branch> {
  requireRole(principal, 'admin');
  const policy = input.policy ?? null;
  if (policy !== null && !spendingPolicies.includes(policy)) throw badInput('policy', `must be one of ${spendingPolicies.join(', ')}, or null to inherit`);
  const branch = await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, `branch ${branch.code}`);
  await bank.knex('branches').where({ id: branch.id })
    .update({ household_spending: policy, household_spending_changed_by: principal.sub.slice(0, 200), household_spending_changed_at: bank.knex.fn.now() });
  return branch;
}
