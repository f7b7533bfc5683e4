-- cb_fulfill_redemption: fulfillRedemption (核销). The merchant that owns the item posts the hold to its
-- account: the REDEEM transaction becomes POSTED and its postings move the balances (invariants 2, 6:
-- fulfilled at most once, under the redemption's row lock). Invariant 4 by key.

CREATE OR REPLACE FUNCTION cb_fulfill_redemption(
  p_head bigint, p_sub text, p_key text, p_hash text, p_code text, p_merchant bigint)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'fulfillRedemption', p_hash);
  v redemptions;
  v_status text;
  v_moved integer;
BEGIN
  IF v_replay IS NOT NULL THEN
    RETURN v_replay;
  END IF;
  v := cb_lock_voucher(p_head, p_code);
  IF v.merchant_id <> p_merchant THEN
    PERFORM cb_fail('FORBIDDEN', format('voucher %s is for another merchant''s item', p_code));
  END IF;
  v_status := cb_redemption_status(v.status, v.expires_at);
  -- A repeat by the device that fulfilled it (its token's subject), even under a new key, is an
  -- idempotent success: a till that re-scans must not show the cashier an error.
  IF v_status = 'FULFILLED' AND v.fulfilled_by = p_sub THEN
    RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text)) || '{"replayed": true}';
  END IF;
  IF v_status <> 'PENDING' THEN
    PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s%s; only a PENDING voucher can be fulfilled', p_code, v_status,
      CASE v_status WHEN 'FULFILLED' THEN ' (at ' || v.fulfilled_at || ')' WHEN 'EXPIRED' THEN ' (since ' || v.expires_at || ')' ELSE '' END));
  END IF;
  UPDATE redemptions SET status = 'FULFILLED', fulfilled_at = now(), fulfilled_by = p_sub WHERE head_id = p_head AND id = v.id;
  UPDATE transactions SET status = 'POSTED' WHERE head_id = p_head AND id = v.transaction_id AND status = 'PENDING';
  PERFORM cb_assert(FOUND, format('the REDEEM transaction of voucher %s is not pending', p_code));
  -- The postings were written at redeem time (recorded_at is the redemption's created_at); now they
  -- move the balances, accounts locked in id order.
  PERFORM 1 FROM accounts a
    WHERE a.head_id = p_head AND a.id IN (SELECT p.account_id FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at)
    ORDER BY a.id FOR UPDATE;
  WITH moved AS (
         UPDATE accounts a SET balance = a.balance + p.amount, held = a.held + least(p.amount, 0)
           FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at
            AND a.head_id = p_head AND a.id = p.account_id
         RETURNING a.id)
  SELECT count(*) INTO v_moved FROM moved;
  PERFORM cb_assert(v_moved = 2, format('voucher %s: %s accounts moved, 2 expected', p_code, v_moved));
  RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text));
END
$fn$;
