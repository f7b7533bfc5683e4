-- cb_transactions_json: transactions with their postings, as the API returns them (for a first write
-- and a replay alike); the dataloader of src/ledger/transactions.ts reads through it.

CREATE OR REPLACE FUNCTION cb_transactions_json(p_head bigint, p_ids bigint[])
RETURNS TABLE (id bigint, j jsonb) LANGUAGE sql STABLE AS $fn$
  SELECT t.id, cb_transaction_object(t, (
           SELECT jsonb_agg(cb_posting_object(p) ORDER BY p.line) FROM postings p
            WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at))
    FROM unnest(p_ids) x (id)
    JOIN transactions t ON t.head_id = p_head AND t.id = x.id
$fn$;
