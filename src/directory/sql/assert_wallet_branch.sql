-- cb_assert_wallet_branch: the trigger function of accounts_wallet_branch and
-- accounts_household_wallet_branch. A member wallet made or re-branched anywhere but in its member's
-- branch, or a household wallet (migration 072) anywhere but in its household's branch, is an
-- invariant broken (CBASS): branchStats and scope checks read accounts.branch_id.

CREATE OR REPLACE FUNCTION cb_assert_wallet_branch()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.owner_type = 'HOUSEHOLD' THEN
    PERFORM cb_assert(EXISTS (SELECT 1 FROM households h WHERE h.head_id = NEW.head_id AND h.id = NEW.owner_id AND h.branch_id = NEW.branch_id),
      format('household wallet %s would be in branch %s, not in its household %s''s branch', NEW.id, NEW.branch_id, NEW.owner_id));
    RETURN NEW;
  END IF;
  PERFORM cb_assert(EXISTS (SELECT 1 FROM members m WHERE m.head_id = NEW.head_id AND m.id = NEW.owner_id AND m.branch_id = NEW.branch_id),
    format('member wallet %s would be in branch %s, not in its member %s''s branch', NEW.id, NEW.branch_id, NEW.owner_id));
  RETURN NEW;
END
$fn$;

-- The member wallets' trigger is migration 032's; the household wallets' is created here, beside its
-- function (the migrations run before this file on a new database).
CREATE OR REPLACE TRIGGER accounts_household_wallet_branch BEFORE INSERT OR UPDATE OF branch_id ON accounts
  FOR EACH ROW WHEN (NEW.owner_type = 'HOUSEHOLD') EXECUTE FUNCTION cb_assert_wallet_branch();
