-- cb_lot_expires_at: the instant a lot earned at p_earned expires under a policy (NULL when OFF), in the
-- bank's time zone p_tz; the mirror of cb_expiry_cutoff (see there): the lot has expired at p_at exactly
-- when this is <= p_at.
-- - MONTHS_AFTER_EARNING n: the start of the (n+1)-th month after the month of p_earned;
-- - YEARLY_RESET month/day: the first reset instant after p_earned (a lot earned at a reset instant
--   lives to the next one).

CREATE OR REPLACE FUNCTION cb_lot_expires_at(
  p_kind text, p_months integer, p_reset_month integer, p_reset_day integer, p_tz text, p_earned timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $fn$
  SELECT CASE p_kind
    WHEN 'MONTHS_AFTER_EARNING' THEN
      (date_trunc('month', p_earned AT TIME ZONE p_tz) + make_interval(months => p_months + 1)) AT TIME ZONE p_tz
    WHEN 'YEARLY_RESET' THEN (
      SELECT CASE WHEN r > p_earned AT TIME ZONE p_tz THEN r ELSE r + interval '1 year' END AT TIME ZONE p_tz
        FROM make_timestamp(extract(year FROM p_earned AT TIME ZONE p_tz)::int, p_reset_month, p_reset_day, 0, 0, 0) r)
  END
$fn$;
