// Property-based (fast-check): random sequences of earns (dated in random months), spends, refunds
// (reversals of earlier spends) and sweeps at random instants, against a model of first-in first-out
// lots. After every step the sum of the wallet's lots equals its balance, and at the end every lot holds
// exactly what the model says (which lots a spend took, what a refund gave back to which lot, what
// expired). Amounts are whole cents, so the model needs no decimals.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { sweepPointExpiry } from '../../src/expiry/sweeper.js';
import { findLotMismatches } from '../../src/expiry/lots.js';
import { journalOf, setPolicy, type Journal } from './journal.js';

let h: Harness;
let j: Journal;
let sink: string;
/** MONTHS_AFTER_EARNING with this many months. */
const months = 2;

beforeAll(async () => {
  h = await startHarness();
  j = journalOf(h.bank, h.head.id, h.branches[0]!.id, h.tag);
  sink = await h.addMember(`${h.tag}-sink`);
  await setPolicy(h.bank, h.head.id, { kind: 'MONTHS_AFTER_EARNING', months });
});

afterAll(async () => {
  expect(await findLotMismatches(h.bank, h.head.id)).toEqual([]);
  await h.checkInvariants();
  await h.close();
});

type Step =
  | { op: 'earn'; cents: number; month: number }
  | { op: 'spend'; percent: number }
  | { op: 'refund'; pick: number }
  | { op: 'sweep'; month: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('earn' as const), cents: fc.integer({ min: 1, max: 5_000 }), month: fc.integer({ min: 0, max: 23 }) }),
  fc.record({ op: fc.constant('spend' as const), percent: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ op: fc.constant('refund' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('sweep' as const), month: fc.integer({ min: 0, max: 26 }) }),
);

/** Noon on the 15th of month m after January 2024, in Beijing: never near a boundary. */
const midMonth = (m: number) => new Date(Date.UTC(2024, m, 15, 4, 0, 0));
const amountOf = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
const centsOf = (amount: string) => {
  const [whole, fraction = ''] = amount.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2));
};

interface ModelLot { month: number; remaining: number }

it('the sum of a wallet\'s lots always equals its balance, and every lot holds what first-in first-out says', async () => {
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
    const m = await h.addMember(`${h.tag}-p${++run}`);
    const lots: ModelLot[] = []; // in creation order, as the lots' ids
    const spends: { transactionId: string; took: [number, number][]; refunded: boolean }[] = [];
    const available = () => lots.reduce((s, l) => s + l.remaining, 0);
    for (const s of steps) {
      if (s.op === 'earn') {
        await j.earn(m, amountOf(s.cents), midMonth(s.month));
        lots.push({ month: s.month, remaining: s.cents });
      } else if (s.op === 'spend') {
        let left = Math.floor((available() * s.percent) / 100);
        if (left === 0) continue;
        const transactionId = await j.spend(m, sink, amountOf(left));
        const took: [number, number][] = [];
        const fifo = lots.map((l, i) => ({ l, i })).filter(({ l }) => l.remaining > 0).sort((a, b) => a.l.month - b.l.month || a.i - b.i);
        for (const { l, i } of fifo) {
          if (left === 0) break;
          const take = Math.min(left, l.remaining);
          l.remaining -= take;
          left -= take;
          took.push([i, take]);
        }
        spends.push({ transactionId, took, refunded: false });
      } else if (s.op === 'refund') {
        const open = spends.filter((x) => !x.refunded);
        if (open.length === 0) continue;
        const spend = open[s.pick % open.length]!;
        await j.reverse(spend.transactionId);
        spend.refunded = true;
        for (const [i, take] of spend.took) lots[i]!.remaining += take;
      } else {
        await sweepPointExpiry(h.bank, midMonth(s.month));
        // expired: earned in a month before (sweep month - months)
        for (const l of lots) if (l.month < s.month - months) l.remaining = 0;
      }
      const seen = await j.lots(m);
      const sum = seen.reduce((total, l) => total + centsOf(l.remaining), 0);
      expect(amountOf(sum), `lots of member ${m} after ${JSON.stringify(s)}`).toBe(await h.walletBalance(m));
    }
    const seen = await j.lots(m);
    expect(seen.map((l) => centsOf(l.remaining)), `lots of member ${m} after ${JSON.stringify(steps)}`).toEqual(lots.map((l) => l.remaining));
    expect(await h.walletBalance(m)).toBe(amountOf(available()));
  }), { numRuns: 30 });
});
