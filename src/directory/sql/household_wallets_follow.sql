-- cb_household_wallets_follow: the trigger function of households_wallets_follow. A household moved to
-- another branch takes its wallets along (a household wallet is in its household's branch, asserted by
-- cb_assert_wallet_branch). Household wallets are in no member or branch rollup, so nothing else moves.

CREATE OR REPLACE FUNCTION cb_household_wallets_follow()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE accounts SET branch_id = NEW.branch_id
   WHERE head_id = NEW.head_id AND owner_type = 'HOUSEHOLD' AND owner_id = NEW.id AND branch_id <> NEW.branch_id;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER households_wallets_follow AFTER UPDATE OF branch_id ON households
  FOR EACH ROW WHEN (OLD.branch_id IS DISTINCT FROM NEW.branch_id) EXECUTE FUNCTION cb_household_wallets_follow();
