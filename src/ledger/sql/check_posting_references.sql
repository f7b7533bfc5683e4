-- cb_check_posting_references: the trigger function of postings_references, which replaced two
-- foreign keys (migration 065): a posting's transaction exists, and its account exists with the
-- posting's asset and scale (invariant 2 sums postings per account). Checked once per INSERT
-- statement, set-based, instead of a lookup and a share lock per posting (a batch of 500 awards locked
-- its 500 new transactions again, one WAL record each). Exact because transactions and accounts are
-- never deleted and their keys never change (cb_refuse_reference_change), and postings are append-only.

CREATE OR REPLACE FUNCTION cb_check_posting_references()
RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  -- A correlated primary-key probe per distinct key, whatever the transition table's (absent) estimates.
  SELECT x.constraint_name, x.columns, x.key, x.parent INTO v FROM (
      SELECT 'postings_head_id_transaction_id_fkey' AS constraint_name, 'head_id, transaction_id' AS columns,
             t.head_id || ', ' || t.transaction_id AS key, 'transactions' AS parent
        FROM (SELECT DISTINCT p.head_id, p.transaction_id FROM new_postings p) t
       WHERE (SELECT 1 FROM transactions x WHERE x.head_id = t.head_id AND x.id = t.transaction_id LIMIT 1) IS NULL
      UNION ALL
      SELECT 'postings_head_id_account_id_asset_code_asset_scale_fkey', 'head_id, account_id, asset_code, asset_scale',
             concat_ws(', ', a.head_id, a.account_id, a.asset_code, a.asset_scale), 'accounts'
        FROM (SELECT DISTINCT p.head_id, p.account_id, p.asset_code, p.asset_scale FROM new_postings p) a
       WHERE (SELECT 1 FROM accounts x WHERE x.head_id = a.head_id AND x.id = a.account_id
                 AND x.asset_code = a.asset_code AND x.asset_scale = a.asset_scale LIMIT 1) IS NULL
    ) x LIMIT 1;
  IF FOUND THEN
    PERFORM cb_raise_missing_reference('postings', v.constraint_name, v.columns, v.key, v.parent);
  END IF;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER postings_references AFTER INSERT ON postings
  REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION cb_check_posting_references();
