-- cb_rollup_inserted_postings: the trigger function of postings_rollup. Adds a statement's postings on
-- member wallets of POSTED transactions to the monthly and yearly member rollups and appends their
-- branch deltas, in the same database transaction as the postings: reports stay exact for every writer.

-- One statement per firing: the postings are grouped once (by month; the category as
-- cb_transaction_category, written as joins so that the planner sees them), the months are upserted
-- into member_rollups and their sums by year into member_year_rollups, each in key order, so two
-- writers never take the same rollup rows in opposite orders. A member becomes active in a year for
-- an asset when its first yearly row of that asset and year is written (firsts: every part of one
-- statement sees the rollups as they were before it). Branch figures are appended to
-- branch_year_deltas (a plain INSERT that never waits) and folded by the settler. No hot row: only
-- member wallets are rolled up, by writes that already lock them. plpgsql: plans made once per connection.
CREATE OR REPLACE FUNCTION cb_rollup_inserted_postings()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH monthly AS (
         SELECT p.head_id, a.owner_id AS member_id, a.branch_id, p.asset_code,
                date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month, t.kind AS kind,
                coalesce(tr.category, orr.category, lower(o.kind), lower(t.kind)) AS category, sum(p.amount) AS amount, count(*) AS postings
           FROM new_postings p
           JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
           JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id AND t.status = 'POSTED'
           JOIN branches hb ON hb.id = p.head_id
           LEFT JOIN rules tr ON tr.head_id = t.head_id AND tr.id = t.rule_id
           LEFT JOIN transactions o ON o.head_id = t.head_id AND o.id = t.reverses_id
           LEFT JOIN rules orr ON orr.head_id = o.head_id AND orr.id = o.rule_id
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
  RETURN NULL;
END
$fn$;
