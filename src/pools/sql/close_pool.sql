-- cb_close_pool: closePool. An admin closes an OPEN or FUNDED pool and every donation is reversed back to
-- the wallet it came from (the donor's, or its household's: migration 072), all in this one database transaction: interrupted, nothing happened; retried, the pool is
-- CLOSED and each donation was reversed once (transactions_reversed_once). Invariants 1-4.

CREATE OR REPLACE FUNCTION cb_close_pool(
  p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_pool bigint, p_scope_path text, p_reason text)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'closePool', p_hash);
  v_pool pools;
  v_donation record;
  v_txn bigint;
  v_refunds integer := 0;
  v_now timestamptz := now();
  v_balance numeric;
BEGIN
  IF v_replay IS NOT NULL THEN
    RETURN v_replay;
  END IF;
  v_pool := cb_lock_pool(p_head, p_pool, p_scope_path);
  IF v_pool.status NOT IN ('OPEN', 'FUNDED') THEN
    PERFORM cb_fail('INVALID_STATE', format('pool "%s" is %s; only an OPEN or FUNDED pool can be closed', v_pool.title, v_pool.status));
  END IF;
  -- Every account the refunds touch, locked up front in id order (as every writer locks them).
  PERFORM 1 FROM accounts a
    WHERE a.head_id = p_head AND (a.id = v_pool.account_id OR a.id IN (
      SELECT w.id FROM pool_donations d
        JOIN accounts w ON w.head_id = d.head_id AND w.owner_type = CASE WHEN d.household_id IS NULL THEN 'MEMBER' ELSE 'HOUSEHOLD' END
                       AND w.owner_id = coalesce(d.household_id, d.member_id)
                                                     AND w.asset_code = 'POINTS' AND w.purpose = 'WALLET'
       WHERE d.head_id = p_head AND d.pool_id = p_pool))
    ORDER BY a.id FOR UPDATE;
  FOR v_donation IN
    SELECT d.transaction_id, d.member_id, d.household_id, d.amount, m.branch_id, a.id AS wallet
      FROM pool_donations d JOIN members m ON m.head_id = d.head_id AND m.id = d.member_id
      JOIN accounts a ON a.head_id = d.head_id AND a.owner_type = CASE WHEN d.household_id IS NULL THEN 'MEMBER' ELSE 'HOUSEHOLD' END
                     AND a.owner_id = coalesce(d.household_id, d.member_id)
                     AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
     WHERE d.head_id = p_head AND d.pool_id = p_pool
       AND NOT EXISTS (SELECT 1 FROM transactions r WHERE r.head_id = d.head_id AND r.reverses_id = d.transaction_id)
     ORDER BY d.transaction_id
  LOOP
    v_txn := nextval('transactions_id_seq');
    INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                              occurred_at, recorded_at, memo, reason, reverses_id, household_id)
    VALUES (p_head, v_txn, 'REVERSAL', 'POSTED', v_donation.branch_id, v_donation.member_id, p_sub, p_role, v_now, v_now,
            format('pool "%s" closed: donation returned', v_pool.title), p_reason, v_donation.transaction_id, v_donation.household_id);
    PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
      jsonb_build_object('accountId', v_pool.account_id, 'amount', -v_donation.amount),
      jsonb_build_object('accountId', v_donation.wallet, 'amount', v_donation.amount)), false);
    v_refunds := v_refunds + 1;
  END LOOP;
  SELECT balance INTO v_balance FROM accounts WHERE head_id = p_head AND id = v_pool.account_id;
  PERFORM cb_assert(v_balance = 0, format('pool %s still holds %s after returning every donation', p_pool, v_balance));
  UPDATE pools SET status = 'CLOSED', closed_at = v_now, close_reason = p_reason WHERE head_id = p_head AND id = p_pool;
  RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('poolId', p_pool::text, 'refunds', v_refunds));
END
$fn$;
