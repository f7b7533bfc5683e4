-- cb_unfolded_postings: the journal's tail that the rollups do not hold yet, grouped as the rollups
-- group it: POSTED transactions with p_from <= txid (< p_below), their postings on member wallets, by
-- head bank, member, its wallet's branch now, asset, month of occurredAt in the bank's time zone
-- (and its year), kind and category. A report reads the rollup rows plus these; the fold
-- (cb_fold_rollups) adds them to the rollup rows and moves the cursor.

-- p_from NULL: from the fold's cursor (rollup_fold), read in the caller's snapshot (a STABLE function
-- runs in its calling statement's snapshot), so rows and cursor agree: a transaction is either folded
-- or here, never both, never neither. p_head NULL: every head bank (the fold). p_below NULL: up to the
-- newest transaction the snapshot sees.
-- The category is cb_transaction_category's, written out (no function run per posting): the rule's
-- category for an award; for a reversal, the category of what it reverses (its rule's, else its kind
-- in lower case); else the kind in lower case. The rollup check (src/reports/rollups.ts) computes it
-- with cb_transaction_category and must find no difference.
-- Planned once per connection (a generic plan; issue 14): planning the query on every call cost a
-- report or a fold about 1 ms of CPU whatever the tail's size. The plan does not depend on how many
-- transactions the tail holds (the planner never knows: a batch's transactions share one txid): the
-- tail's transactions are read by the index transactions_unfolded between two bounds, and every table
-- after them is probed by its primary key once per transaction (LATERAL ... OFFSET 0 keeps each a
-- probe; joined freely, a plan that guessed a few dozen transactions hashed every posting of the month
-- to find the tail's). A transaction's postings are recorded at its recorded_at (every writer;
-- cb_transactions_json reads them so too): one partition each.
CREATE OR REPLACE FUNCTION cb_unfolded_postings(p_head bigint, p_below bigint DEFAULT NULL, p_from bigint DEFAULT NULL)
RETURNS TABLE (head_id bigint, member_id bigint, branch_id bigint, asset_code text, month date, year date,
               kind text, category text, amount numeric, postings bigint)
LANGUAGE plpgsql STABLE ROWS 100 SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_from bigint := coalesce(p_from, (SELECT f.folded_below FROM rollup_fold f));
  v_below bigint;
BEGIN
  -- Mostly there is nothing to read (a report on a quiet bank): one index probe.
  -- (ORDER BY txid: the index, whatever the generic plan estimates for txid >= $1.)
  IF (SELECT t.txid FROM transactions t WHERE t.txid >= v_from AND (p_head IS NULL OR t.head_id = p_head)
       ORDER BY t.txid LIMIT 1) IS NULL THEN
    RETURN;
  END IF;
  -- Two bounds: a generic plan estimates a range of txid as a small share of the journal (one bound
  -- alone as a third of it, and would read it whole).
  v_below := coalesce(p_below, (SELECT t.txid + 1 FROM transactions t ORDER BY t.txid DESC LIMIT 1));
  RETURN QUERY
    SELECT t.head_id, a.owner_id, a.branch_id, p.asset_code, z.month, date_trunc('year', z.month)::date,
           t.kind, c.category, sum(p.amount), count(*)
      FROM transactions t
      CROSS JOIN LATERAL (SELECT date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month
                            FROM branches hb WHERE hb.id = t.head_id OFFSET 0) z
      CROSS JOIN LATERAL (SELECT coalesce((SELECT r.category FROM rules r WHERE r.head_id = t.head_id AND r.id = t.rule_id),
                                          (SELECT coalesce(r.category, lower(o.kind)) FROM transactions o
                                             LEFT JOIN rules r ON r.head_id = o.head_id AND r.id = o.rule_id
                                            WHERE o.head_id = t.head_id AND o.id = t.reverses_id),
                                          lower(t.kind)) AS category OFFSET 0) c
      JOIN LATERAL (SELECT p.account_id, p.asset_code, p.amount FROM postings p
                     WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at OFFSET 0) p ON true
      JOIN LATERAL (SELECT a.owner_id, a.branch_id FROM accounts a
                     WHERE a.head_id = t.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER' OFFSET 0) a ON true
     WHERE t.txid >= v_from AND t.txid < v_below AND t.status = 'POSTED' AND (p_head IS NULL OR t.head_id = p_head)
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
END
$fn$;
