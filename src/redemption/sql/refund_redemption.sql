-- cb_refund_redemption: refundRedemption. A reversal of a fulfilled redemption's transaction back to the
-- wallet it spent from (the member's or its household's), once (transactions_reversed_once and the status move both hold that; invariant 6).
-- p_merchant is the merchant caller (NULL for an admin, whose scope p_scope_path must cover the member).

CREATE OR REPLACE FUNCTION cb_refund_redemption(
  p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_code text, p_merchant bigint, p_scope_path text,
  p_restock boolean, p_reason text)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'refundRedemption', p_hash);
  v redemptions;
  v_member_path text;
  v_branch bigint;
  v_txn bigint := nextval('transactions_id_seq');
  v_now timestamptz := now();
  v_restocked boolean := false;
BEGIN
  IF v_replay IS NOT NULL THEN
    RETURN v_replay;
  END IF;
  v := cb_lock_voucher(p_head, p_code);
  SELECT b.path, b.id INTO v_member_path, v_branch FROM members m JOIN branches b ON b.id = m.branch_id
   WHERE m.head_id = p_head AND m.id = v.member_id;
  IF (p_merchant IS NOT NULL AND v.merchant_id <> p_merchant) OR (p_merchant IS NULL AND NOT starts_with(v_member_path, p_scope_path)) THEN
    PERFORM cb_fail('FORBIDDEN', format('voucher %s is outside your scope', p_code));
  END IF;
  IF v.status <> 'FULFILLED' THEN
    PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s; only a FULFILLED voucher can be refunded', p_code,
      cb_redemption_status(v.status, v.expires_at)));
  END IF;
  INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                            occurred_at, recorded_at, memo, reason, reverses_id, household_id)
  VALUES (p_head, v_txn, 'REVERSAL', 'POSTED', v_branch, v.member_id, p_sub, p_role, v_now, v_now,
          format('refund of voucher %s', p_code), p_reason, v.transaction_id, v.household_id);
  -- The item before the accounts, as every voucher write locks them.
  IF p_restock THEN
    UPDATE catalog_items SET stock_left = stock_left + v.quantity WHERE head_id = p_head AND id = v.item_id AND stock_left IS NOT NULL;
    v_restocked := FOUND;
  END IF;
  PERFORM cb_post_lines(p_head, v_txn, v_now,
    (SELECT jsonb_agg(jsonb_build_object('accountId', p.account_id, 'amount', -p.amount))
       FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at), false);
  UPDATE redemptions SET status = 'REFUNDED', refund_transaction_id = v_txn, refunded_at = v_now, refunded_by = p_sub,
                         restocked = v_restocked
   WHERE head_id = p_head AND id = v.id;
  RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text, 'transactionId', v_txn::text));
END
$fn$;
