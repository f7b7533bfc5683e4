-- cb_household_party: a household named by externalId as the party of an award (its id, externalId,
-- branch and branch path), or no row. plpgsql on purpose, as cb_member_household: cb_award_target calls
-- it only when an award names a household, so a member award's plan holds no household table.

CREATE OR REPLACE FUNCTION cb_household_party(p_head bigint, p_external_id text)
RETURNS TABLE (household_id bigint, household_external_id text, branch_id bigint, path text) LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN QUERY
    SELECT h.id, h.external_id, h.branch_id, b.path FROM households h JOIN branches b ON b.id = h.branch_id
     WHERE h.head_id = p_head AND h.external_id = p_external_id;
END
$fn$;
