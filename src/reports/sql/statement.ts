// A member's statement for a period: totals per asset from rollups and the unfolded tail (opening balance before the
// period, net movement in it, closing), and the movements themselves from the member's postings.
// Bindings: head, member, from, to (months, bank time zone), limit.
export const statementTotalsSql = `
  SELECT r.asset_code, coalesce(sum(r.amount) FILTER (WHERE r.month < :from::date), 0)::text AS opening,
         coalesce(sum(r.amount) FILTER (WHERE r.month >= :from::date), 0)::text AS net,
         coalesce(sum(r.postings) FILTER (WHERE r.month >= :from::date), 0) AS postings
    FROM (SELECT r.asset_code, r.month, r.amount, r.postings FROM member_rollups r WHERE r.head_id = :head AND r.member_id = :member
          UNION ALL
          SELECT r.asset_code, r.month, r.amount, r.postings FROM cb_unfolded_postings(:head) r WHERE r.member_id = :member) r
   WHERE r.month < :to::date
   GROUP BY 1 ORDER BY 1`;

export const statementMovementsSql = `
  SELECT t.id::text AS transaction_id, t.kind, t.occurred_at, p.asset_code, p.amount::text AS amount,
         cb_transaction_category(t.head_id, t.rule_id, t.kind, t.reverses_id) AS category, t.memo
    FROM accounts a
    JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
    JOIN branches hb ON hb.id = a.head_id
   WHERE a.head_id = :head AND a.owner_type = 'MEMBER' AND a.owner_id = :member AND t.status = 'POSTED'
     AND t.occurred_at >= (:from::date::timestamp AT TIME ZONE hb.time_zone) AND t.occurred_at < (:to::date::timestamp AT TIME ZONE hb.time_zone)
   ORDER BY t.occurred_at, t.id, p.line
   LIMIT :limit`;
