-- cb_rollup_status_change: the trigger function of transactions_rollup_status. A transaction that becomes
-- POSTED after its postings were written (a redemption fulfilled) is rolled up then, as
-- cb_rollup_inserted_postings rolls up postings; leaving POSTED is asserted never to happen.

-- Leaving POSTED is not a status change the ledger makes (corrections are reversals): asserted, so that
-- rollups can never silently drift. The rows written are cb_rollup_inserted_postings's, grouped the same way.
CREATE OR REPLACE FUNCTION cb_rollup_status_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM cb_assert(OLD.status <> 'POSTED', format('transaction %s changed from POSTED to %s', OLD.id, NEW.status));
  IF NEW.status = 'POSTED' THEN
    -- The member wallets first, as every other rollup write holds them: a member moved to
    -- another branch meanwhile (which takes its wallets) cannot leave its deltas in the old one.
    -- Every account that is not deferred, in id order, as cb_fulfill_redemption locks them next.
    PERFORM 1 FROM accounts a
     WHERE a.head_id = NEW.head_id AND NOT a.deferred_balance
       AND a.id IN (SELECT p.account_id FROM postings p WHERE p.head_id = NEW.head_id AND p.transaction_id = NEW.id)
     ORDER BY a.id FOR UPDATE;
    WITH monthly AS (
           SELECT p.head_id, a.owner_id AS member_id, a.branch_id, p.asset_code,
                  date_trunc('month', NEW.occurred_at AT TIME ZONE hb.time_zone)::date AS month, NEW.kind AS kind,
                  cb_transaction_category(NEW.head_id, NEW.rule_id, NEW.kind, NEW.reverses_id) AS category,
                  sum(p.amount) AS amount, count(*) AS postings
             FROM postings p
             JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
             JOIN branches hb ON hb.id = p.head_id
            -- By transaction only (a probe per partition, for a rare event): a writer need not have
            -- given its postings exactly the transaction's recorded_at.
            WHERE p.head_id = NEW.head_id AND p.transaction_id = NEW.id
            GROUP BY 1, 2, 3, 4, 5, 6, 7),
         firsts AS (
           SELECT DISTINCT m.head_id, m.member_id, m.branch_id, m.asset_code, date_trunc('year', m.month)::date AS year
             FROM monthly m
            WHERE NOT EXISTS (SELECT 1 FROM member_year_rollups y
                               WHERE y.head_id = m.head_id AND y.member_id = m.member_id AND y.asset_code = m.asset_code
                                 AND y.year = date_trunc('year', m.month)::date)),
         months AS (
           INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
           SELECT m.head_id, m.member_id, m.asset_code, m.month, m.kind, m.category, m.amount, m.postings
             FROM monthly m ORDER BY 1, 2, 3, 4, 5, 6
           ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
           DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings),
         years AS (
           INSERT INTO member_year_rollups AS y (head_id, member_id, asset_code, year, kind, category, amount, postings)
           SELECT m.head_id, m.member_id, m.asset_code, date_trunc('year', m.month)::date, m.kind, m.category, sum(m.amount), sum(m.postings)
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
      FROM (SELECT m.head_id, m.branch_id, m.asset_code, date_trunc('year', m.month)::date AS year, m.kind, m.amount, m.postings, 0 AS active
              FROM monthly m
            UNION ALL
            SELECT f.head_id, f.branch_id, f.asset_code, f.year, NULL, NULL, 0, 1
              FROM firsts f) x
     GROUP BY 1, 2, 3, 4;
  END IF;
  RETURN NULL;
END
$fn$;
