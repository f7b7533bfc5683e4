-- cb_award_accepted: the award items still to be written: claimed by this batch and not refused by
-- any check so far (cb_award_batch, cb_award_one).

CREATE OR REPLACE FUNCTION cb_award_accepted(p_items cb_award_item[], p_errors jsonb)
RETURNS SETOF cb_award_item LANGUAGE sql IMMUTABLE AS $fn$
  SELECT i.* FROM unnest(p_items) i
   WHERE i.outcome = 'NEW' AND i.error_code IS NULL AND NOT jsonb_exists(p_errors, i.ord::text)
$fn$;
