-- cb_award_windows: the cap windows (invariant 5) the accepted award items count in, in the bank's
-- time zone (weeks start on Monday), with each window's limits; shared by the batch and the single award.
-- A MEMBER rule counts per member (rule_usage), a HOUSEHOLD rule per household (household_rule_usage,
-- migration 072): exactly one of member_id and household_id is set, and grp tells them apart.

DROP FUNCTION IF EXISTS cb_award_windows(cb_award_item[], jsonb, text);
CREATE OR REPLACE FUNCTION cb_award_windows(p_items cb_award_item[], p_errors jsonb, p_tz text)
RETURNS TABLE (
  ord integer, grp text, member_id bigint, rule_code text, window_kind text, window_start date, units numeric,
  amount numeric, max_count numeric, max_amount numeric, household_id bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT i.ord, concat_ws('|', coalesce('h' || i.household_id, i.member_id::text), i.rule_code, c.value->>'window', w.start),
         CASE WHEN i.household_id IS NULL THEN i.member_id END, i.rule_code,
         c.value->>'window', w.start, i.qty, i.primary_amount, (c.value->>'maxCount')::numeric, (c.value->>'maxAmount')::numeric,
         i.household_id
    FROM cb_award_accepted(p_items, p_errors) i
    CROSS JOIN LATERAL jsonb_array_elements(i.caps) c
    CROSS JOIN LATERAL (SELECT date_trunc(lower(c.value->>'window'), i.occurred_at AT TIME ZONE p_tz)::date AS start) w
$fn$;
