-- cb_queue_final_updated: the trigger function of transactions_queue_final_updated. Queues
-- transactions that leave PENDING (a redemption fulfilled, cancelled or expired) for the sealer
-- (invariant 8).

CREATE OR REPLACE FUNCTION cb_queue_final_updated()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO journal_seal_queue (head_id, transaction_id)
  SELECT n.head_id, n.id FROM new_rows n JOIN old_rows o ON o.head_id = n.head_id AND o.id = n.id
   WHERE o.status = 'PENDING' AND n.status <> 'PENDING' ORDER BY n.head_id, n.id;
  RETURN NULL;
END
$fn$;
