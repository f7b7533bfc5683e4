-- cb_give_lots: a credit of p_amount (> 0) on a wallet, folded into its lots. A deficit is paid back
-- first (so a wallet in deficit has no open lot, and no lot can expire more than the wallet holds).
-- When p_restores is given (a reversal of a spend, or a voided hold: p_restores is the spend's
-- transaction), the rest goes back to exactly the lots that spend took, in the order it took them,
-- keeping their original dates (RESTORE moves); anything left after that opens a new lot earned at
-- p_earned (an EARN move). The caller holds the wallet's row lock (cb_fold_wallet_lots).

CREATE OR REPLACE FUNCTION cb_give_lots(
  p_head bigint, p_account bigint, p_asset text, p_txn bigint, p_line smallint, p_amount numeric,
  p_earned timestamptz, p_restores bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_left numeric := p_amount;
  v_give numeric;
  v_deficit numeric;
  v_lot bigint;
  m record;
BEGIN
  PERFORM cb_assert(p_amount > 0, format('lots of account %s: a credit of %s to fold', p_account, p_amount));
  SELECT s.deficit INTO v_deficit FROM wallet_lot_states s WHERE s.head_id = p_head AND s.account_id = p_account;
  IF coalesce(v_deficit, 0) > 0 THEN
    v_give := least(v_left, v_deficit);
    UPDATE wallet_lot_states SET deficit = deficit - v_give WHERE head_id = p_head AND account_id = p_account;
    INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount)
    VALUES (p_head, p_account, NULL, p_txn, p_line, 'DEFICIT', v_give);
    v_left := v_left - v_give;
  END IF;
  IF p_restores IS NOT NULL THEN
    FOR m IN
      SELECT s.lot_id, -s.amount AS taken FROM wallet_lot_moves s
       WHERE s.head_id = p_head AND s.account_id = p_account AND s.transaction_id = p_restores AND s.kind = 'SPEND'
       ORDER BY s.id
    LOOP
      EXIT WHEN v_left = 0;
      v_give := least(v_left, m.taken);
      UPDATE wallet_lots SET remaining = remaining + v_give WHERE head_id = p_head AND id = m.lot_id;
      INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount)
      VALUES (p_head, p_account, m.lot_id, p_txn, p_line, 'RESTORE', v_give);
      v_left := v_left - v_give;
    END LOOP;
  END IF;
  IF v_left > 0 THEN
    INSERT INTO wallet_lots (head_id, account_id, asset_code, transaction_id, line, earned_at, amount, remaining)
    VALUES (p_head, p_account, p_asset, p_txn, p_line, p_earned, v_left, v_left)
    RETURNING id INTO v_lot;
    INSERT INTO wallet_lot_moves (head_id, account_id, lot_id, transaction_id, line, kind, amount)
    VALUES (p_head, p_account, v_lot, p_txn, p_line, 'EARN', v_left);
  END IF;
END
$fn$;
