// Party members' households (党员包户, issue 16 §1): an admin links a party member to the households
// they look after, and unlinks them; every link is kept as history (a link is closed, never deleted;
// party_member_households, migration 073) and at most one link of a pair is open at a time
// (party_member_households_current). Linking what is linked, or unlinking what is not, changes nothing:
// both are idempotent by their nature. Links are context for reports; no score reads them.
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin } from '../directory/branches.js';
import { checkExternalId, findMember, type Member } from '../directory/members.js';
import { BankError, badInput } from '../errors.js';
import { withRetry } from '../db/errors.js';
import type { Household } from './households.js';

/** One link of a party member to a household: open while unlinkedAt is null. */
export interface PartyHouseholdLink {
  id: string;
  memberId: string;
  householdId: string;
  linkedAt: Date;
  linkedBy: string;
  unlinkedAt: Date | null;
  unlinkedBy: string | null;
}

/** One call links or unlinks at most this many households: a party member looks after a handful to a few dozen. */
export const partyLinkHouseholdsMax = 100;

function toLink(r: Record<string, any>): PartyHouseholdLink {
  return {
    id: String(r.id), memberId: String(r.member_id), householdId: String(r.household_id), linkedAt: r.linked_at,
    linkedBy: r.linked_by, unlinkedAt: r.unlinked_at, unlinkedBy: r.unlinked_by,
  };
}

export interface PartyLinkInput { member: string; households: string[] }

/** The party member and the households (by externalId), each in the admin's scope. */
async function prepareLinks(bank: Bank, principal: Principal, input: PartyLinkInput): Promise<{ member: Member; householdIds: string[] }> {
  requireRole(principal, 'admin');
  const member = await findMember(bank, principal.headId, { externalId: input.member }, 'member');
  requireScope(principal, await bank.branches.requireById(member.branchId), 'member');
  if (!member.isPartyMember) throw badInput('member', `member "${member.externalId}" is not a party member`);
  if (!Array.isArray(input.households) || input.households.length < 1 || input.households.length > partyLinkHouseholdsMax) {
    throw badInput('households', `give 1 to ${partyLinkHouseholdsMax} households`);
  }
  const externalIds = [...new Set(input.households.map((h, i) => checkExternalId(h, `households[${i}]`)))];
  const rows = await bank.knex('households').where({ head_id: principal.headId }).whereIn('external_id', externalIds).select('id', 'external_id', 'branch_id');
  const byExternal = new Map(rows.map((r: any) => [r.external_id, r]));
  const householdIds: string[] = [];
  for (const [i, externalId] of externalIds.entries()) {
    const row: any = byExternal.get(externalId);
    const branch = row ? await bank.branches.requireById(String(row.branch_id)) : null;
    // A household outside the admin's scope reads like no household at all.
    if (!branch || !isWithin(branch, principal.branch)) {
      throw new BankError('NOT_FOUND', `households[${i}]: no household with externalId "${externalId}"`, `households[${i}]`);
    }
    householdIds.push(String(row.id));
  }
  return { member, householdIds: householdIds.sort((a, b) => Number(a) - Number(b)) };
}

/** Links a party member to households (admins); what is linked already stays as it is. The member's open links. */
export async function linkPartyMemberHouseholds(bank: Bank, principal: Principal, input: PartyLinkInput): Promise<{ member: Member; links: PartyHouseholdLink[] }> {
  const { member, householdIds } = await prepareLinks(bank, principal, input);
  await withRetry(() => bank.knex.transaction(async (trx) => {
    await trx.raw(`
      INSERT INTO party_member_households (head_id, member_id, household_id, linked_by)
      SELECT ?, ?, h, ? FROM unnest(?::bigint[]) h ORDER BY h
      ON CONFLICT (head_id, member_id, household_id) WHERE unlinked_at IS NULL DO NOTHING`,
    [member.headId, member.id, principal.sub.slice(0, 200), householdIds]);
  }));
  return { member, links: await partyHouseholdLinks(bank, member, false) };
}

/** Closes a party member's open links to households (admins); history kept. The member's open links. */
export async function unlinkPartyMemberHouseholds(bank: Bank, principal: Principal, input: PartyLinkInput): Promise<{ member: Member; links: PartyHouseholdLink[] }> {
  const { member, householdIds } = await prepareLinks(bank, principal, input);
  await bank.knex('party_member_households').where({ head_id: member.headId, member_id: member.id }).whereIn('household_id', householdIds)
    .whereNull('unlinked_at').update({ unlinked_at: bank.knex.fn.now(), unlinked_by: principal.sub.slice(0, 200) });
  return { member, links: await partyHouseholdLinks(bank, member, false) };
}

/** A party member's links, open ones only or every one (history), oldest first. */
export async function partyHouseholdLinks(bank: Bank, member: Member, history: boolean): Promise<PartyHouseholdLink[]> {
  const query = bank.knex('party_member_households').where({ head_id: member.headId, member_id: member.id }).orderBy([{ column: 'linked_at' }, { column: 'id' }]);
  if (!history) query.whereNull('unlinked_at');
  return (await query).map(toLink);
}

/** The party members linked to a household, open links only or every one, oldest first. */
export async function householdPartyLinks(bank: Bank, household: Household, history: boolean): Promise<PartyHouseholdLink[]> {
  const query = bank.knex('party_member_households').where({ head_id: household.headId, household_id: household.id }).orderBy([{ column: 'linked_at' }, { column: 'id' }]);
  if (!history) query.whereNull('unlinked_at');
  return (await query).map(toLink);
}
