-- cb_transaction_category: the category a transaction's postings count under in the rollups: the
-- rule's category for awards; for a reversal, the category of what it reverses; else the kind in lower case.
-- cb_unfolded_postings (the tail the fold and the reports read) writes the same rule out in its query,
-- per transaction; the rollup check (src/reports/rollups.ts) computes with this function and finds any difference.

CREATE OR REPLACE FUNCTION cb_transaction_category(p_head bigint, p_rule bigint, p_kind text, p_reverses bigint)
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(
    (SELECT r.category FROM rules r WHERE r.head_id = p_head AND r.id = p_rule),
    (SELECT coalesce(r.category, lower(o.kind)) FROM transactions o LEFT JOIN rules r ON r.head_id = o.head_id AND r.id = o.rule_id
      WHERE p_reverses IS NOT NULL AND o.head_id = p_head AND o.id = p_reverses),
    lower(p_kind))
$fn$;
