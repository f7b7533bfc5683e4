-- cb_refuse_lot_move_change: the trigger function of wallet_lot_moves_append_only. Lot moves are the
-- history of which points were spent and expired (issue 16 §3): never updated or deleted, like postings.

CREATE OR REPLACE FUNCTION cb_refuse_lot_move_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'wallet_lot_moves are append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
END
$fn$;

CREATE OR REPLACE TRIGGER wallet_lot_moves_append_only BEFORE UPDATE OR DELETE ON wallet_lot_moves
  FOR EACH ROW EXECUTE FUNCTION cb_refuse_lot_move_change();
CREATE OR REPLACE TRIGGER wallet_lot_moves_no_truncate BEFORE TRUNCATE ON wallet_lot_moves
  FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_lot_move_change();
