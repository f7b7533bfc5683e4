-- cb_rollup_status_change: the trigger function of transactions_rollup_status (BEFORE UPDATE OF status,
-- migration 062). A transaction that becomes POSTED after its postings were written (a redemption
-- fulfilled) takes the id of the database transaction that posts it as its txid: it is then in the
-- journal's unfolded tail again, counted by reports from there and by the fold once (the fold and
-- the tail count only POSTED transactions, so it was not counted while PENDING). Leaving POSTED is
-- asserted never to happen (corrections are reversals), so that rollups can never silently drift.
CREATE OR REPLACE FUNCTION cb_rollup_status_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM cb_assert(OLD.status <> 'POSTED', format('transaction %s changed from POSTED to %s', OLD.id, NEW.status));
  IF NEW.status = 'POSTED' THEN
    NEW.txid := pg_current_xact_id()::text::bigint;
  END IF;
  RETURN NEW;
END
$fn$;
