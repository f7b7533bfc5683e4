// The expiry sweeper: releases vouchers past their expiry (hold and stock back, the REDEEM
// transaction VOIDED), each exactly once even with several service processes (the database
// coordinates: SKIP LOCKED and a status move under the row lock, cb_expire_redemption). A voucher
// reads EXPIRED from its expiry instant whether or not the sweeper has run; this frees what it held.
import type { Bank } from '../bank.js';
import { callFunction } from '../db/callFunction.js';
import { runEvery } from '../ledger/background.js';

/** Expired vouchers listed per round trip; each is then released in a transaction of its own. */
export const sweepBatchRows = 500;

/**
 * One pass: releases every voucher that has expired, one database transaction each (so a sweep
 * takes its locks in the order every voucher write does, and a voucher that cannot be released
 * does not hold up the others); returns how many this process released. A voucher that failed is
 * reported after the others have been released.
 */
export async function expireRedemptions(bank: Bank): Promise<number> {
  let released = 0;
  const failures: string[] = [];
  let after = { expiresAt: new Date(0), id: '0' };
  for (;;) {
    const { rows } = await bank.pool.query({
      name: 'cb_list_expired_redemptions',
      text: `SELECT head_id, id, expires_at FROM redemptions WHERE status = 'PENDING' AND expires_at <= now() AND (expires_at, id) > ($1, $2)
             ORDER BY expires_at, id LIMIT $3`,
      values: [after.expiresAt, after.id, sweepBatchRows],
    });
    for (const row of rows) {
      try {
        if (await callFunction(bank.pool, 'cb_expire_redemption', [row.head_id, row.id])) released++;
      } catch (error) {
        failures.push(`redemption ${row.id} of head bank ${row.head_id}: ${(error as Error).message}`);
      }
    }
    if (rows.length < sweepBatchRows) break;
    after = { expiresAt: rows.at(-1).expires_at, id: String(rows.at(-1).id) };
  }
  if (failures.length) throw new Error(`released ${released}, failed ${failures.length}: ${failures.slice(0, 5).join('; ')}`);
  return released;
}

/** Sweeps every intervalMs until stopped. */
export function startSweeper(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return runEvery('sweeper', intervalMs, async () => {
    const released = await expireRedemptions(bank);
    if (released) log(`sweeper: released ${released} expired voucher(s)`);
  }, log);
}
