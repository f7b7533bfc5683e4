-- cb_assert_wallet_branch: the trigger function of accounts_wallet_branch. A member wallet made or
-- re-branched anywhere but in its member's branch is an invariant broken (CBASS): branchStats and scope
-- checks read accounts.branch_id.

CREATE OR REPLACE FUNCTION cb_assert_wallet_branch()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM cb_assert(EXISTS (SELECT 1 FROM members m WHERE m.head_id = NEW.head_id AND m.id = NEW.owner_id AND m.branch_id = NEW.branch_id),
    format('member wallet %s would be in branch %s, not in its member %s''s branch', NEW.id, NEW.branch_id, NEW.owner_id));
  RETURN NEW;
END
$fn$;
