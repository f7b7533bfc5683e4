-- cb_donate: a member gives from its own wallet to an OPEN pool, never past the target (the pool row is
-- locked, so concurrent donations add up below it). Invariants 1-3 through cb_post_lines, 4 by key.
-- With p_household the member gives from its household's wallet (migration 072), where the branch
-- policy lets it (cb_household_spender); the donation remembers it, so closing the pool returns it there.

-- Locks: the member's household membership (shared, when giving from the household), the pool row (so
-- concurrent donations add up below the target), then the accounts.
DROP FUNCTION IF EXISTS cb_donate(bigint, text, text, text, text, bigint, bigint, numeric, text);
CREATE OR REPLACE FUNCTION cb_donate(
  p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_member bigint, p_pool bigint, p_amount numeric,
  p_memo text, p_household boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_txn bigint := nextval('transactions_id_seq');
  v_previous bigint := cb_claim_key(p_head, p_sub, p_key, 'donate', p_hash, v_txn);
  v_pool record;
  v_member record;
  v_wallet bigint;
  v_household_id bigint;
  v_household_external_id text;
  v_now timestamptz := now();
BEGIN
  IF v_previous IS NOT NULL THEN
    RETURN jsonb_build_object('replayed', true, 'transactionId', v_previous::text);
  END IF;
  SELECT m.id, m.external_id, m.branch_id, b.path INTO v_member
    FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.head_id = p_head AND m.id = p_member;
  IF NOT FOUND THEN
    PERFORM cb_fail('UNAUTHENTICATED', format('token rejected: no member %s in this bank', p_member));
  END IF;
  IF p_household THEN
    SELECT s.household_id, s.household_external_id INTO v_household_id, v_household_external_id
      FROM cb_household_spender(p_head, p_member) s;
  END IF;
  SELECT p.*, b.path AS branch_path INTO v_pool FROM pools p JOIN branches b ON b.id = p.branch_id
   WHERE p.head_id = p_head AND p.id = p_pool FOR UPDATE OF p;
  IF NOT FOUND OR NOT starts_with(v_member.path, v_pool.branch_path) THEN
    PERFORM cb_fail('NOT_FOUND', format('pool: no pool %s is open to member %s', p_pool, v_member.external_id));
  END IF;
  IF v_pool.status <> 'OPEN' THEN
    PERFORM cb_fail('INVALID_STATE', format('pool "%s" is %s and takes no more donations', v_pool.title, v_pool.status));
  END IF;
  IF v_pool.deadline IS NOT NULL AND v_now >= v_pool.deadline THEN
    PERFORM cb_fail('INVALID_STATE', format('pool "%s" closed for donations at %s', v_pool.title, v_pool.deadline));
  END IF;
  IF v_pool.donations >= 10000 THEN
    PERFORM cb_fail('LIMIT_EXCEEDED', format('pool "%s" has taken its 10000 donations; it can take no more', v_pool.title));
  END IF;
  IF v_pool.raised + p_amount > v_pool.target THEN
    PERFORM cb_fail('LIMIT_EXCEEDED', format('pool "%s" needs only %s POINTS more (raised %s of %s); donate at most that',
      v_pool.title, (v_pool.target - v_pool.raised)::text, v_pool.raised::text, v_pool.target::text));
  END IF;
  SELECT a.id INTO v_wallet FROM accounts a
   WHERE a.head_id = p_head AND a.owner_type = CASE WHEN p_household THEN 'HOUSEHOLD' ELSE 'MEMBER' END
     AND a.owner_id = CASE WHEN p_household THEN v_household_id ELSE p_member END
     AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
  INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at, memo,
                            household_id)
  VALUES (p_head, v_txn, 'DONATE', 'POSTED', v_member.branch_id, p_member, p_sub, p_role, v_now, v_now,
          coalesce(p_memo, format('donation to pool "%s"', v_pool.title)), v_household_id);
  PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
    jsonb_build_object('accountId', v_wallet, 'amount', -p_amount),
    jsonb_build_object('accountId', v_pool.account_id, 'amount', p_amount)), false);
  INSERT INTO pool_donations (head_id, transaction_id, pool_id, member_id, amount, household_id)
  VALUES (p_head, v_txn, p_pool, p_member, p_amount, v_household_id);
  UPDATE pools SET raised = raised + p_amount, donations = donations + 1,
                   status = CASE WHEN raised + p_amount = target THEN 'FUNDED' ELSE status END,
                   funded_at = CASE WHEN raised + p_amount = target THEN v_now END
   WHERE head_id = p_head AND id = p_pool;
  RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
END
$fn$;
