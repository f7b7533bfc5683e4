-- cb_queue_final_inserted: the trigger function of transactions_queue_final_inserted. Queues
-- transactions written in a final status for the sealer (invariant 8: the chain covers every final
-- transaction); one INSERT per write statement, so a batch of awards adds one, not one per award.

CREATE OR REPLACE FUNCTION cb_queue_final_inserted()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO journal_seal_queue (head_id, transaction_id)
  SELECT n.head_id, n.id FROM new_rows n WHERE n.status <> 'PENDING' ORDER BY n.head_id, n.id;
  RETURN NULL;
END
$fn$;
