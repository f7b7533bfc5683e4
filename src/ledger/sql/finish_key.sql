-- cb_finish_key: stores the answer of a write under the key cb_claim_result_key claimed (invariant 4:
-- a replay returns exactly this), and returns it marked as not replayed.

CREATE OR REPLACE FUNCTION cb_finish_key(p_head bigint, p_sub text, p_key text, p_result jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE idempotency_keys SET result = p_result WHERE head_id = p_head AND subject = p_sub AND key = p_key;
  PERFORM cb_assert(FOUND, 'a claimed idempotency key vanished');
  RETURN p_result || '{"replayed": false}';
END
$fn$;
