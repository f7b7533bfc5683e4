-- cb_household_spender: the household whose wallet a member may spend from (redeem, donate), by the
-- branch policy (户 spending, migration 072): the member's current household, if the member is an adult
-- in it and, where the policy is HEAD_ONLY, its head. The policy is the household_spending of the
-- nearest branch on the household's path that sets it; none set means ANY_ADULT. Refusals raise
-- (cb_fail, field 'wallet'). The membership row is locked FOR SHARE: a move or a change of the adult
-- flag (which closes the row) waits until this spend commits, so the spend is judged on what holds at commit.

CREATE OR REPLACE FUNCTION cb_household_spender(p_head bigint, p_member bigint)
RETURNS TABLE (household_id bigint, household_external_id text) LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
  v_policy text;
BEGIN
  SELECT hm.adult, h.id, h.external_id, h.head_member_id, b.path, b.code AS branch_code, m.external_id AS member_external_id INTO v
    FROM household_members hm
    JOIN households h ON h.head_id = hm.head_id AND h.id = hm.household_id
    JOIN branches b ON b.id = h.branch_id
    JOIN members m ON m.head_id = hm.head_id AND m.id = hm.member_id
   WHERE hm.head_id = p_head AND hm.member_id = p_member AND hm.left_at IS NULL
     FOR SHARE OF hm;
  IF NOT FOUND THEN
    PERFORM cb_fail('INVALID_STATE', format('member %s is in no household: there is no household wallet to spend from',
      (SELECT m.external_id FROM members m WHERE m.head_id = p_head AND m.id = p_member)), 'wallet');
  END IF;
  IF NOT v.adult THEN
    PERFORM cb_fail('FORBIDDEN', format('member %s is a minor in household %s: only adult members may spend from the household wallet',
      v.member_external_id, v.external_id), 'wallet');
  END IF;
  SELECT coalesce((SELECT pb.household_spending FROM branches pb
                    WHERE starts_with(v.path, pb.path) AND pb.household_spending IS NOT NULL
                    ORDER BY pb.depth DESC LIMIT 1), 'ANY_ADULT') INTO v_policy;
  IF v_policy = 'HEAD_ONLY' AND v.head_member_id IS DISTINCT FROM p_member THEN
    PERFORM cb_fail('FORBIDDEN', format('in branch %s only the head of household %s may spend from its wallet; member %s is not its head',
      v.branch_code, v.external_id, v.member_external_id), 'wallet');
  END IF;
  RETURN QUERY SELECT v.id, v.external_id;
END
$fn$;
