-- cb_award_selection_candidate: pays one winner of an AWARDING selection, once (issue 16 §2). Under the
-- candidate's row lock, a NOMINATED candidate is awarded through cb_award_batch (the awardPoints path:
-- rule in force, caps, postings, invariants 1-5) as an ordinary award under the selection's rule, by
-- the subject p_actor with the idempotency key selection:<selection>:<candidate>, and marked AWARDED
-- with the award's transaction in the same database transaction. So two processes pay a winner once
-- (the second waits on the row lock, then finds it AWARDED; were the row ever behind, the key would
-- replay the first award), and a crash rolls back the award and the mark together.
-- Returns {transactionId, replayed}, {skipped: true} (nothing to do), or {error: {...}} (the award
-- was refused: recorded on the candidate, retried by the next round).

CREATE OR REPLACE FUNCTION cb_award_selection_candidate(p_head bigint, p_candidate bigint, p_actor text, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  c selection_candidates;
  s selections;
  v_head_path text;
  v_tz text;
  v_key text;
  v jsonb;
BEGIN
  SELECT * INTO c FROM selection_candidates WHERE head_id = p_head AND id = p_candidate FOR UPDATE;
  IF NOT FOUND OR c.status <> 'NOMINATED' THEN
    RETURN jsonb_build_object('skipped', true);
  END IF;
  SELECT * INTO s FROM selections WHERE head_id = p_head AND id = c.selection_id;
  IF s.status <> 'AWARDING' THEN
    RETURN jsonb_build_object('skipped', true);
  END IF;
  SELECT h.path INTO v_head_path FROM branches h WHERE h.id = p_head;
  SELECT b.time_zone INTO v_tz FROM branches b WHERE b.id = s.branch_id;
  v_key := format('selection:%s:%s', s.id, c.id);
  -- A household is named by its externalId (the award path's householdExternalId, migration 072), a member by id.
  v := cb_award_batch(p_head, p_actor, 'admin', v_head_path, v_tz, jsonb_build_array(jsonb_build_object(
         'key', v_key, 'hash', encode(sha256(convert_to(format('selectionAward %s %s %s %s', s.id, c.id, coalesce(c.member_id, c.household_id), s.rule_code), 'UTF8')), 'base64'),
         'memberId', c.member_id::text,
         'householdExternalId', (SELECT h.external_id FROM households h WHERE c.kind = 'HOUSEHOLD' AND h.head_id = p_head AND h.id = c.household_id),
         'rule', s.rule_code, 'quantity', '1', 'occurredAt', s.period_ends_at,
         'memo', s.title, 'metadata', jsonb_build_object('selectionId', s.id::text, 'candidateId', c.id::text))))->0;
  IF jsonb_exists(v, 'error') THEN
    IF c.award_error IS DISTINCT FROM v->'error'->>'message' THEN
      UPDATE selection_candidates SET award_error = v->'error'->>'message' WHERE head_id = p_head AND id = p_candidate;
      INSERT INTO selection_history (head_id, selection_id, act, actor, at, details)
      VALUES (p_head, s.id, 'AWARD_REFUSED', p_actor, p_now, jsonb_build_object('candidateId', c.id::text, 'error', v->'error'));
    END IF;
    RETURN v;
  END IF;
  UPDATE selection_candidates SET status = 'AWARDED', transaction_id = (v->>'transactionId')::bigint, awarded_at = p_now, award_error = NULL
   WHERE head_id = p_head AND id = p_candidate;
  INSERT INTO selection_history (head_id, selection_id, act, actor, at, details)
  VALUES (p_head, s.id, 'AWARDED_CANDIDATE', p_actor, p_now,
          jsonb_build_object('candidateId', c.id::text, 'transactionId', v->>'transactionId', 'key', v_key));
  RETURN v;
END
$fn$;
