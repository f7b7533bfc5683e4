-- cb_disburse_pool: disbursePool. An admin pays a FUNDED pool's whole balance to a merchant for the
-- service it buys. Invariants 1-3 through cb_post_lines (the pool holds exactly what it raised,
-- asserted), 4 by key.

CREATE OR REPLACE FUNCTION cb_disburse_pool(
  p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_pool bigint, p_scope_path text, p_merchant bigint,
  p_memo text)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_txn bigint := nextval('transactions_id_seq');
  v_previous bigint := cb_claim_key(p_head, p_sub, p_key, 'disbursePool', p_hash, v_txn);
  v_pool pools;
  v_balance numeric;
  v_merchant_account bigint;
  v_now timestamptz := now();
BEGIN
  IF v_previous IS NOT NULL THEN
    RETURN jsonb_build_object('replayed', true, 'transactionId', v_previous::text);
  END IF;
  v_pool := cb_lock_pool(p_head, p_pool, p_scope_path);
  IF v_pool.status <> 'FUNDED' THEN
    PERFORM cb_fail('INVALID_STATE', format('pool "%s" is %s (raised %s of %s); only a FUNDED pool can be disbursed',
      v_pool.title, v_pool.status, v_pool.raised::text, v_pool.target::text));
  END IF;
  SELECT a.id INTO v_merchant_account FROM accounts a
   WHERE a.head_id = p_head AND a.owner_type = 'MERCHANT' AND a.owner_id = p_merchant AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
  IF NOT FOUND THEN
    PERFORM cb_fail('NOT_FOUND', format('merchant: no merchant %s', p_merchant));
  END IF;
  SELECT balance INTO v_balance FROM accounts WHERE head_id = p_head AND id = v_pool.account_id;
  PERFORM cb_assert(v_balance = v_pool.raised, format('pool %s holds %s but raised %s', p_pool, v_balance, v_pool.raised));
  INSERT INTO transactions (head_id, id, kind, status, branch_id, principal_sub, principal_role, occurred_at, recorded_at, memo)
  VALUES (p_head, v_txn, 'DISBURSE', 'POSTED', v_pool.branch_id, p_sub, p_role, v_now, v_now, p_memo);
  PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
    jsonb_build_object('accountId', v_pool.account_id, 'amount', -v_balance),
    jsonb_build_object('accountId', v_merchant_account, 'amount', v_balance)), false);
  UPDATE pools SET status = 'DISBURSED', disbursed_at = v_now, disbursed_to = p_merchant, disburse_transaction_id = v_txn
   WHERE head_id = p_head AND id = p_pool;
  RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
END
$fn$;
