-- cb_post_lines: posts the lines [{accountId, amount}] of transaction p_txn (already inserted). Keeps
-- invariant 1 (lines sum to zero per asset, asserted), 2 (balances move only with their postings) and
-- 3 (a guarded debit: no wallet that may not go negative drops below zero available, unless p_force).

-- Lines are applied in account id order, so concurrent writers lock wallets in one order.
-- Directly kept balances move under a guard: a debit that would take an account that may not go
-- negative below zero available is refused (INSUFFICIENT_FUNDS), unless p_force (an admin's
-- forced reversal). Deferred (system) balances get an account_deltas row instead of an UPDATE:
-- no row is written by every award of a branch.
CREATE OR REPLACE FUNCTION cb_post_lines(
  p_head bigint, p_txn bigint, p_recorded timestamptz, p_lines jsonb, p_force boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
  v_balance numeric;
  v_line smallint := 0;
  v_unbalanced text;
  v_who text;
BEGIN
  SELECT string_agg(s.asset_code || ' ' || s.total::text, ', ') INTO v_unbalanced
    FROM (SELECT a.asset_code, sum((e.value->>'amount')::numeric) AS total
            FROM jsonb_array_elements(p_lines) e
            -- a primary-key probe per line (a plain join was planned as a scan of all accounts)
            CROSS JOIN LATERAL (SELECT a.asset_code FROM accounts a
                                 WHERE a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint OFFSET 0) a
           GROUP BY a.asset_code) s
   WHERE s.total <> 0;
  PERFORM cb_assert(v_unbalanced IS NULL, format('transaction %s does not sum to zero: %s', p_txn, v_unbalanced));

  FOR v IN
    SELECT a.id, a.asset_code, a.asset_scale, a.deferred_balance, a.allow_negative, a.owner_type, a.owner_id,
           (e.value->>'amount')::numeric AS amount
      FROM jsonb_array_elements(p_lines) e
      CROSS JOIN LATERAL (SELECT a.* FROM accounts a
                           WHERE a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint OFFSET 0) a
     ORDER BY a.id, e.value->>'amount'
  LOOP
    v_line := v_line + 1;
    IF v.deferred_balance THEN
      INSERT INTO account_deltas (head_id, account_id, amount) VALUES (p_head, v.id, v.amount);
      v_balance := NULL;
    ELSE
      UPDATE accounts a SET balance = a.balance + v.amount
       WHERE a.head_id = p_head AND a.id = v.id
         AND (v.amount >= 0 OR a.allow_negative OR p_force OR a.balance - a.held + v.amount >= 0)
      RETURNING a.balance INTO v_balance;
      IF NOT FOUND THEN
        SELECT CASE WHEN a.owner_type = 'MEMBER' THEN 'member ' || m.external_id
                    WHEN a.owner_type = 'HOUSEHOLD' THEN 'household ' || (SELECT h.external_id FROM households h
                                                                            WHERE h.head_id = a.head_id AND h.id = a.owner_id)
                    ELSE lower(a.owner_type) || ' ' || a.owner_id END
               || format(' has %s %s available, %s needed',
                         (a.balance - a.held)::text, a.asset_code, (-v.amount)::text)
          INTO v_who
          FROM accounts a LEFT JOIN members m ON a.owner_type = 'MEMBER' AND m.head_id = a.head_id AND m.id = a.owner_id
         WHERE a.head_id = p_head AND a.id = v.id;
        PERFORM cb_fail('INSUFFICIENT_FUNDS', v_who);
      END IF;
    END IF;
    INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
    VALUES (p_head, p_txn, v_line, v.id, v.asset_code, v.asset_scale, v.amount, v_balance, p_recorded);
  END LOOP;
  PERFORM cb_assert(v_line = jsonb_array_length(p_lines), format('transaction %s names an unknown account', p_txn));
END
$fn$;
