-- cb_refuse_seal_change: the trigger function of journal_seals_append_only and journal_seals_no_truncate.
-- Seals are history too (invariant 8): never updated, deleted or truncated.

CREATE OR REPLACE FUNCTION cb_refuse_seal_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'journal seals are append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
END
$fn$;
