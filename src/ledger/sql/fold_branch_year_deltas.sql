-- cb_fold_branch_year_deltas: the settler (src/ledger/settle.ts) takes no more than p_limit branch deltas
-- (SKIP LOCKED: several settlers side by side) and adds them to their branch_year_rollups rows, in key
-- order, in one statement: each delta is folded exactly once, so branch figures stay exact.

CREATE OR REPLACE FUNCTION cb_fold_branch_year_deltas(p_limit integer)
RETURNS integer LANGUAGE sql AS $fn$
  WITH taken AS (
         DELETE FROM branch_year_deltas WHERE (head_id, id) IN (
           SELECT head_id, id FROM branch_year_deltas LIMIT p_limit FOR UPDATE SKIP LOCKED)
         RETURNING *),
       folded AS (
         INSERT INTO branch_year_rollups AS b (head_id, branch_id, asset_code, year,
                                               earned, deducted, redeemed, reversed, net, postings, active_members)
         SELECT t.head_id, t.branch_id, t.asset_code, t.year,
                sum(t.earned), sum(t.deducted), sum(t.redeemed), sum(t.reversed), sum(t.net), sum(t.postings), sum(t.active_members)
           FROM taken t GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
         ON CONFLICT (head_id, branch_id, asset_code, year)
         DO UPDATE SET earned = b.earned + excluded.earned, deducted = b.deducted + excluded.deducted,
                       redeemed = b.redeemed + excluded.redeemed, reversed = b.reversed + excluded.reversed,
                       net = b.net + excluded.net, postings = b.postings + excluded.postings,
                       active_members = b.active_members + excluded.active_members)
  SELECT count(*)::int FROM taken
$fn$;
