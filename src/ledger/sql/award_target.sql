-- cb_award_target: the member an award names (by id or externalId) with its branch path, and the rule
-- it applies: the deepest branch on the member's path that defines the code wins, its latest version
-- applies. No row: no such member. The primary output's amount is what caps with maxAmount count.

CREATE OR REPLACE FUNCTION cb_award_target(
  p_head bigint, p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric)
RETURNS TABLE (
  member_id bigint, member_external_id text, branch_id bigint, member_path text, rule_id bigint, rule_version integer,
  outputs jsonb, caps jsonb, valid_from timestamptz, valid_to timestamptz, requires_approval boolean,
  allowed_clients text[], primary_amount numeric, primary_asset text)
LANGUAGE sql STABLE AS $fn$
  SELECT m.id, m.external_id, m.branch_id, m.path, r.id, r.version, r.outputs, r.caps, r.valid_from, r.valid_to,
         r.requires_approval, r.allowed_clients, p.amount, p.asset
    FROM (SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE p_member_ref IS NOT NULL AND m.head_id = p_head AND m.id = p_member_ref
          UNION ALL
          SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE p_member_ref IS NULL AND m.head_id = p_head AND m.external_id = p_external_ref) m
    LEFT JOIN LATERAL (
      SELECT r.* FROM rules r JOIN branches rb ON rb.id = r.branch_id
       WHERE r.head_id = p_head AND r.code = p_rule_code AND starts_with(m.path, rb.path)
       ORDER BY rb.depth DESC, r.version DESC LIMIT 1) r ON true
    LEFT JOIN LATERAL (
      SELECT trunc(p_qty * (r.outputs->0->>'amountPerUnit')::numeric, a.scale) AS amount, a.code AS asset
        FROM assets a WHERE a.code = r.outputs->0->>'asset') p ON r.id IS NOT NULL
$fn$;
