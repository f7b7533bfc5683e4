-- cb_lock_pool: the pool an admin acts on, locked: it exists and its branch is inside the admin's scope.
-- Pool writes lock the pool row first, then accounts by id.

CREATE OR REPLACE FUNCTION cb_lock_pool(p_head bigint, p_pool bigint, p_scope_path text)
RETURNS pools LANGUAGE plpgsql AS $fn$
DECLARE
  v pools;
BEGIN
  SELECT * INTO v FROM pools WHERE head_id = p_head AND id = p_pool FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM cb_fail('NOT_FOUND', format('pool: no pool %s', p_pool));
  END IF;
  IF NOT starts_with((SELECT b.path FROM branches b WHERE b.id = v.branch_id), p_scope_path) THEN
    PERFORM cb_fail('FORBIDDEN', format('pool %s belongs to a branch outside your scope', p_pool));
  END IF;
  RETURN v;
END
$fn$;
