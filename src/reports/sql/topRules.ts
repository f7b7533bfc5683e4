// The rules most applied in a branch subtree and period: awards and deductions (EARN, DEDUCT)
// POSTED and not reversed, counted per rule code (all its versions), with the distinct members who
// got them; named by the rule's newest version. Reads the period's transactions by occurredAt (index transactions_occurred) and
// probes each for a reversal (transactions_reversed_once): no rollup keeps the rule, so the caller
// bounds the period. Bindings: head, branches (null: the whole head bank), from, to (first days of
// months in the bank's time zone), timeZone, limit.
export const topRulesSql = `
  WITH counted AS (
         SELECT r.code, count(*)::int AS awards, count(DISTINCT t.member_id)::int AS members
           FROM transactions t
           JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
          WHERE t.head_id = :head AND t.kind IN ('EARN', 'DEDUCT') AND t.status = 'POSTED'
            AND t.occurred_at >= (:from::date)::timestamp AT TIME ZONE :timeZone
            AND t.occurred_at < (:to::date)::timestamp AT TIME ZONE :timeZone
            AND (:branches::bigint[] IS NULL OR t.branch_id = ANY (:branches::bigint[]))
            AND NOT EXISTS (SELECT 1 FROM transactions x WHERE x.head_id = t.head_id AND x.reverses_id = t.id AND x.status = 'POSTED')
          GROUP BY r.code
          ORDER BY 2 DESC, 1 LIMIT :limit)
  SELECT c.code, c.awards, c.members, n.name, n.category
    FROM counted c
    CROSS JOIN LATERAL (SELECT r.name, r.category FROM rules r WHERE r.head_id = :head AND r.code = c.code ORDER BY r.version DESC, r.id DESC LIMIT 1) n
   ORDER BY c.awards DESC, c.code`;
