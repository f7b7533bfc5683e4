-- cb_award_refusal: the first check that refuses an award, in this order, with its code, field and
-- message (all NULL when none does): member or household, scope, rule, beneficiary, validity, approval,
-- client, quantity. The target's columns are cb_award_target's (NULL: no such member or household).
-- Shared by the batch and the single award. Beneficiary (migration 072): a household named for a MEMBER
-- rule is refused, and so is a HOUSEHOLD rule for a member in no household.

DROP FUNCTION IF EXISTS cb_award_refusal(text, text, text, bigint, text, text, numeric, timestamptz, bigint, text, text, bigint,
                                         integer, timestamptz, timestamptz, boolean, text[], jsonb);
CREATE OR REPLACE FUNCTION cb_award_refusal(
  p_sub text, p_role text, p_scope_path text, p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric,
  p_occurred timestamptz, p_member_id bigint, p_member_external_id text, p_member_path text, p_rule_id bigint,
  p_rule_version integer, p_valid_from timestamptz, p_valid_to timestamptz, p_requires_approval boolean,
  p_allowed_clients text[], p_outputs jsonb, p_household_ref text, p_household_id bigint, p_beneficiary text)
RETURNS TABLE (code text, field text, message text) LANGUAGE sql STABLE AS $fn$
  SELECT (ARRAY['NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INVALID_STATE', 'FORBIDDEN', 'BAD_USER_INPUT',
                'NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT', 'INVALID_STATE'])[f.n],
         (ARRAY['member', 'member', 'rule', 'occurredAt', 'rule', 'rule', 'quantity',
                'householdExternalId', 'householdExternalId', 'householdExternalId', 'member'])[f.n],
         CASE f.n
           WHEN 1 THEN format('no member %s in this bank', coalesce('with id ' || p_member_ref, 'with externalId "' || p_external_ref || '"'))
           WHEN 2 THEN format('member %s belongs to a branch outside your scope', p_member_external_id)
           WHEN 3 THEN format('no rule "%s" applies to %s', p_rule_code,
                              coalesce('member ' || p_member_external_id, 'household ' || p_household_ref))
           WHEN 4 THEN format('occurredAt: rule "%s" version %s is valid from %s to %s', p_rule_code, p_rule_version,
                              coalesce(p_valid_from::text, 'the beginning'), coalesce(p_valid_to::text, 'no end'))
           WHEN 5 THEN format('rule "%s" needs approval: submit a claim instead of awarding directly', p_rule_code)
           WHEN 6 THEN format('client %s may not apply rule "%s"', p_sub, p_rule_code)
           WHEN 7 THEN format('quantity: %s is too small, rule "%s" would give nothing', p_qty, p_rule_code)
           WHEN 8 THEN format('no household with externalId "%s" in this bank', p_household_ref)
           WHEN 9 THEN format('household %s belongs to a branch outside your scope', p_household_ref)
           WHEN 10 THEN format('rule "%s" credits a member, not a household: name the member (memberId or externalId)', p_rule_code)
           WHEN 11 THEN format('member %s is in no household; rule "%s" credits the member''s household', p_member_external_id, p_rule_code)
         END
    FROM (SELECT CASE
            WHEN p_household_ref IS NOT NULL AND p_household_id IS NULL THEN 8
            WHEN p_household_ref IS NULL AND p_member_id IS NULL THEN 1
            WHEN NOT starts_with(p_member_path, p_scope_path) THEN CASE WHEN p_household_ref IS NULL THEN 2 ELSE 9 END
            WHEN p_rule_id IS NULL THEN 3
            WHEN p_household_ref IS NOT NULL AND p_beneficiary <> 'HOUSEHOLD' THEN 10
            WHEN p_beneficiary = 'HOUSEHOLD' AND p_household_id IS NULL THEN 11
            WHEN (p_valid_from IS NOT NULL AND p_occurred < p_valid_from) OR (p_valid_to IS NOT NULL AND p_occurred >= p_valid_to) THEN 4
            -- cb_approve_claim sets cb.approving_claim while it posts an approved claim (claims/sql/approve_claim.sql).
            WHEN p_requires_approval AND current_setting('cb.approving_claim', true) IS DISTINCT FROM 'on' THEN 5
            WHEN p_role = 'client' AND cardinality(p_allowed_clients) > 0 AND NOT (p_sub = ANY (p_allowed_clients)) THEN 6
            WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p_outputs) x JOIN assets a ON a.code = x.value->>'asset'
                          WHERE trunc(p_qty * (x.value->>'amountPerUnit')::numeric, a.scale) = 0) THEN 7
          END AS n
          -- OFFSET 0: n is worked out once; pulled up, the CASE (and its subquery) ran once per output column.
          OFFSET 0) f
$fn$;
