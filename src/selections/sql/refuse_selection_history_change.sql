-- cb_refuse_selection_history_change: a selection's history is append-only (every act, who and when,
-- issue 16 §2): rows are never updated or deleted. The triggers are created here, beside their function.

CREATE OR REPLACE FUNCTION cb_refuse_selection_history_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'selection history is append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
END
$fn$;

CREATE OR REPLACE TRIGGER selection_history_append_only BEFORE UPDATE OR DELETE ON selection_history
  FOR EACH ROW EXECUTE FUNCTION cb_refuse_selection_history_change();
