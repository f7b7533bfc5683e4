-- cb_transaction_json: one transaction as cb_transactions_json shows it.
-- A SQL function calling a SQL function: planned afresh per call, so the hot path uses cb_with_transaction.

CREATE OR REPLACE FUNCTION cb_transaction_json(p_head bigint, p_id bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT j FROM cb_transactions_json(p_head, ARRAY[p_id])
$fn$;
