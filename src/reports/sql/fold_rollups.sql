-- cb_fold_rollups: the settler's fold of the journal into the report rollups (migration 062): the
-- POSTED postings on member wallets of transactions with folded_below <= txid < a bound are added to
-- member_rollups and member_year_rollups, their sums per branch, asset and year appended to
-- branch_year_deltas, and the cursor moved to the bound, in one database transaction: each
-- transaction is folded exactly once, and a crash anywhere before the commit leaves the cursor where
-- it was (the tail is the journal itself). Returns the number of transactions the bound passed.

-- One folder at a time: the cursor row is taken FOR UPDATE SKIP LOCKED (another folder, or a member
-- move, which takes it FOR SHARE: answer 0 and try again next round). The bound is at most the
-- horizon, the oldest transaction id still running (pg_snapshot_xmin): every transaction with a
-- smaller id has committed or aborted, so every later snapshot sees exactly the same ones of them,
-- however writers took their ids and committed. Read-only transactions take no id and never hold it
-- back; a long writing transaction does (the tail, which reports read, grows meanwhile). At most
-- about p_limit transactions per call (all of one database transaction's rows together). A member
-- counts in its wallet's branch at the fold, and becomes active in a year for an asset when its
-- first yearly row of that asset and year is written: the probe is exact because only the fold writes
-- the member rollups and folds run one at a time; it reads member_year_rollups by one member's key
-- (the primary key, or the period index, which ends with member_id since migration 078), once per
-- folded row: OFFSET 0 keeps the probe a probe (as a join, planned for the tail's estimated 100 rows,
-- it hashed the whole table on every fold: ~4 ms with 4,096 members, the most of a small fold). VOLATILE plpgsql: each statement takes a new
-- snapshot, so the one after the lock sees every fold before it.
CREATE OR REPLACE FUNCTION cb_fold_rollups(p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_from bigint;
  v_horizon bigint;
  v_first bigint;
  v_nth bigint;
  v_below bigint;
  v_passed integer;
BEGIN
  SELECT f.folded_below INTO v_from FROM rollup_fold f FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  v_horizon := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
  SELECT min(t.txid) INTO v_first FROM transactions t WHERE t.txid >= v_from AND t.txid < v_horizon;
  IF v_first IS NULL THEN
    -- Nothing below the horizon: the cursor moves up to it, so that tail reads start there.
    UPDATE rollup_fold SET folded_below = v_horizon, folded_at = now() WHERE folded_below < v_horizon;
    RETURN 0;
  END IF;
  SELECT t.txid INTO v_nth FROM transactions t WHERE t.txid >= v_from AND t.txid < v_horizon ORDER BY t.txid OFFSET p_limit LIMIT 1;
  v_below := CASE WHEN v_nth IS NULL THEN v_horizon ELSE greatest(v_nth, v_first + 1) END;
  SELECT count(*) INTO v_passed FROM transactions t WHERE t.txid >= v_from AND t.txid < v_below;

  WITH monthly AS (SELECT * FROM cb_unfolded_postings(NULL, v_below, v_from)),
       firsts AS (
         SELECT DISTINCT m.head_id, m.member_id, m.branch_id, m.asset_code, m.year
           FROM monthly m
          WHERE NOT EXISTS (SELECT 1 FROM member_year_rollups y
                             WHERE y.head_id = m.head_id AND y.member_id = m.member_id AND y.asset_code = m.asset_code AND y.year = m.year
                            OFFSET 0)),
       months AS (
         INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
         SELECT m.head_id, m.member_id, m.asset_code, m.month, m.kind, m.category, sum(m.amount), sum(m.postings)
           FROM monthly m
          GROUP BY 1, 2, 3, 4, 5, 6
          ORDER BY 1, 2, 3, 4, 5, 6
         ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
         DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings),
       years AS (
         INSERT INTO member_year_rollups AS y (head_id, member_id, asset_code, year, kind, category, amount, postings)
         SELECT m.head_id, m.member_id, m.asset_code, m.year, m.kind, m.category, sum(m.amount), sum(m.postings)
           FROM monthly m
          GROUP BY 1, 2, 3, 4, 5, 6
          ORDER BY 1, 2, 3, 4, 5, 6
         ON CONFLICT (head_id, member_id, asset_code, year, kind, category)
         DO UPDATE SET amount = y.amount + excluded.amount, postings = y.postings + excluded.postings)
  INSERT INTO branch_year_deltas (head_id, branch_id, asset_code, year,
                                  earned, deducted, redeemed, reversed, net, postings, active_members)
  SELECT x.head_id, x.branch_id, x.asset_code, x.year,
         coalesce(sum(x.amount) FILTER (WHERE x.kind = 'EARN'), 0), coalesce(sum(x.amount) FILTER (WHERE x.kind = 'DEDUCT'), 0),
         coalesce(sum(x.amount) FILTER (WHERE x.kind = 'REDEEM'), 0), coalesce(sum(x.amount) FILTER (WHERE x.kind = 'REVERSAL'), 0),
         coalesce(sum(x.amount), 0), sum(x.postings), sum(x.active)
    FROM (SELECT m.head_id, m.branch_id, m.asset_code, m.year, m.kind, m.amount, m.postings, 0 AS active
            FROM monthly m
          UNION ALL
          SELECT f.head_id, f.branch_id, f.asset_code, f.year, NULL, NULL, 0, 1
            FROM firsts f) x
   GROUP BY 1, 2, 3, 4;

  -- Household wallets' postings of the same interval into household_rollups (migration 073).
  PERFORM cb_fold_household_rollups(v_from, v_below);

  UPDATE rollup_fold SET folded_below = v_below, folded_at = now();
  RETURN v_passed;
END
$fn$;
