-- cb_take_lots: a debit of p_amount (> 0) on a wallet, folded into its lots: p_first_lot first when
-- given (a reversal of a credit takes back the lot that credit opened), then first-in first-out (oldest
-- earned_at, then oldest lot). Each lot taken from gets a SPEND move; what no lot covers becomes the
-- wallet's deficit (a DEFICIT move), which only a forced reversal can cause. The caller holds the
-- wallet's row lock (cb_fold_wallet_lots).

CREATE OR REPLACE FUNCTION cb_take_lots(
  p_head bigint, p_account bigint, p_txn bigint, p_line smallint, p_amount numeric, p_first_lot bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_left numeric := p_amount;
  v_take numeric;
  l record;
BEGIN
  PERFORM cb_assert(p_amount > 0, format('lots of account %s: a debit of %s to fold', p_account, p_amount));
  FOR l IN
    SELECT w.id, w.remaining FROM wallet_lots w
     WHERE w.head_id = p_head AND w.account_id = p_account AND w.remaining > 0
     ORDER BY w.id IS NOT DISTINCT FROM p_first_lot DESC, w.earned_at, w.id
  LOOP
    EXIT WHEN v_left = 0;
    v_take := least(v_left, l.remaining);
    UPDATE wallet_lots SET remaining = remaining - v_take WHERE head_id = p_head AND id = l.id;
    INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount)
    VALUES (p_head, p_account, l.id, p_txn, p_line, 'SPEND', -v_take);
    v_left := v_left - v_take;
  END LOOP;
  IF v_left > 0 THEN
    INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount)
    VALUES (p_head, p_account, NULL, p_txn, p_line, 'DEFICIT', -v_left);
    INSERT INTO wallet_lot_states AS s (head_id, account_id, deficit) VALUES (p_head, p_account, v_left)
    ON CONFLICT (head_id, account_id) DO UPDATE SET deficit = s.deficit + EXCLUDED.deficit;
  END IF;
END
$fn$;
