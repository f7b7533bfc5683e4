-- cb_check_transaction_references: the trigger function of transactions_references, which replaced
-- four foreign keys (migration 065): a transaction's head bank and branch are branches, its member a
-- member, its household (migration 072) a household and its rule a rule of its head bank. Checked once per INSERT statement, set-based, instead of
-- a lookup and a share lock on the parent row per inserted row (a batch of 500 awards locked the head
-- branch, its branches, the rule and 500 members, one WAL record per member). Exact because the
-- parents are never deleted and their keys never change (cb_refuse_reference_change), and a
-- transaction's parties never change (transactions_parties_fixed), so what exists here exists at commit.

CREATE OR REPLACE FUNCTION cb_check_transaction_references()
RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  -- A correlated probe per distinct key (LIMIT 1 keeps each a primary-key lookup whatever the
  -- estimates of the transition table, which has none). Awards of a batch share head, branches and rule.
  SELECT x.constraint_name, x.columns, x.key, x.parent INTO v FROM (
      SELECT 'transactions_head_id_fkey' AS constraint_name, 'head_id' AS columns, h.head_id::text AS key, 'branches' AS parent
        FROM (SELECT DISTINCT n.head_id FROM new_rows n) h
       WHERE (SELECT 1 FROM branches b WHERE b.id = h.head_id LIMIT 1) IS NULL
      UNION ALL
      SELECT 'transactions_branch_id_fkey', 'branch_id', b.branch_id::text, 'branches'
        FROM (SELECT DISTINCT n.branch_id FROM new_rows n) b
       WHERE (SELECT 1 FROM branches p WHERE p.id = b.branch_id LIMIT 1) IS NULL
      UNION ALL
      SELECT 'transactions_head_id_member_id_fkey', 'head_id, member_id', m.head_id || ', ' || m.member_id, 'members'
        FROM (SELECT DISTINCT n.head_id, n.member_id FROM new_rows n WHERE n.member_id IS NOT NULL) m
       WHERE (SELECT 1 FROM members p WHERE p.head_id = m.head_id AND p.id = m.member_id LIMIT 1) IS NULL
      UNION ALL
      SELECT 'transactions_head_id_household_id_fkey', 'head_id, household_id', h.head_id || ', ' || h.household_id, 'households'
        FROM (SELECT DISTINCT n.head_id, n.household_id FROM new_rows n WHERE n.household_id IS NOT NULL) h
       WHERE NOT cb_household_exists(h.head_id, h.household_id)
      UNION ALL
      SELECT 'transactions_head_id_rule_id_fkey', 'head_id, rule_id', r.head_id || ', ' || r.rule_id, 'rules'
        FROM (SELECT DISTINCT n.head_id, n.rule_id FROM new_rows n WHERE n.rule_id IS NOT NULL) r
       WHERE (SELECT 1 FROM rules p WHERE p.head_id = r.head_id AND p.id = r.rule_id LIMIT 1) IS NULL
    ) x LIMIT 1;
  IF FOUND THEN
    PERFORM cb_raise_missing_reference('transactions', v.constraint_name, v.columns, v.key, v.parent);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER transactions_references AFTER INSERT ON transactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_check_transaction_references();
