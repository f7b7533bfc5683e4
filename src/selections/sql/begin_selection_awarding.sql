-- cb_begin_selection_awarding: moves a PUBLISHED selection whose notice period has ended (at p_now,
-- the service's clock) and that has no OPEN objection to AWARDING, under the selection's row lock, and
-- records it once. True when the selection is AWARDING afterwards (its winners may be paid), false
-- otherwise: not due yet, held by an open objection, withdrawn, or already AWARDED.
-- Objections are filed under the same row lock while the selection is PUBLISHED and its period runs,
-- so none can appear once it is AWARDING.

CREATE OR REPLACE FUNCTION cb_begin_selection_awarding(p_head bigint, p_selection bigint, p_actor text, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  s selections;
BEGIN
  SELECT * INTO s FROM selections WHERE head_id = p_head AND id = p_selection FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF s.status = 'AWARDING' THEN
    RETURN true;
  END IF;
  IF s.status <> 'PUBLISHED' OR s.period_ends_at > p_now
     OR EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = p_head AND o.selection_id = p_selection AND o.status = 'OPEN') THEN
    RETURN false;
  END IF;
  UPDATE selections SET status = 'AWARDING' WHERE head_id = p_head AND id = p_selection;
  INSERT INTO selection_history (head_id, selection_id, act, actor, at, details)
  VALUES (p_head, p_selection, 'AWARDING', p_actor, p_now, jsonb_build_object('periodEndedAt', s.period_ends_at,
          'winners', (SELECT count(*) FROM selection_candidates c WHERE c.head_id = p_head AND c.selection_id = p_selection AND c.status = 'NOMINATED')));
  RETURN true;
END
$fn$;
