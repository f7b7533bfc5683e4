-- cb_key_conflict_message: the message of IDEMPOTENCY_CONFLICT (invariant 4), one wording for the
-- single award and the batch.

CREATE OR REPLACE FUNCTION cb_key_conflict_message(p_key text, p_operation text)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT format('idempotencyKey "%s" was already used for a different %s request; send a new key for a new request', p_key, p_operation)
$fn$;
