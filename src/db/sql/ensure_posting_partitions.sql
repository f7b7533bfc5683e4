-- cb_ensure_posting_partitions: creates the monthly partitions of postings from p_from for p_months
-- months (idempotent). src/db/migrate.ts calls it on every start, so the coming months always exist.

CREATE OR REPLACE FUNCTION cb_ensure_posting_partitions(p_from date, p_months integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_start date := date_trunc('month', p_from)::date;
  v_name text;
BEGIN
  FOR i IN 0 .. p_months - 1 LOOP
    v_name := format('postings_%s', to_char(v_start + make_interval(months => i), 'YYYYMM'));
    IF to_regclass(v_name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF postings FOR VALUES FROM (%L) TO (%L)',
        v_name, (v_start + make_interval(months => i)) AT TIME ZONE 'UTC',
        (v_start + make_interval(months => i + 1)) AT TIME ZONE 'UTC');
    END IF;
  END LOOP;
END
$fn$;
