-- cb_unfolded_household_postings: the journal's tail that household_rollups (migration 073) does not
-- hold yet, grouped as the rollup groups it: POSTED transactions with p_from <= txid (< p_below), their
-- postings on household wallets (户), by head bank, household, its wallet's branch now, asset, month of
-- occurredAt in the bank's time zone, and kind. A household report reads the rollup rows plus these;
-- the fold (cb_fold_household_rollups, from cb_fold_rollups) adds them to the rollup and the cursor moves.

-- The same cursor as the member rollups' (rollup_fold) and the same rules (cb_unfolded_postings): p_from
-- NULL reads the cursor in the caller's snapshot, so a transaction is either folded or here, never both,
-- never neither; p_head NULL: every head bank (the fold). Planned per call with the bounds as values, so
-- the index transactions_unfolded reads only the tail.
CREATE OR REPLACE FUNCTION cb_unfolded_household_postings(p_head bigint, p_below bigint DEFAULT NULL, p_from bigint DEFAULT NULL)
RETURNS TABLE (head_id bigint, household_id bigint, branch_id bigint, asset_code text, month date, kind text, amount numeric, postings bigint)
LANGUAGE plpgsql STABLE ROWS 20 AS $fn$
DECLARE
  v_from bigint := coalesce(p_from, (SELECT f.folded_below FROM rollup_fold f));
BEGIN
  -- Mostly there is nothing to read: one index probe, nothing planned.
  IF (SELECT t.txid FROM transactions t WHERE t.txid >= v_from AND (p_head IS NULL OR t.head_id = p_head)
       ORDER BY t.txid LIMIT 1) IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT t.head_id, a.owner_id, a.branch_id, p.asset_code,
           date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date, t.kind, sum(p.amount), count(*)
      FROM transactions t
      JOIN branches hb ON hb.id = t.head_id
      JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at
      JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'HOUSEHOLD'
     WHERE t.txid >= %s AND t.status = 'POSTED'%s%s
     GROUP BY 1, 2, 3, 4, 5, 6$q$,
    v_from,
    CASE WHEN p_below IS NULL THEN '' ELSE format(' AND t.txid < %s', p_below) END,
    CASE WHEN p_head IS NULL THEN '' ELSE format(' AND t.head_id = %s', p_head) END);
END
$fn$;
