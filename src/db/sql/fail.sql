-- cb_fail: a refusal a caller can act on. SQLSTATE CB000, the SPEC error code in HINT and the input
-- field at fault in COLUMN; src/db/errors.ts turns it into a BankError. Raising rolls back the statement,
-- so a refused request writes nothing and uses up no idempotency key (invariant 4).

CREATE OR REPLACE FUNCTION cb_fail(p_code text, p_message text, p_field text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'CB000', MESSAGE = p_message, HINT = p_code, COLUMN = coalesce(p_field, '');
END
$fn$;

-- The two-argument form names no field.
CREATE OR REPLACE FUNCTION cb_fail(p_code text, p_message text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM cb_fail(p_code, p_message, NULL);
END
$fn$;
