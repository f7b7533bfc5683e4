-- cb_post_entry: a generic journal entry (transfer, adjustment, reversal). The caller has checked scope
-- and built balanced lines; this claims the key (invariant 4), records the transaction and posts the
-- lines through cb_post_lines (invariants 1-3). A reversal of a household's transaction names the
-- household (householdId), as the original did.

CREATE OR REPLACE FUNCTION cb_post_entry(
  p_head bigint, p_sub text, p_role text, p_key text, p_operation text, p_hash text, p_entry jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_txn bigint := nextval('transactions_id_seq');
  v_previous bigint;
  v_now timestamptz := now();
BEGIN
  v_previous := cb_claim_key(p_head, p_sub, p_key, p_operation, p_hash, v_txn);
  IF v_previous IS NOT NULL THEN
    RETURN jsonb_build_object('replayed', true, 'transactionId', v_previous::text);
  END IF;
  INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                            occurred_at, recorded_at, memo, metadata, reason, reverses_id, forced, household_id)
  VALUES (p_head, v_txn, p_entry->>'kind', 'POSTED', (p_entry->>'branchId')::bigint, (p_entry->>'memberId')::bigint,
          p_sub, p_role, coalesce((p_entry->>'occurredAt')::timestamptz, v_now), v_now,
          p_entry->>'memo', p_entry->'metadata', p_entry->>'reason', (p_entry->>'reversesId')::bigint,
          coalesce((p_entry->>'forced')::boolean, false), (p_entry->>'householdId')::bigint);
  PERFORM cb_post_lines(p_head, v_txn, v_now, p_entry->'lines', coalesce((p_entry->>'forced')::boolean, false));
  RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
END
$fn$;
