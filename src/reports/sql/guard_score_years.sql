-- cb_guard_score_years: the trigger function of postings_score_year_open. Refuses PARTY_SCORE postings
-- to member wallets dated in a year closed for their branch or above, whoever writes them (award, claim,
-- adjustment, reversal). Cheap when nothing is closed: one probe of score_year_closures per head bank.

CREATE OR REPLACE FUNCTION cb_guard_score_years()
RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
  v_head bigint;
BEGIN
  FOR v_head IN SELECT DISTINCT p.head_id FROM new_postings p WHERE p.asset_code = 'PARTY_SCORE' ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock_shared(cb_score_year_lock_key(v_head));
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM score_year_closures c WHERE c.head_id = v_head AND c.reopened_at IS NULL);
    SELECT m.external_id, c.year, cb.code AS branch_code INTO v
      FROM new_postings p
      JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
      JOIN branches hb ON hb.id = p.head_id
      JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
      JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id
      JOIN branches mb ON mb.id = m.branch_id
      JOIN score_year_closures c ON c.head_id = p.head_id AND c.reopened_at IS NULL
                                AND c.year = extract(year FROM t.occurred_at AT TIME ZONE hb.time_zone)::integer
      JOIN branches cb ON cb.id = c.branch_id AND starts_with(mb.path, cb.path)
     WHERE p.head_id = v_head AND p.asset_code = 'PARTY_SCORE'
     LIMIT 1;
    IF FOUND THEN
      PERFORM cb_fail('INVALID_STATE', format(
        'the %s party-score year is closed for branch %s: member %s''s PARTY_SCORE dated in it cannot change (the head bank can reopen the year)',
        v.year, v.branch_code, v.external_id));
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;
