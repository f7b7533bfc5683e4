-- cb_refuse_posting_change: the trigger function of postings_append_only and postings_no_truncate.
-- History is append-only (invariant 8): postings are never updated, deleted or truncated; corrections
-- are reversals.

CREATE OR REPLACE FUNCTION cb_refuse_posting_change()
RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'postings are append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
END
$fn$;
