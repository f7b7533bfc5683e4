-- cb_expire_redemption: the expiry sweeper releases one voucher per call: p_id if it is still PENDING
-- and past its expiry. SKIP LOCKED: a voucher another process is releasing, or that a fulfilment holds,
-- is left to it. Returns whether this call released it; each is released exactly once (invariant 6).

-- One transaction per voucher, so its locks follow the order redemption, item, wallet like every
-- other voucher write.
CREATE OR REPLACE FUNCTION cb_expire_redemption(p_head bigint, p_id bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM redemptions WHERE head_id = p_head AND id = p_id AND status = 'PENDING' AND expires_at <= now()
    FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM cb_release_redemption(p_head, p_id, 'EXPIRED', 'expiry-sweeper');
  RETURN true;
END
$fn$;
