// Lots of points (积分有效期, issue 16 §3): folded from the journal per wallet (cb_fold_wallet_lots,
// under the wallet's row lock, never on the award or spend path), spent first-in first-out. What a
// member sees expiring in the next 30/60/90 days is read after folding its wallets, so it is exact at
// the moment of the read. findLotMismatches checks the lots against the wallets (the property tests and
// every expiry test file run it): per wallet, open lots less its deficit equal balance less held.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { callFunction } from '../db/callFunction.js';
import { formatAmount } from '../ledger/amounts.js';

/** The windows a member sees, in days from now in the bank's calendar. */
export const expiringWindowsDays = [30, 60, 90] as const;
/** The soonest lots listed: a member's screen, not a report. */
export const expiringLotsMax = 20;

export interface ExpiringLot { earnedAt: Date; expiresAt: Date; amount: string }
export interface ExpiringPoints { asset: string; within30Days: string; within60Days: string; within90Days: string; lots: ExpiringLot[] }

/** Folds one wallet's lots up to its journal (its own short transaction); returns the postings folded. */
export async function foldWalletLots(bank: Bank, headId: string, accountId: string): Promise<number> {
  return Number(await callFunction(bank.pool, 'cb_fold_wallet_lots', [headId, accountId]));
}

/**
 * A member's points expiring within 30, 60 and 90 days of `at` (each window includes the shorter ones),
 * per asset whose head bank has an expiry policy on, with the soonest lots. With no policy on, one
 * query and nothing else. Lots already past their instant and not yet swept count as expiring now.
 */
export async function expiringPoints(bank: Bank, headId: string, memberId: string, at = bank.clock()): Promise<ExpiringPoints[]> {
  const { rows: wallets } = await bank.pool.query({
    name: 'cb_expiry_member_wallets',
    text: `SELECT a.id::text AS id, a.asset_code FROM accounts a
             JOIN expiry_policies e ON e.head_id = a.head_id AND e.asset_code = a.asset_code AND e.kind <> 'OFF'
            WHERE a.head_id = $1 AND a.owner_type = 'MEMBER' AND a.owner_id = $2 AND a.purpose = 'WALLET'
            ORDER BY a.asset_code`,
    values: [headId, memberId],
  });
  if (wallets.length === 0) return [];
  for (const w of wallets) await foldWalletLots(bank, headId, w.id);
  const { rows } = await bank.pool.query({
    name: 'cb_expiry_member_lots',
    text: `SELECT l.asset_code, l.earned_at, x.expires_at, l.remaining::text AS remaining,
                  ARRAY[${expiringWindowsDays.map((_, i) => `x.expires_at <= ((($3::timestamptz AT TIME ZONE hb.time_zone) + make_interval(days => $${4 + i})) AT TIME ZONE hb.time_zone)`).join(', ')}] AS within
             FROM wallet_lots l
             JOIN expiry_policies e ON e.head_id = l.head_id AND e.asset_code = l.asset_code
             JOIN branches hb ON hb.id = l.head_id
            CROSS JOIN LATERAL (SELECT cb_lot_expires_at(e.kind, e.months, e.reset_month, e.reset_day, hb.time_zone, l.earned_at) AS expires_at) x
            WHERE l.head_id = $1 AND l.account_id = ANY ($2::bigint[]) AND l.remaining > 0
              AND x.expires_at <= ((($3::timestamptz AT TIME ZONE hb.time_zone) + make_interval(days => $${3 + expiringWindowsDays.length})) AT TIME ZONE hb.time_zone)
            ORDER BY x.expires_at, l.id`,
    values: [headId, wallets.map((w) => w.id), at, ...expiringWindowsDays],
  });
  return wallets.map((w) => {
    const { scale } = bank.assets.get(w.asset_code);
    const mine = rows.filter((r) => r.asset_code === w.asset_code);
    const sum = (i: number) => formatAmount(mine.filter((r) => r.within[i]).reduce((s, r) => s.plus(r.remaining), new Decimal(0)), scale);
    return {
      asset: w.asset_code, within30Days: sum(0), within60Days: sum(1), within90Days: sum(2),
      lots: mine.slice(0, expiringLotsMax).map((r) => ({ earnedAt: r.earned_at, expiresAt: r.expires_at, amount: formatAmount(r.remaining, scale) })),
    };
  });
}

/**
 * Folds every wallet of the head bank's assets with a policy on, then lists what disagrees: a wallet
 * whose open lots less its deficit differ from balance less held, a lot whose remaining differs from
 * the sum of its moves, a deficit that differs from its moves. Empty when the lots are sound.
 */
export async function findLotMismatches(bank: Bank, headId: string): Promise<string[]> {
  const { rows: wallets } = await bank.pool.query(
    `SELECT a.id::text AS id FROM accounts a
       JOIN expiry_policies e ON e.head_id = a.head_id AND e.asset_code = a.asset_code AND e.kind <> 'OFF'
      WHERE a.head_id = $1 AND a.purpose = 'WALLET' AND a.owner_type IN ('MEMBER', 'HOUSEHOLD') ORDER BY a.id`, [headId]);
  for (const w of wallets) await foldWalletLots(bank, headId, w.id);
  const { rows } = await bank.pool.query(
    `SELECT format('wallet %s: lots %s - deficit %s <> balance %s - held %s', a.id, coalesce(l.open, 0), coalesce(s.deficit, 0), a.balance, a.held) AS problem
       FROM accounts a
       JOIN expiry_policies e ON e.head_id = a.head_id AND e.asset_code = a.asset_code AND e.kind <> 'OFF'
       LEFT JOIN (SELECT account_id, sum(remaining) AS open FROM wallet_lots WHERE head_id = $1 GROUP BY 1) l ON l.account_id = a.id
       LEFT JOIN wallet_lot_states s ON s.head_id = a.head_id AND s.account_id = a.id
      WHERE a.head_id = $1 AND a.purpose = 'WALLET' AND a.owner_type IN ('MEMBER', 'HOUSEHOLD') AND coalesce(l.open, 0) - coalesce(s.deficit, 0) <> a.balance - a.held
     UNION ALL
     SELECT format('lot %s: remaining %s <> moves %s', l.id, l.remaining, m.total)
       FROM wallet_lots l
       JOIN (SELECT lot_id, sum(amount) AS total FROM wallet_lot_moves WHERE head_id = $1 AND lot_id IS NOT NULL GROUP BY 1) m ON m.lot_id = l.id
      WHERE l.head_id = $1 AND l.remaining <> m.total
     UNION ALL
     SELECT format('wallet %s: deficit %s <> moves %s', s.account_id, s.deficit, coalesce(m.total, 0))
       FROM wallet_lot_states s
       LEFT JOIN (SELECT account_id, -sum(amount) AS total FROM wallet_lot_moves WHERE head_id = $1 AND kind = 'DEFICIT' GROUP BY 1) m
         ON m.account_id = s.account_id
      WHERE s.head_id = $1 AND s.deficit <> coalesce(m.total, 0)`, [headId]);
  return rows.map((r) => r.problem);
}
