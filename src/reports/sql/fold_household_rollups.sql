-- cb_fold_household_rollups: the household part of the settler's fold (cb_fold_rollups calls it with
-- the interval it folds, p_from <= txid < p_below, inside its database transaction and under its lock
-- on the cursor): the household postings of that interval are added to household_rollups (migration
-- 073). The cursor is cb_fold_rollups' to move, so each transaction's household postings are folded
-- exactly once, together with its member postings. Keys in a fixed order: no deadlock between folds.
CREATE OR REPLACE FUNCTION cb_fold_household_rollups(p_from bigint, p_below bigint)
RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO household_rollups AS r (head_id, household_id, asset_code, month, kind, amount, postings)
  SELECT u.head_id, u.household_id, u.asset_code, u.month, u.kind, sum(u.amount), sum(u.postings)
    FROM cb_unfolded_household_postings(NULL, p_below, p_from) u
   GROUP BY 1, 2, 3, 4, 5
   ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (head_id, household_id, asset_code, month, kind)
  DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings;
$fn$;
