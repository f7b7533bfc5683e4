// The settler: folds account_deltas into the balances of deferred (system) accounts, the journal's
// tail into the member rollups (migration 062: cb_fold_rollups, one folder at a time, the cursor
// moved in the same transaction as the rows), and branch_year_deltas into the branch rollups
// (migration 050). Each delta row is consumed exactly once (DELETE ... RETURNING, with SKIP LOCKED
// so several processes can settle side by side), in the same transaction that adds it to the balance
// or the row: a deferred balance (accounts.balance + remaining deltas), a member's rollups (its rows
// + the unfolded tail) and a branch's figures (its rows + remaining deltas + the tail) are exact at
// every moment, before and after settling.
import type { Bank } from '../bank.js';
import { runEvery } from './background.js';

/** Rows folded per statement: keeps each settling transaction short. */
export const settleBatchRows = 10_000;

export async function settleAccountDeltas(bank: Bank): Promise<number> {
  const { rows } = await bank.pool.query({
    name: 'cb_settle_deltas',
    text: `WITH taken AS (
             DELETE FROM account_deltas WHERE (head_id, id) IN (
               SELECT head_id, id FROM account_deltas LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING head_id, account_id, amount),
           sums AS (SELECT head_id, account_id, sum(amount) AS amount, count(*) AS n FROM taken GROUP BY 1, 2),
           applied AS (
             UPDATE accounts a SET balance = a.balance + s.amount FROM sums s
              WHERE a.head_id = s.head_id AND a.id = s.account_id RETURNING s.n)
           SELECT coalesce(sum(n), 0)::int AS settled FROM applied`,
    values: [settleBatchRows],
  });
  return rows[0].settled;
}

/**
 * The fold's settings, for its database transaction: no statement timeout (below), and plans made for
 * each call (the hot pool forces generic plans, made once for any values: for the fold's statements,
 * whose rows depend on the tail's bounds, they cost PostgreSQL 4-6x the CPU per folded award; issue 14).
 */
export const foldSettings = 'SET LOCAL statement_timeout = 0; SET LOCAL plan_cache_mode = auto';

/**
 * Folds the journal's tail, up to about settleBatchRows transactions, into the rollups; the number of
 * transactions passed (0: nothing, or another folder is at it). Without the request statement_timeout:
 * the rows of one database transaction are folded together, and a bulk load of 100,000 transactions in
 * one COPY must not time out on every round and hold the cursor back for ever.
 */
export async function foldRollups(bank: Bank): Promise<number> {
  const client = await bank.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(foldSettings);
    const { rows } = await client.query({ name: 'cb_fold_rollups', text: 'SELECT cb_fold_rollups($1) AS folded', values: [settleBatchRows] });
    await client.query('COMMIT');
    return rows[0].folded;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Folds the tail batch after batch until a batch is not full (or stopped); the number of transactions passed. */
export async function foldAllRollups(bank: Bank, stopped: () => boolean = () => false): Promise<number> {
  let folded = 0;
  for (let n = settleBatchRows; n >= settleBatchRows && !stopped(); folded += n) n = await foldRollups(bank);
  return folded;
}

/** Folds up to settleBatchRows branch deltas into the branch rollups; the number folded. */
export async function foldBranchDeltas(bank: Bank): Promise<number> {
  const { rows } = await bank.pool.query({ name: 'cb_fold_branch_deltas', text: 'SELECT cb_fold_branch_year_deltas($1) AS folded', values: [settleBatchRows] });
  return rows[0].folded;
}

/** Folds branch deltas batch after batch until a batch is not full (or stopped); the number folded. */
export async function foldAllBranchDeltas(bank: Bank, stopped: () => boolean = () => false): Promise<number> {
  let folded = 0;
  for (let n = settleBatchRows; n === settleBatchRows && !stopped(); folded += n) n = await foldBranchDeltas(bank);
  return folded;
}

/** Runs the settler every intervalMs until stopped. */
export function startSettler(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return runEvery('settler', intervalMs, async (stopped) => {
    while (!stopped() && (await settleAccountDeltas(bank)) === settleBatchRows);
    // The rollups first: their fold appends the branch deltas that the next step folds.
    await foldAllRollups(bank, stopped);
    await foldAllBranchDeltas(bank, stopped);
  }, log);
}
