-- cb_transaction_object: a transaction as the API reads it, with its postings already built
-- (cb_posting_object); shared by reads and by cb_award_one's answer, so both show the same JSON.

CREATE OR REPLACE FUNCTION cb_transaction_object(t transactions, p_postings jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT jsonb_build_object(
    'id', t.id::text, 'kind', t.kind, 'status', t.status, 'branchId', t.branch_id::text,
    'memberId', t.member_id::text, 'householdId', t.household_id::text, 'ruleId', t.rule_id::text,
    'principalSub', t.principal_sub, 'principalRole', t.principal_role,
    'occurredAt', t.occurred_at, 'recordedAt', t.recorded_at, 'memo', t.memo, 'metadata', t.metadata,
    'reason', t.reason, 'reversesId', t.reverses_id::text, 'forced', t.forced, 'postings', p_postings)
$fn$;
