// The fault harness's workload, pluggable: each kind of write builds a GraphQL request with its
// own idempotency keys, and the harness sends it (again and again with the same keys until it gets
// an answer) and reads per key either a transaction id (acknowledged) or an error code (refused).
// New kinds (redeem / fulfil / cancel, donations, claims) are added to `workloads` as they land.

export interface ChaosMember { id: string; branchCode: string }

export interface ChaosWorld {
  headId: string;
  members: ChaosMember[];
  adminToken: string;
  clientToken: string;
  memberToken(member: ChaosMember): string;
  /** Acknowledged transactions a reversal may undo; each is taken once. */
  reversible: string[];
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
}

/** Per key: a transaction id or a refusal code. */
export type KeyOutcome = { transactionId: string } | { refused: string };

export interface Workload {
  name: string;
  /** Relative frequency in the mix. */
  weight: number;
  build(world: ChaosWorld, key: () => string): WriteRequest | null;
  /** Reads an answer with data; returns one outcome per key. */
  read(data: any, request: WriteRequest): KeyOutcome[];
  /** Called once per acknowledged transaction. */
  acknowledged?(world: ChaosWorld, transactionId: string): void;
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
];

/** A workload drawn by weight. */
export function drawWorkload(world: ChaosWorld, list: readonly Workload[] = workloads): Workload {
  const total = list.reduce((s, w) => s + w.weight, 0);
  let r = world.random() * total;
  for (const w of list) if ((r -= w.weight) < 0) return w;
  return list[list.length - 1]!;
}
