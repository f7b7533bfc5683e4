-- cb_finish_selection_awarding: an AWARDING selection none of whose candidates is still NOMINATED
-- (every winner paid, the struck ones never) becomes AWARDED, once, under its row lock. True when it moved.

CREATE OR REPLACE FUNCTION cb_finish_selection_awarding(p_head bigint, p_selection bigint, p_actor text, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  s selections;
BEGIN
  SELECT * INTO s FROM selections WHERE head_id = p_head AND id = p_selection FOR UPDATE;
  IF NOT FOUND OR s.status <> 'AWARDING'
     OR EXISTS (SELECT 1 FROM selection_candidates c WHERE c.head_id = p_head AND c.selection_id = p_selection AND c.status = 'NOMINATED') THEN
    RETURN false;
  END IF;
  UPDATE selections SET status = 'AWARDED', awarded_at = p_now WHERE head_id = p_head AND id = p_selection;
  INSERT INTO selection_history (head_id, selection_id, act, actor, at, details)
  VALUES (p_head, p_selection, 'AWARDED', p_actor, p_now, jsonb_build_object('winners',
          (SELECT count(*) FROM selection_candidates c WHERE c.head_id = p_head AND c.selection_id = p_selection AND c.status = 'AWARDED')));
  RETURN true;
END
$fn$;
