-- cb_assert: an invariant the code must never see broken. SQLSTATE CBASS: the request stops with
-- INTERNAL and a log line (src/db/errors.ts); never mended silently.

CREATE OR REPLACE FUNCTION cb_assert(p_ok boolean, p_message text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'CBASS', MESSAGE = 'invariant broken: ' || p_message;
  END IF;
END
$fn$;
