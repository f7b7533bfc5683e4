// The expiry sweeper: releases vouchers past their expiry (hold and stock back, the REDEEM
// transaction VOIDED), each exactly once even with several service processes (the database
// coordinates: SKIP LOCKED and a status move under the row lock, cb_expire_redemptions). A voucher
// reads EXPIRED from its expiry instant whether or not the sweeper has run; this frees what it held.
import type { Bank } from '../bank.js';
import { callFunction } from '../db/callFunction.js';
import { startPeriodicTask } from '../periodicTask.js';

/** Vouchers released per statement: keeps each sweeping transaction short. */
export const sweepBatchRows = 500;

/** One pass: releases every voucher that has expired, in batches; returns how many. */
export async function expireRedemptions(bank: Bank): Promise<number> {
  let total = 0;
  for (;;) {
    const released: number = await callFunction(bank.pool, 'cb_expire_redemptions', [sweepBatchRows]);
    total += released;
    if (released < sweepBatchRows) return total;
  }
}

/** Sweeps every intervalMs until stopped. */
export function startSweeper(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return startPeriodicTask('sweeper', intervalMs, async () => {
    const released = await expireRedemptions(bank);
    if (released) log(`sweeper: released ${released} expired voucher(s)`);
  }, log);
}
