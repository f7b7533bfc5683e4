-- cb_member_household: the household a member is in now (household_members_current), or no row. A
-- plpgsql function on purpose: called from cb_award_target only for a HOUSEHOLD rule, it keeps the
-- household tables out of the member award's plan (a member award's executor opens no household table).

CREATE OR REPLACE FUNCTION cb_member_household(p_head bigint, p_member bigint)
RETURNS TABLE (household_id bigint, household_external_id text) LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN QUERY
    SELECT h.id, h.external_id FROM household_members hm JOIN households h ON h.head_id = hm.head_id AND h.id = hm.household_id
     WHERE hm.head_id = p_head AND hm.member_id = p_member AND hm.left_at IS NULL;
END
$fn$;
