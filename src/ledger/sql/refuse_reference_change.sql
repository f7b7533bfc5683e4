-- cb_refuse_reference_change: the trigger function that keeps the parents of transactions and
-- postings in place since their foreign keys became statement checks (migration 065,
-- cb_check_transaction_references, cb_check_posting_references): branches, members, rules, accounts
-- and transactions are never deleted or truncated and their referenced keys never change, so a parent
-- seen by a check is still there at commit without the share lock a foreign key took. Nothing deletes
-- them (the journal refers to them forever); households (migration 072) likewise. Also refuses changing
-- a transaction's parties (its head bank, branch, member, rule, household): they are history, covered by the digest chain (invariant 8).

CREATE OR REPLACE FUNCTION cb_refuse_reference_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% on table "%" refused: its rows are referenced by the journal and stay as they are', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, CONSTRAINT = TG_NAME;
END
$fn$;

CREATE OR REPLACE TRIGGER branches_never_deleted BEFORE DELETE OR TRUNCATE ON branches
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER branches_referenced_keys_fixed BEFORE UPDATE OF id ON branches
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER members_never_deleted BEFORE DELETE OR TRUNCATE ON members
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER members_referenced_keys_fixed BEFORE UPDATE OF head_id, id ON members
  FOR EACH ROW WHEN (OLD.head_id IS DISTINCT FROM NEW.head_id OR OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER rules_never_deleted BEFORE DELETE OR TRUNCATE ON rules
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER rules_referenced_keys_fixed BEFORE UPDATE OF head_id, id ON rules
  FOR EACH ROW WHEN (OLD.head_id IS DISTINCT FROM NEW.head_id OR OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER accounts_never_deleted BEFORE DELETE OR TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER accounts_referenced_keys_fixed BEFORE UPDATE OF head_id, id, asset_code, asset_scale ON accounts
  FOR EACH ROW WHEN (OLD.head_id IS DISTINCT FROM NEW.head_id OR OLD.id IS DISTINCT FROM NEW.id OR OLD.asset_code IS DISTINCT FROM NEW.asset_code OR OLD.asset_scale IS DISTINCT FROM NEW.asset_scale) EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER transactions_never_deleted BEFORE DELETE OR TRUNCATE ON transactions
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER transactions_parties_fixed BEFORE UPDATE OF head_id, id, branch_id, member_id, rule_id, household_id ON transactions
  FOR EACH ROW WHEN (OLD.head_id IS DISTINCT FROM NEW.head_id OR OLD.id IS DISTINCT FROM NEW.id OR OLD.branch_id IS DISTINCT FROM NEW.branch_id OR OLD.member_id IS DISTINCT FROM NEW.member_id OR OLD.rule_id IS DISTINCT FROM NEW.rule_id OR OLD.household_id IS DISTINCT FROM NEW.household_id) EXECUTE FUNCTION cb_refuse_reference_change();
-- Households (migration 072): transactions name them (household_id), checked per statement too.
CREATE OR REPLACE TRIGGER households_never_deleted BEFORE DELETE OR TRUNCATE ON households
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_reference_change();
CREATE OR REPLACE TRIGGER households_referenced_keys_fixed BEFORE UPDATE OF head_id, id ON households
  FOR EACH ROW WHEN (OLD.head_id IS DISTINCT FROM NEW.head_id OR OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION cb_refuse_reference_change();
