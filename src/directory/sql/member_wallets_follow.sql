-- cb_member_wallets_follow: the trigger function of members_wallets_follow. A member moved to another
-- branch takes its wallets along (a member wallet is in its member's branch), then its yearly sums:
-- appended negated to its old branch's deltas and as they are to its new one's, so branch rollups stay exact.

-- The wallets first, so that a write in flight on them finishes. Then the fold's cursor FOR SHARE
-- (migration 062): a fold running now finishes first (its rows, read next in a new snapshot, move
-- with the member) and none starts until this commits (its rows then land in the new branch), so
-- every posting of the member is in exactly one branch's figures. The figures are summed as
-- cb_fold_rollups sums them (src/reports/sql/fold_rollups.sql).
CREATE OR REPLACE FUNCTION cb_member_wallets_follow()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE accounts SET branch_id = NEW.branch_id
   WHERE head_id = NEW.head_id AND owner_type = 'MEMBER' AND owner_id = NEW.id AND branch_id <> NEW.branch_id;
  PERFORM 1 FROM rollup_fold FOR SHARE;
  INSERT INTO branch_year_deltas (head_id, branch_id, asset_code, year,
                                  earned, deducted, redeemed, reversed, net, postings, active_members)
  SELECT NEW.head_id, s.branch_id, y.asset_code, y.year,
         s.sign * y.earned, s.sign * y.deducted, s.sign * y.redeemed, s.sign * y.reversed, s.sign * y.net, s.sign * y.postings, s.sign
    FROM (SELECT y.asset_code, y.year,
                 coalesce(sum(y.amount) FILTER (WHERE y.kind = 'EARN'), 0), coalesce(sum(y.amount) FILTER (WHERE y.kind = 'DEDUCT'), 0),
                 coalesce(sum(y.amount) FILTER (WHERE y.kind = 'REDEEM'), 0), coalesce(sum(y.amount) FILTER (WHERE y.kind = 'REVERSAL'), 0),
                 coalesce(sum(y.amount), 0), sum(y.postings), 1
            FROM member_year_rollups y WHERE y.head_id = NEW.head_id AND y.member_id = NEW.id
           GROUP BY 1, 2) y (asset_code, year, earned, deducted, redeemed, reversed, net, postings, active)
    CROSS JOIN (VALUES (OLD.branch_id, -1), (NEW.branch_id, 1)) s (branch_id, sign);
  RETURN NULL;
END
$fn$;
