-- cb_claim_result_key: invariant 4 for writes whose answer is not just a transaction (a redemption, a
-- pool). Claims the key with an empty result and returns NULL when new, the stored result on a replay,
-- and refuses a different request. cb_finish_key stores the result before commit.

CREATE OR REPLACE FUNCTION cb_claim_result_key(p_head bigint, p_sub text, p_key text, p_operation text, p_hash text)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, result)
  VALUES (p_head, p_sub, p_key, p_operation, p_hash, '{}') ON CONFLICT DO NOTHING;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  SELECT k.operation, k.request_hash, k.result INTO v
    FROM idempotency_keys k WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = p_key;
  PERFORM cb_assert(FOUND, 'idempotency key conflicted but cannot be read');
  IF v.operation <> p_operation OR v.request_hash <> p_hash OR v.result IS NULL OR v.result = '{}' THEN
    PERFORM cb_fail('IDEMPOTENCY_CONFLICT', format(
      'idempotencyKey "%s" was already used for a different %s request; send a new key for a new request', p_key, v.operation));
  END IF;
  RETURN v.result || '{"replayed": true}';
END
$fn$;
