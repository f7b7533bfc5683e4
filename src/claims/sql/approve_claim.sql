-- cb_approve_claim: approves a PENDING claim by awarding it through cb_award_batch (idempotency key,
-- scope, rule, caps and postings exactly as awardPoints: invariants 1-5), under the claim's row lock:
-- decided once. Returns the award's result ({replayed, transactionId} or {error}); on an error the
-- claim stays PENDING.

-- cb.approving_claim (transaction-local) lets cb_award_refusal pass a rule that needs approval while
-- this function posts it, and only then.
CREATE OR REPLACE FUNCTION cb_approve_claim(
  p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_claim bigint, p_key text, p_hash text)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  c claims;
  v jsonb;
BEGIN
  SELECT * INTO c FROM claims WHERE head_id = p_head AND id = p_claim FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM cb_fail('NOT_FOUND', format('claim: no claim %s', p_claim));
  END IF;
  IF c.status <> 'PENDING' THEN
    IF c.status = 'APPROVED' AND c.decided_by = p_sub AND c.decision_key = p_key THEN
      RETURN jsonb_build_object('replayed', true, 'transactionId', c.transaction_id::text);
    END IF;
    PERFORM cb_fail('INVALID_STATE', format('claim %s was already %s by %s', p_claim, lower(c.status), c.decided_by));
  END IF;
  PERFORM set_config('cb.approving_claim', 'on', true);
  v := cb_award_batch(p_head, p_sub, p_role, p_scope_path, p_tz, jsonb_build_array(jsonb_build_object(
         'key', p_key, 'hash', p_hash, 'memberId', c.member_id::text, 'rule', c.rule_code, 'quantity', c.quantity::text,
         'occurredAt', c.occurred_at, 'memo', NULL, 'metadata', jsonb_build_object('claimId', c.id::text))))->0;
  PERFORM set_config('cb.approving_claim', '', true);
  IF jsonb_exists(v, 'error') THEN
    RETURN v;
  END IF;
  UPDATE claims SET status = 'APPROVED', transaction_id = (v->>'transactionId')::bigint, decided_by = p_sub,
                    decided_at = now(), decision_key = p_key
   WHERE head_id = p_head AND id = p_claim;
  RETURN v;
END
$fn$;
