-- cb_release_redemption: releases a pending redemption (cancelled or expired): the hold and the stock
-- come back, the REDEEM transaction is VOIDED (invariants 2 and 6). The caller holds the redemption's
-- row lock. The hold is on the wallet the voucher spent from: the member's, or its household's (migration 072).

CREATE OR REPLACE FUNCTION cb_release_redemption(p_head bigint, p_id bigint, p_status text, p_by text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  UPDATE redemptions SET status = p_status, released_at = now(), released_by = p_by
   WHERE head_id = p_head AND id = p_id AND status = 'PENDING'
  RETURNING item_id, member_id, household_id, quantity, cost, transaction_id INTO v;
  PERFORM cb_assert(FOUND, format('redemption %s is not pending under its lock', p_id));
  UPDATE catalog_items SET stock_left = stock_left + v.quantity WHERE head_id = p_head AND id = v.item_id AND stock_left IS NOT NULL;
  UPDATE accounts SET held = held - v.cost
   WHERE head_id = p_head AND owner_type = CASE WHEN v.household_id IS NULL THEN 'MEMBER' ELSE 'HOUSEHOLD' END
     AND owner_id = coalesce(v.household_id, v.member_id) AND asset_code = 'POINTS' AND purpose = 'WALLET'
     AND held >= v.cost;
  PERFORM cb_assert(FOUND, format('the hold of redemption %s is missing from the wallet', p_id));
  UPDATE transactions SET status = 'VOIDED' WHERE head_id = p_head AND id = v.transaction_id AND status = 'PENDING';
  PERFORM cb_assert(FOUND, format('the REDEEM transaction of redemption %s is not pending', p_id));
END
$fn$;
