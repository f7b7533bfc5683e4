-- cb_check_redemption_move: the trigger function of redemptions_status_moves. Invariant 6: a voucher
-- is fulfilled at most once, a fulfilled one cannot be cancelled and a released one cannot be
-- fulfilled. Whatever the code does, these are the only moves: PENDING -> FULFILLED -> REFUNDED,
-- PENDING -> CANCELLED and PENDING -> EXPIRED.

CREATE OR REPLACE FUNCTION cb_check_redemption_move()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'PENDING' AND NEW.status IN ('FULFILLED', 'CANCELLED', 'EXPIRED'))
    OR (OLD.status = 'FULFILLED' AND NEW.status = 'REFUNDED')) THEN
    RAISE EXCEPTION 'invariant broken: redemption % cannot move from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'CBASS';
  END IF;
  RETURN NEW;
END
$fn$;
