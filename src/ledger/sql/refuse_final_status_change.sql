-- cb_refuse_final_status_change: the trigger function of transactions_final_status. POSTED and VOIDED
-- are final: a sealed digest covers the status (invariant 8), and a voucher's REDEEM transaction moves
-- only PENDING -> POSTED / VOIDED (invariant 6).

CREATE OR REPLACE FUNCTION cb_refuse_final_status_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- No code path changes a final status: reaching this is an invariant broken, not a request to refuse.
  RAISE EXCEPTION 'invariant broken: transaction % is % (a final status) and cannot become %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'CBASS';
END
$fn$;
