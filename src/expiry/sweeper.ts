// The point expiry sweeper (积分有效期, issue 16 §3): for each head bank and asset with a policy on,
// marks the wallets with credits in the journal since the policy's cursor (wallet_lot_unfolded, one
// set-based statement a window), then folds the wallets whose voucher holds ended and the wallets with
// an open lot or an unfolded credit earned before the policy's cutoff, and expires those lots: a database
// transaction per 100 wallets (cb_expire_wallets, each wallet under its row lock), each lot expired once per
// round with an idempotency key per lot, with any number of processes and after a crash (the cursor
// moves in the statement that marks its window's wallets; folding again is a no-op). With no policy on, a
// round is one query. Runs in every service process every SWEEP_INTERVAL_MS and in `npm run sweep`.
import type { Bank } from '../bank.js';
import { callFunction } from '../db/callFunction.js';
import { runEvery } from '../ledger/background.js';

/** Transactions of the journal read per window: as the rollup fold (bounded work per round trip). */
export const lotWindowTransactions = 10_000;
/** Windows per policy per round: a policy turned on over a long history folds 100,000 transactions a round. */
export const lotWindowsPerRound = 10;
/**
 * Wallets folded in one database transaction (cb_expire_wallets): one commit instead of one each
 * (a commit per wallet made folding cost more than the awards it folded); ~1 ms a wallet, so a
 * transaction holds its wallets for a fraction of a second.
 */
export const walletsPerTransaction = 100;
/** Wallets listed per round trip for ended holds and due lots. */
export const sweepWalletRows = 500;

/** wallets: wallet rows the journal's windows marked unfolded, plus wallets folded; expired: lots expired. */
export interface ExpirySweep { wallets: number; expired: number }

interface PolicyRow { head_id: string; asset_code: string; kind: string; months: number | null; reset_month: number | null; reset_day: number | null; time_zone: string }

/** One pass over every policy that is on; `at` is the instant lots are expired at (the bank's clock). */
export async function sweepPointExpiry(bank: Bank, at: Date = bank.clock()): Promise<ExpirySweep> {
  const { rows: policies } = await bank.pool.query<PolicyRow>({
    name: 'cb_expiry_policies_on',
    text: `SELECT e.head_id::text AS head_id, e.asset_code, e.kind, e.months, e.reset_month, e.reset_day, hb.time_zone
             FROM expiry_policies e JOIN branches hb ON hb.id = e.head_id WHERE e.kind <> 'OFF' ORDER BY e.head_id, e.asset_code`,
  });
  const sweep: ExpirySweep = { wallets: 0, expired: 0 };
  const expireWallets = async (headId: string, accountIds: string[]) => {
    for (let i = 0; i < accountIds.length; i += walletsPerTransaction) {
      const batch = accountIds.slice(i, i + walletsPerTransaction);
      const done = await callFunction(bank.pool, 'cb_expire_wallets', [headId, batch, at]);
      sweep.expired += Number(done.expired);
      // a wallet a writer held: now, waiting for it
      for (const accountId of done.skipped as string[]) {
        sweep.expired += Number(await callFunction(bank.pool, 'cb_expire_wallet_lots', [headId, accountId, at]));
      }
      sweep.wallets += batch.length;
    }
  };
  for (const p of policies) {
    // 1. The journal since the cursor, in one statement per window: each wallet with credits there gets
    // (or keeps) a wallet_lot_unfolded row with its earliest unfolded credit, and the cursor moves, together.
    // The cursor moves up to the horizon (no transaction below it is still running, so none can appear
    // there later); once the window reaches it, the credits committed above it count too (they are
    // scanned again next round: an upsert that changes nothing), so a long transaction elsewhere delays
    // no expiry. Nothing is folded here: a wallet is folded when something in it can be due (3.).
    for (let window = 0; window < lotWindowsPerRound; window++) {
      const { rows: [w] } = await bank.pool.query({ name: 'cb_expiry_lot_window', text: lotWindowSql, values: [p.head_id, p.asset_code, lotWindowTransactions] });
      sweep.wallets += w?.wallets ?? 0;
      if (!w || w.caught_up) break;
    }
    // 2. Holds that ended (a voucher cancelled or expired gives its lots back), and 3. lots past their instant.
    for (const listing of [endedHoldsSql, dueLotsSql]) {
      let after = '0';
      for (;;) {
        const { rows } = await bank.pool.query({
          name: listing.name, text: listing.text,
          values: listing === dueLotsSql ? [p.head_id, p.asset_code, after, sweepWalletRows, p.kind, p.months, p.reset_month, p.reset_day, p.time_zone, at]
            : [p.head_id, p.asset_code, after, sweepWalletRows],
        });
        await expireWallets(p.head_id, rows.map((r) => r.account_id));
        if (rows.length < sweepWalletRows) break;
        after = rows.at(-1).account_id;
      }
    }
  }
  return sweep;
}

const lotWindowSql = `
  WITH c AS (SELECT lots_folded_below AS cursor, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon
               FROM expiry_policies WHERE head_id = $1 AND asset_code = $2),
       b AS (SELECT c.cursor, c.horizon, least(c.horizon, greatest(c.cursor + 1, coalesce(
               (SELECT t.txid FROM transactions t WHERE t.txid >= c.cursor ORDER BY t.txid OFFSET $3 LIMIT 1), c.horizon))) AS bound
               FROM c),
       -- what the window reads: below the bound, or everything from the cursor on once the bound is the horizon
       r AS (SELECT b.cursor, CASE WHEN b.bound >= b.horizon THEN 9223372036854775807 ELSE b.bound END AS upper FROM b),
       credits AS (
         SELECT p.account_id, min(CASE WHEN t.kind = 'REVERSAL' THEN '-infinity'::timestamptz ELSE t.occurred_at END) AS earliest
           FROM r
           JOIN transactions t ON t.txid >= r.cursor AND t.txid < r.upper AND t.head_id = $1 AND t.status = 'POSTED'
           JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at AND p.amount > 0
           JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
          WHERE a.purpose = 'WALLET' AND a.owner_type IN ('MEMBER', 'HOUSEHOLD') AND a.asset_code = $2
          GROUP BY 1),
       marked AS (
         INSERT INTO wallet_lot_unfolded AS u (head_id, account_id, asset_code, earliest_earned_at)
         SELECT $1, credits.account_id, $2, credits.earliest FROM credits ORDER BY credits.account_id
         ON CONFLICT (head_id, account_id) DO UPDATE SET earliest_earned_at = least(u.earliest_earned_at, EXCLUDED.earliest_earned_at)
         RETURNING 1),
       moved AS (
         UPDATE expiry_policies e SET lots_folded_below = greatest(e.lots_folded_below, b.bound)
           FROM b WHERE e.head_id = $1 AND e.asset_code = $2 AND b.bound > b.cursor
         RETURNING 1)
  SELECT (SELECT count(*) FROM marked)::int AS wallets, b.bound >= b.horizon OR b.bound <= b.cursor AS caught_up,
         (SELECT count(*) FROM moved)::int AS moved
    FROM b`;

const endedHoldsSql = {
  name: 'cb_expiry_ended_holds',
  text: `SELECT DISTINCT h.account_id::text AS account_id, h.account_id AS id FROM wallet_lot_holds h
           JOIN transactions t ON t.head_id = h.head_id AND t.id = h.transaction_id
           JOIN accounts a ON a.head_id = h.head_id AND a.id = h.account_id
          WHERE h.head_id = $1 AND a.asset_code = $2 AND t.status <> 'PENDING' AND h.account_id > $3::bigint
          ORDER BY h.account_id LIMIT $4`,
};

const dueLotsSql = {
  name: 'cb_expiry_due_lots',
  // wallets with an open lot, or a credit not folded yet, earned before the cutoff
  text: `SELECT x.account_id::text AS account_id FROM (
           SELECT l.account_id FROM wallet_lots l
            WHERE l.head_id = $1 AND l.asset_code = $2 AND l.remaining > 0 AND l.account_id > $3::bigint
              AND l.earned_at < cb_expiry_cutoff($5, $6, $7, $8, $9, $10)
           UNION
           SELECT u.account_id FROM wallet_lot_unfolded u
            WHERE u.head_id = $1 AND u.asset_code = $2 AND u.account_id > $3::bigint
              AND u.earliest_earned_at < cb_expiry_cutoff($5, $6, $7, $8, $9, $10)) x
          ORDER BY x.account_id LIMIT $4`,
};

/** Sweeps every intervalMs until stopped. */
export function startExpirySweeper(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return runEvery('expiry', intervalMs, async () => {
    const sweep = await sweepPointExpiry(bank);
    if (sweep.expired) log(`expiry: expired ${sweep.expired} lot(s) in ${sweep.wallets} wallet(s)`);
  }, log);
}
