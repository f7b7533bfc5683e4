-- cb_household_exists: whether a household exists, for cb_check_transaction_references. plpgsql on
-- purpose: the check calls it only for transactions that name a household, so the journal's check of a
-- member award opens no household table.

CREATE OR REPLACE FUNCTION cb_household_exists(p_head bigint, p_household bigint)
RETURNS boolean LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN EXISTS (SELECT 1 FROM households h WHERE h.head_id = p_head AND h.id = p_household);
END
$fn$;
