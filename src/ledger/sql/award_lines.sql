-- cb_award_lines: the postings of the accepted award items. Per output, the wallet credited (the
-- member's, or for a HOUSEHOLD rule the household's: migration 072) and the branch's issuance (credit)
-- or penalty (deduction) account, for equal and opposite amounts (invariant 1).

CREATE OR REPLACE FUNCTION cb_award_lines(p_head bigint, p_items cb_award_item[], p_errors jsonb)
RETURNS SETOF cb_award_line LANGUAGE sql STABLE AS $fn$
  SELECT i.ord, i.txn_id, acc.id, a.code, a.scale, side.amount, acc.deferred_balance, acc.allow_negative, i.member_external_id,
         i.household_external_id
    FROM cb_award_accepted(p_items, p_errors) i
    CROSS JOIN LATERAL jsonb_array_elements(i.outputs) o
    JOIN assets a ON a.code = o.value->>'asset'
    CROSS JOIN LATERAL (SELECT o.value->>'direction' = 'DEDUCT' AS deduct,
                               trunc(i.qty * (o.value->>'amountPerUnit')::numeric, a.scale) AS amount) x
    CROSS JOIN LATERAL (VALUES
      (CASE WHEN i.household_id IS NULL THEN 'MEMBER' ELSE 'HOUSEHOLD' END, coalesce(i.household_id, i.member_id), 'WALLET',
       CASE WHEN x.deduct THEN -x.amount ELSE x.amount END),
      ('SYSTEM', i.branch_id, CASE WHEN x.deduct THEN 'PENALTY' ELSE 'ISSUANCE' END, CASE WHEN x.deduct THEN x.amount ELSE -x.amount END)
    ) side (owner_type, owner_id, purpose, amount)
    -- A lateral probe of accounts_owner_unique per line: the planner cannot estimate the items.
    CROSS JOIN LATERAL (
      SELECT acc.id, acc.deferred_balance, acc.allow_negative FROM accounts acc
       WHERE acc.head_id = p_head AND acc.owner_type = side.owner_type AND acc.owner_id = side.owner_id
         AND acc.asset_code = a.code AND acc.purpose = side.purpose
       LIMIT 1) acc
$fn$;
