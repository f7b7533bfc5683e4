-- cb_award_target: the party an award names, with its branch path, and the rule it applies: the
-- deepest branch on the party's path that defines the code wins, its latest version applies. The party
-- is a member (by id or externalId) or, for a HOUSEHOLD rule, a household (by externalId, migration 072).
-- A HOUSEHOLD rule credits a household: the one named, or the named member's current one (NULL when the
-- member is in none: cb_award_refusal says so). A MEMBER rule never looks a household up, and the
-- household lookups are plpgsql functions behind one-time filters (cb_household_party,
-- cb_member_household), so a member award's plan holds no household table and costs what it did. No
-- row: no such member or household. The primary output's amount is what
-- caps with maxAmount count.

DROP FUNCTION IF EXISTS cb_award_target(bigint, bigint, text, text, numeric);
CREATE OR REPLACE FUNCTION cb_award_target(
  p_head bigint, p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric, p_household_ref text)
RETURNS TABLE (
  member_id bigint, member_external_id text, branch_id bigint, member_path text, rule_id bigint, rule_version integer,
  outputs jsonb, caps jsonb, valid_from timestamptz, valid_to timestamptz, requires_approval boolean,
  allowed_clients text[], primary_amount numeric, primary_asset text,
  household_id bigint, household_external_id text, beneficiary text)
LANGUAGE sql STABLE AS $fn$
  SELECT m.id, m.external_id, m.branch_id, m.path, r.id, r.version, r.outputs, r.caps, r.valid_from, r.valid_to,
         r.requires_approval, r.allowed_clients, p.amount, p.asset,
         coalesce(m.household_id, h.id), coalesce(m.household_external_id, h.external_id), r.beneficiary
    FROM (SELECT m.id, m.external_id, m.branch_id, b.path, NULL::bigint AS household_id, NULL::text AS household_external_id
            FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE p_member_ref IS NOT NULL AND m.head_id = p_head AND m.id = p_member_ref
          UNION ALL
          SELECT m.id, m.external_id, m.branch_id, b.path, NULL, NULL FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE p_member_ref IS NULL AND p_household_ref IS NULL AND m.head_id = p_head AND m.external_id = p_external_ref
          UNION ALL
          SELECT NULL, NULL, x.branch_id, x.path, x.household_id, x.household_external_id
            FROM cb_household_party(p_head, p_household_ref) x WHERE p_household_ref IS NOT NULL) m
    LEFT JOIN LATERAL (
      SELECT r.* FROM rules r JOIN branches rb ON rb.id = r.branch_id
       WHERE r.head_id = p_head AND r.code = p_rule_code AND starts_with(m.path, rb.path)
       ORDER BY rb.depth DESC, r.version DESC LIMIT 1) r ON true
    LEFT JOIN LATERAL (
      SELECT trunc(p_qty * (r.outputs->0->>'amountPerUnit')::numeric, a.scale) AS amount, a.code AS asset
        FROM assets a WHERE a.code = r.outputs->0->>'asset') p ON r.id IS NOT NULL
    -- The member's current household, only for a household rule (household_members_current).
    LEFT JOIN LATERAL (
      SELECT x.household_id AS id, x.household_external_id AS external_id FROM cb_member_household(p_head, m.id) x
       WHERE r.beneficiary = 'HOUSEHOLD' AND m.id IS NOT NULL
       OFFSET 0) h ON true
$fn$;
