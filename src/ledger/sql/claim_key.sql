-- cb_claim_key: invariant 4 for writes answered by a transaction. Returns NULL when the key is new (the
-- caller then writes transaction p_txn), or the original transaction id when this is a replay of the
-- same request; a different request under the key is IDEMPOTENCY_CONFLICT.

-- A concurrent duplicate waits here on the unique index until the first commits (then replays) or
-- rolls back (then writes); a rejected request rolls back, so rejections never use up a key.
CREATE OR REPLACE FUNCTION cb_claim_key(
  p_head bigint, p_sub text, p_key text, p_operation text, p_hash text, p_txn bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, transaction_id)
  VALUES (p_head, p_sub, p_key, p_operation, p_hash, p_txn)
  ON CONFLICT DO NOTHING;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  SELECT k.operation, k.request_hash, k.transaction_id INTO v
    FROM idempotency_keys k WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = p_key;
  PERFORM cb_assert(FOUND, 'idempotency key conflicted but cannot be read');
  IF v.operation <> p_operation OR v.request_hash <> p_hash OR v.transaction_id IS NULL THEN
    PERFORM cb_fail('IDEMPOTENCY_CONFLICT', format(
      'idempotencyKey "%s" was already used for a different %s request; send a new key for a new request',
      p_key, v.operation));
  END IF;
  RETURN v.transaction_id;
END
$fn$;
