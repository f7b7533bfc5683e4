-- cb_expiry_cutoff: under an expiry policy, the lots earned before the returned instant have expired at
-- p_at; NULL when the policy is OFF. Computed in the bank's time zone p_tz:
-- - MONTHS_AFTER_EARNING n: a lot expires at the start of the (n+1)-th month after the month it was
--   earned (n whole months after that month), so at p_at every lot earned before the start of the month
--   n months before p_at's month has expired;
-- - YEARLY_RESET month/day: every lot earned before a reset instant (local midnight that day) expires
--   then, so at p_at every lot earned before the latest reset at or before p_at has expired.
-- cb_lot_expires_at is its mirror: a lot has expired at p_at exactly when earned_at < cutoff(p_at), i.e.
-- when cb_lot_expires_at(earned_at) <= p_at (the boundary instant itself is expired).

CREATE OR REPLACE FUNCTION cb_expiry_cutoff(
  p_kind text, p_months integer, p_reset_month integer, p_reset_day integer, p_tz text, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $fn$
  SELECT CASE p_kind
    WHEN 'MONTHS_AFTER_EARNING' THEN
      (date_trunc('month', p_at AT TIME ZONE p_tz) - make_interval(months => p_months)) AT TIME ZONE p_tz
    WHEN 'YEARLY_RESET' THEN (
      SELECT CASE WHEN r <= p_at AT TIME ZONE p_tz THEN r ELSE r - interval '1 year' END AT TIME ZONE p_tz
        FROM make_timestamp(extract(year FROM p_at AT TIME ZONE p_tz)::int, p_reset_month, p_reset_day, 0, 0, 0) r)
  END
$fn$;
