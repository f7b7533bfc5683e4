// The fault harness's households (户, issue 16 §1): the admin upserts households by externalId with
// their whole membership, moving members between households (and out of any), flipping the adult flag
// and changing the head; a client awards under a rule whose beneficiary is HOUSEHOLD (by a member,
// crediting its current household, or by the household's externalId); members spend from their
// household's wallet (redeem, donate): adults where the branch lets any adult, only the head where it
// is HEAD_ONLY; minors, non-heads there and members in no household are refused and change nothing.
// upsertHousehold moves no money: it answers per key with `household:ID`; a household redemption
// with `redemption:ID` (checks.ts finds its REDEEM transaction through the key).
import { redemptionOutcome, type ChaosMember, type ChaosWorld, type KeyOutcome, type Workload } from './workload.js';

export interface ChaosHousehold {
  externalId: string;
  branchCode: string;
  /** The membership as the admin's client last knew it. */
  members: { member: ChaosMember; adult: boolean }[];
  head: ChaosMember | null;
}

/** The households' part of the world. */
export interface HouseholdsWorld {
  /** The rule whose awards credit a household (capped per household and day). */
  householdRule: string;
  households: ChaosHousehold[];
}

const pick = <T>(world: ChaosWorld, list: readonly T[]): T | undefined => list[Math.floor(world.random() * list.length)];

/** The upsertHousehold input for a household with this membership and head. */
export function householdInput(household: ChaosHousehold, members: ChaosHousehold['members'], head: ChaosMember | null): Record<string, unknown> {
  const headListed = head && members.some((m) => m.member.id === head.id && m.adult) ? head : members.find((m) => m.adult)?.member ?? null;
  return {
    externalId: household.externalId, branch: household.branchCode, name: `${household.externalId} 家`,
    head: headListed?.externalId ?? null, members: members.map((m) => ({ externalId: m.member.externalId, adult: m.adult })),
  };
}

export const upsertHouseholdQuery = 'mutation($i: UpsertHouseholdInput!) { upsertHousehold(input: $i) { household { id externalId head { id } members { adult member { id } } } } }';

/** Learns a household's membership from an answer: its members are in no other household now. */
export function learnHousehold(world: ChaosWorld, answer: any): void {
  const household = world.households.find((h) => h.externalId === answer.externalId);
  if (!household) return;
  const byId = new Map(world.members.map((m) => [m.id, m]));
  household.members = answer.members.map((m: any) => ({ member: byId.get(String(m.member.id))!, adult: m.adult })).filter((m: any) => m.member);
  household.head = answer.head ? byId.get(String(answer.head.id)) ?? null : null;
  const ids = new Set(household.members.map((m) => m.member.id));
  for (const other of world.households) if (other !== household) other.members = other.members.filter((m) => !ids.has(m.member.id));
}

const householdOutcome = (id: string | number): KeyOutcome => ({ transactionId: `household:${id}` });

/** A member to spend from a household wallet: mostly in a household (adults, minors, heads and not), now and then in none. */
function spender(world: ChaosWorld): ChaosMember | undefined {
  if (world.random() < 0.1) return pick(world, world.members);
  const household = pick(world, world.households.filter((h) => h.members.length));
  return household && pick(world, household.members)!.member;
}

export const householdWorkloads: Workload[] = [
  {
    // a move: a member of the branch (in another household or in none) joins; or one leaves, turns
    // adult or minor, or the head changes
    name: 'upsertHousehold', weight: 2,
    build: (world, key) => {
      const household = pick(world, world.households);
      if (!household) return null;
      let members = [...household.members];
      let head = household.head;
      const r = world.random();
      if (r < 0.5 || members.length < 2) {
        const mover = pick(world, world.members.filter((m) => m.branchCode === household.branchCode && !members.some((x) => x.member.id === m.id)));
        if (mover) members.push({ member: mover, adult: world.random() < 0.7 });
      } else if (r < 0.7) {
        members.splice(Math.floor(world.random() * members.length), 1);
      } else if (r < 0.9) {
        const i = Math.floor(world.random() * members.length);
        members = members.map((m, j) => (j === i ? { ...m, adult: !m.adult } : m));
      } else {
        head = pick(world, members.filter((m) => m.adult))?.member ?? null;
      }
      const k = key();
      return {
        workload: 'upsertHousehold', token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: upsertHouseholdQuery, variables: { i: { idempotencyKey: k, ...householdInput(household, members, head) } }, context: {},
      };
    },
    read: (data, request) => {
      request.context.answer = data.upsertHousehold.household;
      return [householdOutcome(data.upsertHousehold.household.id)];
    },
    acknowledged: (world, _id, request) => learnHousehold(world, request!.context.answer),
  },
  {
    // sorting at the household's bin: by a member (its current household is credited; refused for a
    // member in none) or by the household's externalId
    name: 'householdAward', weight: 6,
    build: (world, key) => {
      const k = key();
      const byHousehold = world.random() < 0.3 ? pick(world, world.households) : undefined;
      const target = byHousehold ? { householdExternalId: byHousehold.externalId } : { memberId: pick(world, world.members)!.id };
      return {
        workload: 'householdAward', token: world.clientToken, subject: 'chaos-client', keys: [k],
        query: 'mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, rule: world.householdRule, ...target } },
      };
    },
    read: (data) => [{ transactionId: String(data.awardPoints.transactionId) }],
    acknowledged: (world, id) => { world.reversible.push(id); },
  },
  {
    // the shop's item paid from the household wallet (a voucher the till fulfils, or the member cancels)
    name: 'householdRedeem', weight: 3,
    build: (world, key) => {
      const member = spender(world);
      if (!member) return null;
      const k = key();
      return {
        workload: 'householdRedeem', token: world.memberToken(member), subject: `chaos-member-${member.id}`, keys: [k],
        // the redemption, not its transaction: a member reads transactions on its own wallets only
        query: 'mutation($i: RedeemInput!) { redeem(input: $i) { redemption { id code } } }',
        variables: { i: { idempotencyKey: k, item: world.shop.itemId, wallet: 'HOUSEHOLD' } },
        context: { member },
      };
    },
    read: (data, request) => {
      request.context.code = data.redeem.redemption.code;
      return [redemptionOutcome(data.redeem.redemption.id)];
    },
    acknowledged: (world, _id, request) => {
      const { code, member } = request!.context;
      if (!world.vouchers.some((v) => v.code === code)) world.vouchers.push({ code, member });
    },
  },
  {
    name: 'householdDonate', weight: 2,
    build: (world, key) => {
      const member = spender(world);
      if (!member) return null;
      const k = key();
      return {
        workload: 'householdDonate', token: world.memberToken(member), subject: `chaos-member-${member.id}`, keys: [k],
        query: 'mutation($i: DonateInput!) { donate(input: $i) { transactionId } }',
        variables: { i: { idempotencyKey: k, pool: world.poolId, amount: `${1 + Math.floor(world.random() * 3)}.00`, wallet: 'HOUSEHOLD' } },
      };
    },
    read: (data) => [{ transactionId: String(data.donate.transactionId) }],
  },
];
