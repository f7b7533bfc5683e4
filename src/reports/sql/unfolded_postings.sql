-- cb_unfolded_postings: the journal's tail that the rollups do not hold yet, grouped as the rollups
-- group it: POSTED transactions with p_from <= txid (< p_below), their postings on member wallets, by
-- head bank, member, its wallet's branch now, asset, month of occurredAt in the bank's time zone
-- (and its year), kind and category (cb_transaction_category). A report reads the
-- rollup rows plus these; the fold (cb_fold_rollups) adds them to the rollup rows and moves the cursor.

-- p_from NULL: from the fold's cursor (rollup_fold), read in the caller's snapshot (a STABLE function
-- runs in its calling statement's snapshot), so rows and cursor agree: a transaction is either folded
-- or here, never both, never neither. p_head NULL: every head bank (the fold). Planned for each call
-- with the cursor as a value (EXECUTE), so that the index transactions_unfolded reads only the tail
-- (a generic plan would estimate a third of the journal for txid >= $1). A transaction's postings are
-- recorded at its recorded_at (every writer; cb_transactions_json reads them so too): one partition each.
-- Three relations to join (the category and the time zone per row): planned on every call, the
-- query is kept cheap to plan; the tail is a settler's interval of writes.
CREATE OR REPLACE FUNCTION cb_unfolded_postings(p_head bigint, p_below bigint DEFAULT NULL, p_from bigint DEFAULT NULL)
RETURNS TABLE (head_id bigint, member_id bigint, branch_id bigint, asset_code text, month date, year date,
               kind text, category text, amount numeric, postings bigint)
LANGUAGE plpgsql STABLE ROWS 100 AS $fn$
DECLARE
  v_from bigint := coalesce(p_from, (SELECT f.folded_below FROM rollup_fold f));
BEGIN
  -- Mostly there is nothing to read (a report on a quiet bank): one index probe, nothing planned.
  -- (ORDER BY txid: the index, whatever the generic plan estimates for txid >= $1.)
  IF (SELECT t.txid FROM transactions t WHERE t.txid >= v_from AND (p_head IS NULL OR t.head_id = p_head)
       ORDER BY t.txid LIMIT 1) IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT t.head_id, a.owner_id, a.branch_id, p.asset_code, m.month, date_trunc('year', m.month)::date,
           t.kind, cb_transaction_category(t.head_id, t.rule_id, t.kind, t.reverses_id), sum(p.amount), count(*)
      FROM transactions t
      JOIN postings p ON p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at
      JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
      CROSS JOIN LATERAL (SELECT date_trunc('month', t.occurred_at AT TIME ZONE
                                   (SELECT hb.time_zone FROM branches hb WHERE hb.id = t.head_id))::date AS month) m
     WHERE t.txid >= %s AND t.status = 'POSTED'%s%s
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8$q$,
    v_from,
    CASE WHEN p_below IS NULL THEN '' ELSE format(' AND t.txid < %s', p_below) END,
    CASE WHEN p_head IS NULL THEN '' ELSE format(' AND t.head_id = %s', p_head) END);
END
$fn$;
