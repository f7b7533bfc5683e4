-- cb_raise_missing_reference: the refusal of a statement check that replaced a foreign key (migration
-- 065), said as PostgreSQL said the foreign key's: SQLSTATE 23503, the constraint's name, the key.

CREATE OR REPLACE FUNCTION cb_raise_missing_reference(p_table text, p_constraint text, p_columns text, p_key text, p_parent text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', p_table, p_constraint
    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = p_constraint, TABLE = p_table,
          DETAIL = format('Key (%s)=(%s) is not present in table "%s".', p_columns, p_key, p_parent);
END
$fn$;
