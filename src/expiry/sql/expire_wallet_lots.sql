-- cb_expire_wallet_lots: the sweeper's work on one wallet, in one database transaction: fold the
-- wallet's lots (cb_fold_wallet_lots, which takes the wallet's row lock), then post one EXPIRE
-- transaction per lot that has expired at p_at under its head bank's policy for the asset: the lot's
-- rest from the wallet to the EXPIRY system account of the wallet's branch (a deferred account: a
-- delta row, never a hot row), dated at the lot's expiry instant. Each lot is expired once per round
-- (a lot restored after it expired expires again, as round 2): the idempotency key
-- expire:<lot>:<round> (cb_claim_key, subject expiry-sweeper) and the unique index
-- wallet_lot_moves_expire_once hold it, whatever the number of sweepers, and a crash before the commit
-- leaves nothing. The transaction's principal is expiry-sweeper acting as the head bank's admin (the
-- head bank's policy; Role has no system value, as the selections' awards act as 'admin' too).
-- Returns how many lots it expired.

CREATE OR REPLACE FUNCTION cb_expire_wallet_lots(p_head bigint, p_account bigint, p_at timestamptz)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  w record;
  p record;
  l record;
  v_cutoff timestamptz;
  v_expiry bigint;
  v_txn bigint;
  v_round integer;
  v_key text;
  v_now timestamptz := now();
  v_expired integer := 0;
BEGIN
  PERFORM cb_fold_wallet_lots(p_head, p_account);
  SELECT a.branch_id, a.asset_code, a.owner_type, a.owner_id, hb.time_zone INTO w
    FROM accounts a JOIN branches hb ON hb.id = a.head_id
   WHERE a.head_id = p_head AND a.id = p_account;
  SELECT e.* INTO p FROM expiry_policies e
   WHERE e.head_id = p_head AND e.asset_code = w.asset_code AND e.kind <> 'OFF';
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  v_cutoff := cb_expiry_cutoff(p.kind, p.months, p.reset_month, p.reset_day, w.time_zone, p_at);

  FOR l IN
    SELECT x.id, x.remaining, x.earned_at FROM wallet_lots x
     WHERE x.head_id = p_head AND x.account_id = p_account AND x.remaining > 0 AND x.earned_at < v_cutoff
     ORDER BY x.earned_at, x.id
  LOOP
    IF v_expiry IS NULL THEN
      SELECT a.id INTO v_expiry FROM accounts a
       WHERE a.head_id = p_head AND a.owner_type = 'SYSTEM' AND a.owner_id = w.branch_id
         AND a.asset_code = w.asset_code AND a.purpose = 'EXPIRY';
      PERFORM cb_assert(v_expiry IS NOT NULL, format('branch %s has no EXPIRY account of %s', w.branch_id, w.asset_code));
    END IF;
    SELECT count(*) + 1 INTO v_round FROM wallet_lot_moves m
     WHERE m.head_id = p_head AND m.lot_id = l.id AND m.kind = 'EXPIRE';
    v_key := format('expire:%s:%s', l.id, v_round);
    v_txn := nextval('transactions_id_seq');
    PERFORM cb_assert(cb_claim_key(p_head, 'expiry-sweeper', v_key, 'expireLot', v_key, v_txn) IS NULL,
                      format('lot %s was expired already in round %s', l.id, v_round));
    INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, household_id, principal_sub, principal_role,
                              occurred_at, recorded_at, memo, metadata)
    VALUES (p_head, v_txn, 'EXPIRE', 'POSTED', w.branch_id,
            CASE WHEN w.owner_type = 'MEMBER' THEN w.owner_id END, CASE WHEN w.owner_type = 'HOUSEHOLD' THEN w.owner_id END,
            'expiry-sweeper', 'admin',
            least(v_now, cb_lot_expires_at(p.kind, p.months, p.reset_month, p.reset_day, w.time_zone, l.earned_at)), v_now,
            'points expired',
            jsonb_build_object('lotId', l.id::text, 'earnedAt', l.earned_at, 'round', v_round, 'idempotencyKey', v_key));
    PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
      jsonb_build_object('accountId', p_account, 'amount', (-l.remaining)::text),
      jsonb_build_object('accountId', v_expiry, 'amount', l.remaining::text)), false);
    INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount, expire_round)
    SELECT p_head, p_account, l.id, v_txn, ps.line, 'EXPIRE', -l.remaining, v_round
      FROM postings ps
     WHERE ps.head_id = p_head AND ps.transaction_id = v_txn AND ps.recorded_at = v_now AND ps.account_id = p_account;
    PERFORM cb_assert(FOUND, format('lot %s: the expiry transaction %s has no wallet posting', l.id, v_txn));
    UPDATE wallet_lots SET remaining = 0 WHERE head_id = p_head AND id = l.id;
    v_expired := v_expired + 1;
  END LOOP;
  RETURN v_expired;
END
$fn$;
