-- cb_with_transaction: adds the transaction a write answered with (written, or on a replay written
-- first) to its answer, as cb_transactions_json shows it, in the same round trip as the write.

-- Called around the write in the same statement: VOLATILE, so that it reads with a snapshot taken after
-- the write (a STABLE function would read with the calling statement's snapshot, from before the write).
-- The read is a plpgsql statement over cb_transactions_json, so that PostgreSQL inlines that SQL
-- function and keeps the plan per connection: through cb_transaction_json (a SQL function calling
-- a SQL function) it was planned afresh on every call (the read cost ~0.7 ms of backend CPU an
-- award, ~0.3 ms after; measured on a loaded machine).
CREATE OR REPLACE FUNCTION cb_with_transaction(p_head bigint, p_answer jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_transaction jsonb;
BEGIN
  IF NOT jsonb_exists(p_answer, 'transactionId') THEN
    RETURN p_answer;
  END IF;
  SELECT x.j INTO v_transaction FROM cb_transactions_json(p_head, ARRAY[(p_answer->>'transactionId')::bigint]) x;
  RETURN p_answer || jsonb_build_object('transaction', v_transaction);
END
$fn$;
