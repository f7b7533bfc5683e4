-- cb_cancel_redemption: cancelRedemption, by the member who redeemed or the merchant, before fulfilment
-- (invariant 6: a fulfilled voucher is never cancelled). Releases the hold and the stock. Invariant 4 by key.

CREATE OR REPLACE FUNCTION cb_cancel_redemption(
  p_head bigint, p_sub text, p_key text, p_hash text, p_code text, p_member bigint, p_merchant bigint)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'cancelRedemption', p_hash);
  v redemptions;
  v_status text;
BEGIN
  IF v_replay IS NOT NULL THEN
    RETURN v_replay;
  END IF;
  v := cb_lock_voucher(p_head, p_code);
  IF v.member_id IS DISTINCT FROM p_member AND v.merchant_id IS DISTINCT FROM p_merchant THEN
    PERFORM cb_fail('FORBIDDEN', format('voucher %s is neither yours nor for your items', p_code));
  END IF;
  v_status := cb_redemption_status(v.status, v.expires_at);
  IF v_status <> 'PENDING' THEN
    PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s; only a PENDING voucher can be cancelled', p_code, v_status));
  END IF;
  PERFORM cb_release_redemption(p_head, v.id, 'CANCELLED', p_sub);
  RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text));
END
$fn$;
