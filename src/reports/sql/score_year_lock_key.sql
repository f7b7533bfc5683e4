-- cb_score_year_lock_key: the advisory lock of one head bank's score years. PARTY_SCORE writers take it
-- shared (cb_guard_score_years), closing a year takes it exclusive (src/reports/scoreYears.ts), so a
-- year is never closed under a write dated in it that is still running.

-- One key per head bank (not per year): writers need not read their transactions to take it,
-- and closing a year, rare, waits for the bank's running PARTY_SCORE writes only.
CREATE OR REPLACE FUNCTION cb_score_year_lock_key(p_head bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $fn$
  SELECT hashtextextended('cb-score-years:' || p_head, 0)
$fn$;
