-- cb_redemption_status: a redemption's effective status. A voucher past its expiry reads as EXPIRED
-- from that instant, swept or not (invariant 6: an expired voucher is never fulfilled).

CREATE OR REPLACE FUNCTION cb_redemption_status(p_status text, p_expires timestamptz)
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT CASE WHEN p_status = 'PENDING' AND p_expires <= now() THEN 'EXPIRED' ELSE p_status END
$fn$;
