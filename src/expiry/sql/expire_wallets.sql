-- cb_expire_wallets: the sweeper's work on many wallets in one database transaction (one commit for
-- all of them, not one each): cb_expire_wallet_lots for each wallet of p_accounts, in account-id order,
-- taking each wallet's row lock with SKIP LOCKED, so that the sweeper never waits on an award or a spend
-- in flight (and never deadlocks with one: it waits on nothing). Returns {"expired": lots expired,
-- "skipped": [wallets whose lock a writer held]}; the caller does those one by one, waiting.

CREATE OR REPLACE FUNCTION cb_expire_wallets(p_head bigint, p_accounts bigint[], p_at timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_account bigint;
  v_expired integer := 0;
  v_skipped bigint[] := '{}';
BEGIN
  FOR v_account IN SELECT DISTINCT a FROM unnest(p_accounts) a ORDER BY a LOOP
    PERFORM 1 FROM accounts WHERE head_id = p_head AND id = v_account FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      v_expired := v_expired + cb_expire_wallet_lots(p_head, v_account, p_at);
    ELSE
      v_skipped := v_skipped || v_account;
    END IF;
  END LOOP;
  RETURN jsonb_build_object('expired', v_expired, 'skipped', to_jsonb(v_skipped));
END
$fn$;
