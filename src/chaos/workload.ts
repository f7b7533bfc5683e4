// The fault harness's workload, pluggable: each kind of write builds a GraphQL request with its
// own idempotency keys, and the harness sends it (again and again with the same keys until it gets
// an answer) and reads per key either a transaction id (acknowledged) or an error code (refused).
// Spending rides along: members redeem an item and give to a pool, the merchant's till fulfils
// vouchers (and refunds some), members cancel theirs; and claims: members report service under a
// rule that needs approval, the admin approves (caps counted at approval); selections
// (selectionsWorkload.ts) and households (householdsWorkload.ts).

import { selectionWorkloads, type SelectionsWorld } from './selectionsWorkload.js';
import { householdWorkloads, type HouseholdsWorld } from './householdsWorkload.js';

export interface ChaosMember { id: string; externalId: string; branchCode: string }

export interface ChaosWorld extends SelectionsWorld, HouseholdsWorld {
  headId: string;
  members: ChaosMember[];
  adminToken: string;
  clientToken: string;
  memberToken(member: ChaosMember): string;
  /** Acknowledged transactions a reversal may undo; each is taken once. */
  reversible: string[];
  /** The shop: a stocked catalog item and the token of the merchant's till. */
  shop: { itemId: string; tillToken: string; tillSubject: string };
  /** The open crowdfunding pool members give to. */
  poolId: string;
  /** Pending vouchers issued to members; each is taken once, by a fulfilment or a cancellation. */
  vouchers: { code: string; member: ChaosMember }[];
  /** Fulfilled vouchers a refund may take, once each. */
  fulfilled: string[];
  /** The rule that needs approval, and the claims submitted under it waiting for the admin (each taken once). */
  claimRule: string;
  claims: string[];
  random(): number;
}

export interface WriteRequest {
  workload: string;
  token: string;
  query: string;
  variables: Record<string, unknown>;
  /** The idempotency keys this request carries, in item order. */
  keys: string[];
  /** The subject the keys belong to (the token's sub). */
  subject: string;
  /** What the workload keeps between building the request and reading its answer. */
  context?: any;
}

/**
 * Per key: the transaction it wrote, or (fulfil, cancel: writes that move a redemption and write no
 * transaction) the redemption it moved as `redemption:ID`, or a refusal code.
 */
export type KeyOutcome = { transactionId: string } | { refused: string };
export const redemptionOutcome = (id: string | number): KeyOutcome => ({ transactionId: `redemption:${id}` });
/** A claim submitted: it writes a claim row, no transaction, until approved. */
export const claimOutcome = (id: string | number): KeyOutcome => ({ transactionId: `claim:${id}` });

export interface Workload {
  name: string;
  /** Relative frequency in the mix. */
  weight: number;
  build(world: ChaosWorld, key: () => string): WriteRequest | null;
  /** Reads an answer with data; returns one outcome per key. */
  read(data: any, request: WriteRequest): KeyOutcome[];
  /** Called once per acknowledged key. */
  acknowledged?(world: ChaosWorld, transactionId: string, request?: WriteRequest): void;
}

const pick = <T>(world: ChaosWorld, list: readonly T[]): T => list[Math.floor(world.random() * list.length)]!;
const amount = (world: ChaosWorld, max: number) => (1 + Math.floor(world.random() * max * 100)).toString().padStart(3, '0').replace(/(\d\d)$/, '.$1');
/** Capped rules make concurrent awards for one member race on their counters (invariant 5). */
const awardRules = ['garbage.bin-duty', 'garbage.sorted-drop', 'volunteer.hour', 'party.negative-list.absence'] as const;

const single = (field: string) => (data: any): KeyOutcome[] => [{ transactionId: String(data[field].transactionId) }];
const reversible = (world: ChaosWorld, id: string) => { world.reversible.push(id); };

export const workloads: Workload[] = [
  {
    name: 'awardPoints', weight: 30,
    build: (world, key) => {
      const k = key();
      return {
        workload: 'awardPoints', token: world.clientToken, subject: 'chaos-client', keys: [k],
        query: 'mutation($i: AwardPointsInput!) { awardPoints(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, memberId: pick(world, world.members).id, rule: pick(world, awardRules) } },
      };
    },
    read: single('awardPoints'),
    acknowledged: reversible,
  },
  {
    name: 'awardPointsBatch', weight: 10,
    build: (world, key) => {
      const awards = Array.from({ length: 2 + Math.floor(world.random() * 30) }, () => ({
        idempotencyKey: key(), memberId: pick(world, world.members).id, rule: pick(world, awardRules),
      }));
      return {
        workload: 'awardPointsBatch', token: world.clientToken, subject: 'chaos-client', keys: awards.map((a) => a.idempotencyKey),
        query: 'mutation($i: AwardPointsBatchInput!) { awardPointsBatch(input: $i) { results { transactionId error { code } } } }',
        variables: { i: { awards } },
      };
    },
    read: (data) => data.awardPointsBatch.results.map((r: any) => (r.error ? { refused: r.error.code } : { transactionId: String(r.transactionId) })),
    acknowledged: reversible,
  },
  {
    // a member gifts from its own wallet to another member (every chaos branch allows gifting)
    name: 'transferPoints', weight: 25,
    build: (world, key) => {
      const from = pick(world, world.members);
      let to = pick(world, world.members);
      if (to.id === from.id) to = world.members[(world.members.indexOf(from) + 1) % world.members.length]!;
      const k = key();
      return {
        workload: 'transferPoints', token: world.memberToken(from), subject: `chaos-member-${from.id}`, keys: [k],
        query: 'mutation($i: TransferPointsInput!) { transferPoints(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, to: { id: to.id }, amount: amount(world, 3) } },
      };
    },
    read: single('transferPoints'),
    acknowledged: reversible,
  },
  {
    name: 'adjustBalance', weight: 10,
    build: (world, key) => {
      const k = key();
      const sign = world.random() < 0.3 ? '-' : '';
      return {
        workload: 'adjustBalance', token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: 'mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, member: { id: pick(world, world.members).id }, asset: 'POINTS', amount: `${sign}${amount(world, 5)}`, reason: 'chaos correction' } },
      };
    },
    read: single('adjustBalance'),
    acknowledged: reversible,
  },
  {
    // a member spends on the shop's item: points held, stock reserved, a voucher issued
    name: 'redeem', weight: 8,
    build: (world, key) => {
      const member = pick(world, world.members);
      const k = key();
      return {
        workload: 'redeem', token: world.memberToken(member), subject: `chaos-member-${member.id}`, keys: [k],
        query: 'mutation($i: RedeemInput!) { redeem(input: $i) { replayed redemption { id code transaction { id } } } }',
        variables: { i: { idempotencyKey: k, item: world.shop.itemId } },
        context: { member },
      };
    },
    read: (data, request) => {
      const r = data.redeem.redemption;
      request.context.code = r.code;
      return [{ transactionId: String(r.transaction.id) }];
    },
    // the voucher goes to the till (or back to its member) once, whatever the retries
    acknowledged: (world, _id, request) => {
      const { code, member } = request!.context;
      if (!world.vouchers.some((v) => v.code === code)) world.vouchers.push({ code, member });
    },
  },
  {
    // the till scans a voucher: the hold posts to the merchant
    name: 'fulfillRedemption', weight: 6,
    build: (world, key) => {
      if (!world.vouchers.length) return null;
      const [voucher] = world.vouchers.splice(Math.floor(world.random() * world.vouchers.length), 1);
      const k = key();
      return {
        workload: 'fulfillRedemption', token: world.shop.tillToken, subject: world.shop.tillSubject, keys: [k],
        query: 'mutation($i: VoucherInput!) { fulfillRedemption(input: $i) { redemption { id code } } }',
        variables: { i: { idempotencyKey: k, code: voucher!.code } },
      };
    },
    read: (data) => [redemptionOutcome(data.fulfillRedemption.redemption.id)],
    acknowledged: (world, _id, request) => { world.fulfilled.push((request!.variables.i as { code: string }).code); },
  },
  {
    // the member changes its mind: hold and stock released
    name: 'cancelRedemption', weight: 2,
    build: (world, key) => {
      if (!world.vouchers.length) return null;
      const [voucher] = world.vouchers.splice(Math.floor(world.random() * world.vouchers.length), 1);
      const k = key();
      return {
        workload: 'cancelRedemption', token: world.memberToken(voucher!.member), subject: `chaos-member-${voucher!.member.id}`, keys: [k],
        query: 'mutation($i: VoucherInput!) { cancelRedemption(input: $i) { redemption { id } } }',
        variables: { i: { idempotencyKey: k, code: voucher!.code } },
      };
    },
    read: (data) => [redemptionOutcome(data.cancelRedemption.redemption.id)],
  },
  {
    // the shop refunds a fulfilled voucher: a reversal back to the member
    name: 'refundRedemption', weight: 1,
    build: (world, key) => {
      if (!world.fulfilled.length) return null;
      const [code] = world.fulfilled.splice(Math.floor(world.random() * world.fulfilled.length), 1);
      const k = key();
      return {
        workload: 'refundRedemption', token: world.shop.tillToken, subject: world.shop.tillSubject, keys: [k],
        query: 'mutation($i: RefundRedemptionInput!) { refundRedemption(input: $i) { transactionId } }',
        variables: { i: { idempotencyKey: k, code, restock: world.random() < 0.5, reason: 'chaos refund' } },
      };
    },
    read: (data) => [{ transactionId: String(data.refundRedemption.transactionId) }],
  },
  {
    // a member gives to the pool (never past its target: LIMIT_EXCEEDED near the end)
    name: 'donate', weight: 5,
    build: (world, key) => {
      const member = pick(world, world.members);
      const k = key();
      return {
        workload: 'donate', token: world.memberToken(member), subject: `chaos-member-${member.id}`, keys: [k],
        query: 'mutation($i: DonateInput!) { donate(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, pool: world.poolId, amount: amount(world, 2) } },
      };
    },
    read: single('donate'),
  },
  {
    // a member reports an hour of service for approval
    name: 'submitClaim', weight: 4,
    build: (world, key) => {
      const member = pick(world, world.members);
      const k = key();
      return {
        workload: 'submitClaim', token: world.memberToken(member), subject: `chaos-member-${member.id}`, keys: [k],
        query: 'mutation($i: SubmitClaimInput!) { submitClaim(input: $i) { claim { id } } }',
        variables: { i: { idempotencyKey: k, rule: world.claimRule, quantity: '1' } },
      };
    },
    read: (data) => [claimOutcome(data.submitClaim.claim.id)],
    acknowledged: (world, id) => { world.claims.push(id.slice('claim:'.length)); },
  },
  {
    // the admin approves a claim: the award posts through the same path as awardPoints
    name: 'approveClaim', weight: 3,
    build: (world, key) => {
      if (!world.claims.length) return null;
      const [claim] = world.claims.splice(Math.floor(world.random() * world.claims.length), 1);
      const k = key();
      return {
        workload: 'approveClaim', token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: 'mutation($i: DecideClaimInput!) { approveClaim(input: $i) { claim { transaction { id } } } }',
        variables: { i: { idempotencyKey: k, claim } },
      };
    },
    read: (data) => [{ transactionId: String(data.approveClaim.claim.transaction.id) }],
  },
  {
    name: 'reverseTransaction', weight: 8,
    build: (world, key) => {
      if (!world.reversible.length) return null;
      const [target] = world.reversible.splice(Math.floor(world.random() * world.reversible.length), 1);
      const k = key();
      return {
        workload: 'reverseTransaction', token: world.adminToken, subject: 'chaos-admin', keys: [k],
        query: 'mutation($i: ReverseTransactionInput!) { reverseTransaction(input: $i) { transactionId replayed } }',
        variables: { i: { idempotencyKey: k, transaction: target, reason: 'chaos reversal' } },
      };
    },
    read: single('reverseTransaction'),
  },
  ...selectionWorkloads,
  ...householdWorkloads,
];

/** A workload drawn by weight. */
export function drawWorkload(world: ChaosWorld, list: readonly Workload[] = workloads): Workload {
  const total = list.reduce((s, w) => s + w.weight, 0);
  let r = world.random() * total;
  for (const w of list) if ((r -= w.weight) < 0) return w;
  return list[list.length - 1]!;
}
