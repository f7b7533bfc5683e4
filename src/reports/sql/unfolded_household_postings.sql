-- cb_unfolded_household_postings: the journal's tail that household_rollups (migration 073) does not
-- hold yet, grouped as the rollup groups it: POSTED transactions with p_from <= txid (< p_below), their
-- postings on household wallets (户), by head bank, household, its wallet's branch now, asset, month of
-- occurredAt in the bank's time zone, and kind. A household report reads the rollup rows plus these;
-- the fold (cb_fold_household_rollups, from cb_fold_rollups) adds them to the rollup and the cursor moves.

-- The same cursor as the member rollups' (rollup_fold) and the same rules (cb_unfolded_postings): p_from
-- NULL reads the cursor in the caller's snapshot, so a transaction is either folded or here, never both,
-- never neither; p_head NULL: every head bank (the fold). Planned once per connection, as
-- cb_unfolded_postings and for its reasons: two txid bounds, then each table probed by its primary key
-- per transaction (with the time zone joined beside the postings, the planner merged every posting
-- with every account of the head bank to find a small tail's).
CREATE OR REPLACE FUNCTION cb_unfolded_household_postings(p_head bigint, p_below bigint DEFAULT NULL, p_from bigint DEFAULT NULL)
RETURNS TABLE (head_id bigint, household_id bigint, branch_id bigint, asset_code text, month date, kind text, amount numeric, postings bigint)
LANGUAGE plpgsql STABLE ROWS 20 SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_from bigint := coalesce(p_from, (SELECT f.folded_below FROM rollup_fold f));
  v_below bigint;
BEGIN
  -- Mostly there is nothing to read: one index probe.
  IF (SELECT t.txid FROM transactions t WHERE t.txid >= v_from AND (p_head IS NULL OR t.head_id = p_head)
       ORDER BY t.txid LIMIT 1) IS NULL THEN
    RETURN;
  END IF;
  v_below := coalesce(p_below, (SELECT t.txid + 1 FROM transactions t ORDER BY t.txid DESC LIMIT 1));
  RETURN QUERY
    SELECT t.head_id, a.owner_id, a.branch_id, p.asset_code, z.month, t.kind, sum(p.amount), count(*)
      FROM transactions t
      CROSS JOIN LATERAL (SELECT date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month
                            FROM branches hb WHERE hb.id = t.head_id OFFSET 0) z
      JOIN LATERAL (SELECT p.account_id, p.asset_code, p.amount FROM postings p
                     WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at OFFSET 0) p ON true
      JOIN LATERAL (SELECT a.owner_id, a.branch_id FROM accounts a
                     WHERE a.head_id = t.head_id AND a.id = p.account_id AND a.owner_type = 'HOUSEHOLD' OFFSET 0) a ON true
     WHERE t.txid >= v_from AND t.txid < v_below AND t.status = 'POSTED' AND (p_head IS NULL OR t.head_id = p_head)
     GROUP BY 1, 2, 3, 4, 5, 6;
END
$fn$;
