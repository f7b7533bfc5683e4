-- cb_lock_voucher: the redemption a merchant, member or admin names by voucher code, locked. Every
-- voucher write locks the redemption first (then the item, then accounts by id), so two devices, a
-- cancel and a fulfil, or the sweeper and a fulfil serialize on it (invariant 6).

CREATE OR REPLACE FUNCTION cb_lock_voucher(p_head bigint, p_code text)
RETURNS redemptions LANGUAGE plpgsql AS $fn$
DECLARE
  v redemptions;
BEGIN
  SELECT * INTO v FROM redemptions WHERE head_id = p_head AND code = p_code FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM cb_fail('NOT_FOUND', format('code: no voucher %s', p_code));
  END IF;
  RETURN v;
END
$fn$;
