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

/** The movements of one owner's wallets; the owner is a member (:member) or a household (:household). */
const movementsSql = (ownerType: 'MEMBER' | 'HOUSEHOLD', ownerBinding: ':member' | ':household') => `
  SELECT t.id::text AS transaction_id, t.kind, t.occurred_at, p.asset_code, p.amount::text AS amount,
         cb_transaction_category(t.head_id, t.rule_id, t.kind, t.reverses_id) AS category, t.memo
    FROM accounts a
    JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
    JOIN branches hb ON hb.id = a.head_id
   WHERE a.head_id = :head AND a.owner_type = '${ownerType}' AND a.owner_id = ${ownerBinding} AND t.status = 'POSTED'
     AND t.occurred_at >= (:from::date::timestamp AT TIME ZONE hb.time_zone) AND t.occurred_at < (:to::date::timestamp AT TIME ZONE hb.time_zone)
   ORDER BY t.occurred_at, t.id, p.line
   LIMIT :limit`;

export const statementMovementsSql = movementsSql('MEMBER', ':member');

// A household's statement (户, migration 072): household wallets are in no rollup, so the totals are
// summed from the household's postings (a household has few; postings_account finds them) with the
// same rules as the member's: posted transactions, by occurredAt in the bank's calendar.
// Bindings: head, household, from, to, limit.
export const householdStatementTotalsSql = `
  SELECT p.asset_code,
         coalesce(sum(p.amount) FILTER (WHERE t.occurred_at < (:from::date::timestamp AT TIME ZONE hb.time_zone)), 0)::text AS opening,
         coalesce(sum(p.amount) FILTER (WHERE t.occurred_at >= (:from::date::timestamp AT TIME ZONE hb.time_zone)), 0)::text AS net,
         count(*) FILTER (WHERE t.occurred_at >= (:from::date::timestamp AT TIME ZONE hb.time_zone)) AS postings
    FROM accounts a
    JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
    JOIN branches hb ON hb.id = a.head_id
   WHERE a.head_id = :head AND a.owner_type = 'HOUSEHOLD' AND a.owner_id = :household AND t.status = 'POSTED'
     AND t.occurred_at < (:to::date::timestamp AT TIME ZONE hb.time_zone)
   GROUP BY 1 ORDER BY 1`;

export const householdStatementMovementsSql = movementsSql('HOUSEHOLD', ':household');
