-- cb_award_refusal: the first check that refuses an award, in this order, with its code, field and
-- message (all NULL when none does): member, scope, rule, validity, approval, client, quantity. The
-- target's columns are cb_award_target's (NULL: no such member). Shared by the batch and the single award.

CREATE OR REPLACE FUNCTION cb_award_refusal(
  p_sub text, p_role text, p_scope_path text, p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric,
  p_occurred timestamptz, p_member_id bigint, p_member_external_id text, p_member_path text, p_rule_id bigint,
  p_rule_version integer, p_valid_from timestamptz, p_valid_to timestamptz, p_requires_approval boolean,
  p_allowed_clients text[], p_outputs jsonb)
RETURNS TABLE (code text, field text, message text) LANGUAGE sql STABLE AS $fn$
  SELECT (ARRAY['NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INVALID_STATE', 'FORBIDDEN', 'BAD_USER_INPUT'])[f.n],
         (ARRAY['member', 'member', 'rule', 'occurredAt', 'rule', 'rule', 'quantity'])[f.n],
         CASE f.n
           WHEN 1 THEN format('no member %s in this bank', coalesce('with id ' || p_member_ref, 'with externalId "' || p_external_ref || '"'))
           WHEN 2 THEN format('member %s belongs to a branch outside your scope', p_member_external_id)
           WHEN 3 THEN format('no rule "%s" applies to member %s', p_rule_code, p_member_external_id)
           WHEN 4 THEN format('occurredAt: rule "%s" version %s is valid from %s to %s', p_rule_code, p_rule_version,
                              coalesce(p_valid_from::text, 'the beginning'), coalesce(p_valid_to::text, 'no end'))
           WHEN 5 THEN format('rule "%s" needs approval: submit a claim instead of awarding directly', p_rule_code)
           WHEN 6 THEN format('client %s may not apply rule "%s"', p_sub, p_rule_code)
           WHEN 7 THEN format('quantity: %s is too small, rule "%s" would give nothing', p_qty, p_rule_code)
         END
    FROM (SELECT CASE
            WHEN p_member_id IS NULL THEN 1
            WHEN NOT starts_with(p_member_path, p_scope_path) THEN 2
            WHEN p_rule_id IS NULL THEN 3
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
