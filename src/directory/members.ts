// Members (储户, depositors): residents known to awarding clients by externalId. upsertMember is
// idempotent by externalId within a head bank; a new member gets a wallet for every asset, so the
// write path only ever updates existing accounts.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { BankError, assertInvariant, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';
import { isWithin } from './branches.js';
import { checkIdentifier, checkName } from '../inputChecks.js';

export interface Member {
  id: string;
  headId: string;
  branchId: string;
  externalId: string;
  name: string;
  isPartyMember: boolean;
  isVolunteer: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const externalIdLengthMax = 128;
export const nameLengthMax = 200;

export function toMember(r: Record<string, any>): Member {
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), externalId: r.external_id, name: r.name,
    isPartyMember: r.is_party_member, isVolunteer: r.is_volunteer, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** An externalId by the identifier rule (inputChecks.ts), normalised: what is stored and looked up. */
export function checkExternalId(value: unknown, field = 'externalId'): string {
  return checkIdentifier(field, value, externalIdLengthMax);
}

export function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^\d{1,18}$/.test(value)) throw badInput(field, `"${String(value).slice(0, 40)}" is not an id`);
  return value;
}

export interface MemberRef { id?: string | null; externalId?: string | null }

/** Looks a member up by id or externalId inside the principal's head bank; NOT_FOUND otherwise. */
export async function findMember(bank: Bank, headId: string, ref: MemberRef, field = 'member'): Promise<Member> {
  if ((ref.id == null) === (ref.externalId == null)) throw badInput(field, 'give exactly one of id or externalId');
  const query = bank.knex('members').where({ head_id: headId });
  if (ref.id != null) query.andWhere({ id: checkId(ref.id, `${field}.id`) });
  else query.andWhere({ external_id: checkExternalId(ref.externalId, `${field}.externalId`) });
  const row = await query.first();
  if (!row) throw new BankError('NOT_FOUND', `${field}: no member ${ref.id != null ? `with id ${ref.id}` : `with externalId "${ref.externalId}"`}`, field);
  return toMember(row);
}

/** Who may read a member: the member itself, and admins and clients whose scope covers its branch. */
export async function requireMemberVisible(bank: Bank, principal: Principal, member: Member): Promise<void> {
  if (principal.role === 'member') {
    if (principal.memberId !== member.id || principal.headId !== member.headId) {
      throw new BankError('FORBIDDEN', 'a member token reads only its own member');
    }
    return;
  }
  if (principal.role === 'merchant') throw new BankError('FORBIDDEN', 'merchants cannot read members');
  requireScope(principal, await bank.branches.requireById(member.branchId), 'member');
}

export interface UpsertMemberInput {
  idempotencyKey: string;
  externalId: string;
  branch: string;
  name: string;
  isPartyMember?: boolean | null;
  isVolunteer?: boolean | null;
}

/** upsertMember's checks of its input and the principal (role, fields, the target branch in scope). */
async function prepareUpsertMember(bank: Bank, principal: Principal, input: UpsertMemberInput) {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const externalId = checkExternalId(input.externalId);
  const name = checkName('name', input.name, nameLengthMax)!;
  const branch = await bank.branches.require(input.branch, 'branch');
  requireScope(principal, branch, 'branch');
  return { key, externalId, name, branch };
}

const movedOutOfScope = 'this externalId belongs to a member outside your scope; an admin whose scope covers both branches may move it';

/**
 * What upsertMember would decide, without writing (npm run import --dry-run): the same input and
 * scope checks, and the existing member's branch in scope. It cannot see an idempotency conflict
 * that only the write's key claim would find, nor a concurrent upsert of the same externalId.
 */
export async function checkUpsertMember(bank: Bank, principal: Principal, input: UpsertMemberInput): Promise<{ created: boolean }> {
  const { externalId } = await prepareUpsertMember(bank, principal, input);
  const existing = await bank.knex('members').where({ head_id: principal.headId, external_id: externalId }).first('branch_id');
  if (!existing) return { created: true };
  if (!isWithin(await bank.branches.requireById(String(existing.branch_id)), principal.branch)) throw new BankError('FORBIDDEN', movedOutOfScope, 'externalId');
  return { created: false };
}

export async function upsertMember(bank: Bank, principal: Principal, input: UpsertMemberInput): Promise<{ member: Member; created: boolean; replayed: boolean }> {
  const { key, externalId, name, branch } = await prepareUpsertMember(bank, principal, input);
  const normalized = { externalId, branch: branch.code, name, isPartyMember: input.isPartyMember ?? null, isVolunteer: input.isVolunteer ?? null };
  const hash = requestHash('upsertMember', normalized);
  return withRetry(() => bank.knex.transaction(async (trx) => {
    const { result, replayed } = await runIdempotent(trx, principal, key, 'upsertMember', hash, async () => {
      const lockMember = () => trx('members').where({ head_id: principal.headId, external_id: externalId }).forUpdate().first();
      let existing = await lockMember();
      if (!existing) {
        // A concurrent upsert of the same new externalId (with another key) waits here for the first
        // to commit and then updates the member it made, instead of failing on the unique index.
        const [row] = await trx('members').insert({
          head_id: principal.headId, branch_id: branch.id, external_id: externalId, name,
          is_party_member: input.isPartyMember ?? false, is_volunteer: input.isVolunteer ?? false,
        }).onConflict(['head_id', 'external_id']).ignore().returning('id');
        if (row) {
          await openWallets(trx, principal.headId, branch.id, String(row.id));
          return { id: String(row.id), created: true };
        }
        existing = await lockMember();
        assertInvariant(existing, `member ${externalId} conflicted on insert but cannot be read`);
      }
      const from = await bank.branches.requireById(String(existing.branch_id));
      if (!isWithin(from, principal.branch)) {
        // no branch code, no name: only that the externalId is taken (it is unique in the head bank)
        throw new BankError('FORBIDDEN', movedOutOfScope, 'externalId');
      }
      await trx('members').where({ head_id: principal.headId, id: existing.id }).update({
        branch_id: branch.id, name,
        is_party_member: input.isPartyMember ?? existing.is_party_member,
        is_volunteer: input.isVolunteer ?? existing.is_volunteer,
        updated_at: trx.fn.now(),
      });
      // The member's wallets move with it (the members_wallets_follow trigger, migration 032): scope
      // checks on accounts and branchStats read their branch.
      return { id: String(existing.id), created: false };
    });
    const member = toMember(await trx('members').where({ head_id: principal.headId, id: result.id }).first());
    return { member, created: Boolean(result.created) && !replayed, replayed };
  }));
}

/**
 * A wallet per asset for a new member (or a new household: its wallets are a member's, migration 072);
 * negative balances only where the asset allows (PARTY_SCORE).
 */
export async function openWallets(trx: Knex.Transaction | Knex, headId: string, branchId: string, ownerId: string,
  ownerType: 'MEMBER' | 'HOUSEHOLD' = 'MEMBER'): Promise<void> {
  const assets = await trx('assets').select('code', 'scale', 'member_may_go_negative');
  await trx('accounts').insert(assets.map((a) => ({
    head_id: headId, branch_id: branchId, owner_type: ownerType, owner_id: ownerId, purpose: 'WALLET',
    asset_code: a.code, asset_scale: a.scale, allow_negative: a.member_may_go_negative, deferred_balance: false,
  })));
}

/** Members by id, in one query (the dataloader's batch function). */
export async function loadMembers(bank: Bank, headId: string, ids: readonly string[]): Promise<(Member | null)[]> {
  const rows = await bank.knex('members').where({ head_id: headId }).whereIn('id', ids as string[]);
  const byId = new Map(rows.map((r) => [String(r.id), toMember(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}
