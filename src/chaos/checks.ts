// What must hold after a run under faults: every acknowledged write exists exactly once (its key
// names its transaction, the transaction and its postings exist), every key produced at most one
// transaction and every transaction came from one key, a refused request wrote nothing (unless an
// earlier attempt of it went unanswered and may have run on: see KeyLedger), and SPEC
// invariants 1-6 and 8 hold (verifyHeadBank: balances, held amounts, sums, trial balance, the
// chain; no member wallet below zero; no cap exceeded). Returns the violations, as sentences.
import type { Bank } from '../bank.js';
import { verifyHeadBank } from '../ledger/verify.js';

/** Violations listed per check: the first ones say what broke; thousands would say nothing more. */
const violationsPerCheckMax = 10;
/** An acknowledgement of a write that moved something and wrote no transaction: `redemption:ID`, `claim:ID`, `selection:ID`, `objection:ID`. */
const movedOnly = /^[a-z]+:/;

export interface KeyLedger {
  /** subject → key → transaction id, for every acknowledged key. */
  acknowledged: Map<string, Map<string, string>>;
  /** subject → key → the refusal code, for refusals after every earlier attempt of the request was answered. */
  refused: Map<string, Map<string, string>>;
  /**
   * subject → key → the refusal code, for refusals that came after an attempt of the same request
   * went unanswered (abandoned, timed out, the connection lost). That attempt may still be running
   * on the server: refusals do not use up a key (SPEC), so it may yet write, and a refusal is then
   * not the last word. Such keys must still write at most once; they are not required to be absent.
   */
  refusedAfterUnanswered: Map<string, Map<string, string>>;
}

/** What the run set up that the checks compare against: the shop's item and its stock at the start. */
export interface ChaosShop { itemId: string; initialStock: number }

export async function checkAfterFaults(bank: Bank, headId: string, ledger: KeyLedger, shop?: ChaosShop): Promise<string[]> {
  const violations: string[] = [];
  const add = (list: string[]) => violations.push(...list.slice(0, violationsPerCheckMax), ...(list.length > violationsPerCheckMax ? [`… and ${list.length - violationsPerCheckMax} more like it`] : []));

  // What each key wrote: its transaction (a redemption's REDEEM transaction, a refund's reversal) or,
  // for fulfil and cancel, which move a redemption and write no transaction, 'redemption:ID'; for a
  // submitted claim, 'claim:ID'; for a selection's writes 'selection:ID', for an objection 'objection:ID', for upsertHousehold 'household:ID'.
  const keys = new Map<string, { transactionId: string | null; moved: string | null }>();
  const { rows: keyRows } = await bank.knex.raw(`
    SELECT k.subject, k.key,
           CASE k.operation
             WHEN 'redeem' THEN (SELECT r.transaction_id FROM redemptions r WHERE r.head_id = k.head_id AND r.id = (k.result->>'redemptionId')::bigint)::text
             WHEN 'refundRedemption' THEN k.result->>'transactionId'
             ELSE k.transaction_id::text END AS transaction_id,
           CASE WHEN k.operation IN ('redeem', 'fulfillRedemption', 'cancelRedemption') THEN 'redemption:' || (k.result->>'redemptionId')
                WHEN k.operation = 'submitClaim' THEN 'claim:' || (k.result->>'id')
                WHEN k.operation = 'fileObjection' THEN 'objection:' || (k.result->>'objection')
                WHEN k.operation = 'upsertHousehold' THEN 'household:' || (k.result->>'id')
                WHEN k.operation IN ('openSelection', 'nominate', 'publishSelection', 'withdrawSelection', 'extendSelection', 'resolveObjection')
                  THEN 'selection:' || (k.result->>'id') END AS moved
      FROM idempotency_keys k WHERE k.head_id = ?`, [headId]);
  for (const r of keyRows) keys.set(`${r.subject}\u0001${r.key}`, { transactionId: r.transaction_id, moved: r.moved });
  const { rows: txnRows } = await bank.knex.raw(`SELECT t.id::text AS id, (SELECT count(*)::int FROM postings p WHERE p.head_id = t.head_id AND p.transaction_id = t.id) AS postings
    FROM transactions t WHERE t.head_id = ?`, [headId]);
  const transactions = new Map<string, number>(txnRows.map((r: any) => [r.id, r.postings]));

  // Every acknowledged write exists exactly once, under its key.
  const lost: string[] = [];
  for (const [subject, acked] of ledger.acknowledged) {
    for (const [key, transactionId] of acked) {
      const row = keys.get(`${subject}\u0001${key}`);
      if (!row) lost.push(`acknowledged key ${key} of ${subject} (transaction ${transactionId}) is not in the database`);
      else if (movedOnly.test(transactionId)) {
        if (row.moved !== transactionId) lost.push(`key ${key} of ${subject} was acknowledged as moving ${transactionId} but names ${row.moved}`);
      } else if (row.transactionId !== transactionId) lost.push(`key ${key} of ${subject} was acknowledged as transaction ${transactionId} but names ${row.transactionId}`);
      else if (!transactions.get(transactionId)) lost.push(`acknowledged transaction ${transactionId} (key ${key}) is missing or has no postings`);
    }
  }
  add(lost);

  // A refused request wrote nothing (a refusal after an unanswered attempt may have been overtaken
  // by that attempt: it is checked only for a conflict on identical retries).
  const refusedWrote: string[] = [];
  for (const [map, mustBeAbsent] of [[ledger.refused, true], [ledger.refusedAfterUnanswered, false]] as const) {
    for (const [subject, refused] of map) {
      for (const [key, code] of refused) {
        if (code === 'IDEMPOTENCY_CONFLICT') refusedWrote.push(`key ${key} of ${subject} was refused as IDEMPOTENCY_CONFLICT though every retry sent the same request`);
        else if (mustBeAbsent && keys.has(`${subject}\u0001${key}`)) refusedWrote.push(`key ${key} of ${subject} was refused (${code}) but is in the database`);
      }
    }
  }
  add(refusedWrote);

  // Every key produced at most one transaction, and every transaction came from exactly one key.
  const perTransaction = new Map<string, number>();
  for (const { transactionId } of keys.values()) if (transactionId) perTransaction.set(transactionId, (perTransaction.get(transactionId) ?? 0) + 1);
  add([...perTransaction].filter(([, n]) => n > 1).map(([id, n]) => `transaction ${id} is named by ${n} keys`));
  add([...transactions.keys()].filter((id) => !perTransaction.has(id)).map((id) => `transaction ${id} was written by no key (a duplicate write)`));

  // Invariants 1, 2 and 8: the books recompute, and so does the chain.
  const report = await verifyHeadBank(bank, headId);
  add(report.problems.map((p) => `verifyLedger ${p.check}: ${p.message}`));
  if (report.transactionsQueued > 0) violations.push(`${report.transactionsQueued} final transactions were still not sealed after the run`);

  // Invariant 3: no member or household wallet of a spendable asset below zero available.
  const { rows: negative } = await bank.knex.raw(`SELECT id::text AS id, owner_type, balance::text AS balance, held::text AS held FROM accounts
    WHERE head_id = ? AND owner_type IN ('MEMBER', 'HOUSEHOLD') AND NOT allow_negative AND balance - held < 0`, [headId]);
  add(negative.map((a: any) => `${a.owner_type.toLowerCase()} account ${a.id} is below zero: balance ${a.balance}, held ${a.held}`));

  // Invariant 6: each redemption's status agrees with its REDEEM transaction's; the stock taken is
  // exactly what live redemptions hold (none oversold, none leaked by a cancel, an expiry or a
  // restocking refund); a pool holds what it raised, never more than its target.
  const { rows: disagree } = await bank.knex.raw(`
    SELECT r.code, r.status, t.status AS txn FROM redemptions r JOIN transactions t ON t.head_id = r.head_id AND t.id = r.transaction_id
     WHERE r.head_id = ? AND t.status <> CASE WHEN r.status = 'PENDING' THEN 'PENDING' WHEN r.status IN ('FULFILLED', 'REFUNDED') THEN 'POSTED' ELSE 'VOIDED' END`, [headId]);
  add(disagree.map((r: any) => `voucher ${r.code} is ${r.status} but its transaction is ${r.txn}`));
  if (shop) {
    const { rows: [stock] } = await bank.knex.raw(`
      SELECT i.stock_left, (SELECT coalesce(sum(r.quantity), 0)::int FROM redemptions r WHERE r.head_id = i.head_id AND r.item_id = i.id
                              AND (r.status IN ('PENDING', 'FULFILLED') OR (r.status = 'REFUNDED' AND NOT r.restocked))) AS taken
        FROM catalog_items i WHERE i.head_id = ? AND i.id = ?`, [headId, shop.itemId]);
    if (stock.stock_left + stock.taken !== shop.initialStock) {
      violations.push(`item ${shop.itemId}: ${stock.stock_left} left + ${stock.taken} held by redemptions ≠ ${shop.initialStock} at the start`);
    }
  }
  const { rows: pools } = await bank.knex.raw(`
    SELECT p.id, p.status, p.raised::text AS raised, p.target::text AS target, a.balance::text AS balance,
           (SELECT coalesce(sum(d.amount), 0) FROM pool_donations d WHERE d.head_id = p.head_id AND d.pool_id = p.id)::text AS donated
      FROM pools p JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id
     WHERE p.head_id = ? AND (p.raised > p.target OR (p.status IN ('OPEN', 'FUNDED') AND (a.balance <> p.raised OR p.raised <>
           (SELECT coalesce(sum(d.amount), 0) FROM pool_donations d WHERE d.head_id = p.head_id AND d.pool_id = p.id))))`, [headId]);
  add(pools.map((p: any) => `pool ${p.id} (${p.status}) raised ${p.raised} of ${p.target}, holds ${p.balance}, donations sum to ${p.donated}`));

  // Invariant 5: no cap exceeded, counted from the transactions themselves (one unit per award here),
  // per member, or per household for a rule whose beneficiary is HOUSEHOLD.
  const { rows: overCap } = await bank.knex.raw(`
    SELECT * FROM (
      SELECT CASE WHEN r.beneficiary = 'HOUSEHOLD' THEN 'household ' || t.household_id ELSE 'member ' || t.member_id END AS member,
             r.code, (t.occurred_at AT TIME ZONE b.time_zone)::date AS day, count(*)::int AS awards,
             (c.value->>'maxCount')::numeric AS cap
        FROM transactions t JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
        JOIN branches b ON b.id = t.head_id
        CROSS JOIN LATERAL jsonb_array_elements(r.caps) c
       WHERE t.head_id = ? AND t.kind IN ('EARN', 'DEDUCT') AND c.value->>'window' = 'DAY' AND c.value->>'maxCount' IS NOT NULL
       GROUP BY 1, 2, 3, 5) x
     WHERE x.awards > x.cap`, [headId]);
  add(overCap.map((r: any) => `${r.member} got ${r.awards} awards of ${r.code} on ${r.day}; the cap is ${r.cap}`));
  return violations;
}
