-- cb_redeem: a member spends from its own wallet on a catalog item. Holds cost × quantity (held rises,
-- balance does not; invariant 3 against balance - held), reserves stock (invariant 6), writes a PENDING
-- REDEEM transaction whose postings post on fulfilment, and issues the voucher p_code. Invariant 4 by key.
-- With p_household the member spends from its household's wallet instead (migration 072), where the
-- branch policy lets it (cb_household_spender); the voucher remembers the wallet, so a cancel, an expiry
-- or a refund returns the points there.

-- Locks: the member's household membership (shared, when spending from the household), the item row
-- (stock), then the wallet row (hold, and the per-member limit count).
DROP FUNCTION IF EXISTS cb_redeem(bigint, text, text, text, text, bigint, bigint, integer, text);
CREATE OR REPLACE FUNCTION cb_redeem(
  p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_member bigint, p_item bigint, p_quantity integer,
  p_code text, p_household boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'redeem', p_hash);
  v_item record;
  v_member record;
  v_wallet record;
  v_merchant_account bigint;
  v_cost numeric;
  v_used bigint;
  v_window_start timestamptz;
  v_left integer;
  v_txn bigint;
  v_id bigint;
  v_now timestamptz := now();
  v_household_id bigint;
  v_household_external_id text;
  v_owner text := 'member';
BEGIN
  IF v_replay IS NOT NULL THEN
    RETURN v_replay;
  END IF;
  SELECT m.id, m.external_id, m.branch_id, b.path, b.time_zone INTO v_member
    FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.head_id = p_head AND m.id = p_member;
  IF NOT FOUND THEN
    PERFORM cb_fail('UNAUTHENTICATED', format('token rejected: no member %s in this bank', p_member));
  END IF;
  v_owner := 'member ' || v_member.external_id;
  IF p_household THEN
    SELECT s.household_id, s.household_external_id INTO v_household_id, v_household_external_id
      FROM cb_household_spender(p_head, p_member) s;
    v_owner := 'household ' || v_household_external_id;
  END IF;
  SELECT i.*, vb.path AS visible_path, mc.name AS merchant_name INTO v_item
    FROM catalog_items i JOIN branches vb ON vb.id = i.visible_branch_id
    JOIN merchants mc ON mc.head_id = i.head_id AND mc.id = i.merchant_id
   WHERE i.head_id = p_head AND i.id = p_item;
  IF NOT FOUND OR NOT starts_with(v_member.path, v_item.visible_path) THEN
    PERFORM cb_fail('NOT_FOUND', format('item: no catalog item %s is offered to member %s', p_item, v_member.external_id));
  END IF;
  IF (v_item.active_from IS NOT NULL AND v_now < v_item.active_from) OR (v_item.active_to IS NOT NULL AND v_now >= v_item.active_to) THEN
    PERFORM cb_fail('INVALID_STATE', format('item "%s" is offered from %s to %s, not now', v_item.title,
      coalesce(v_item.active_from::text, 'the beginning'), coalesce(v_item.active_to::text, 'no end')));
  END IF;
  -- Stock is reserved under the item's row lock, taken only for stocked items (an unlimited
  -- item's redemptions do not queue on one row); the per-member limit queues on the wallet.
  IF v_item.stock_left IS NOT NULL THEN
    UPDATE catalog_items SET stock_left = stock_left - p_quantity
     WHERE head_id = p_head AND id = p_item AND stock_left >= p_quantity RETURNING stock_left INTO v_left;
    IF NOT FOUND THEN
      SELECT stock_left INTO v_left FROM catalog_items WHERE head_id = p_head AND id = p_item;
      IF v_left IS NOT NULL THEN
        PERFORM cb_fail('OUT_OF_STOCK', format('item "%s" has %s left, you asked for %s', v_item.title, v_left, p_quantity));
      END IF;
    END IF;
  END IF;
  SELECT a.id, a.balance, a.held, a.asset_scale INTO v_wallet FROM accounts a
   WHERE a.head_id = p_head AND a.owner_type = CASE WHEN p_household THEN 'HOUSEHOLD' ELSE 'MEMBER' END
     AND a.owner_id = CASE WHEN p_household THEN v_household_id ELSE p_member END
     AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
   FOR UPDATE;
  PERFORM cb_assert(FOUND, format('%s has no POINTS wallet', v_owner));
  -- The per-member limit, counted under the wallet's lock: two devices of one member queue here.
  IF v_item.limit_per_member IS NOT NULL THEN
    v_window_start := CASE WHEN v_item.limit_window IS NULL THEN '-infinity'::timestamptz
      ELSE date_trunc(lower(v_item.limit_window), v_now AT TIME ZONE v_member.time_zone) AT TIME ZONE v_member.time_zone END;
    SELECT coalesce(sum(r.quantity), 0) INTO v_used FROM redemptions r
     WHERE r.head_id = p_head AND r.member_id = p_member AND r.item_id = p_item AND r.created_at >= v_window_start
       AND cb_redemption_status(r.status, r.expires_at) IN ('PENDING', 'FULFILLED');
    IF v_used + p_quantity > v_item.limit_per_member THEN
      PERFORM cb_fail('LIMIT_EXCEEDED', format('item "%s" allows %s per member%s; member %s has %s, this asks %s more',
        v_item.title, v_item.limit_per_member, coalesce(' per ' || lower(v_item.limit_window), ''), v_member.external_id, v_used, p_quantity));
    END IF;
  END IF;
  v_cost := v_item.cost * p_quantity;
  IF v_wallet.balance - v_wallet.held < v_cost THEN
    PERFORM cb_fail('INSUFFICIENT_FUNDS', format('%s has %s POINTS available, %s × "%s" costs %s',
      v_owner, (v_wallet.balance - v_wallet.held)::text, p_quantity, v_item.title, v_cost::text));
  END IF;
  SELECT a.id INTO v_merchant_account FROM accounts a
   WHERE a.head_id = p_head AND a.owner_type = 'MERCHANT' AND a.owner_id = v_item.merchant_id AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
  PERFORM cb_assert(FOUND, format('merchant %s has no POINTS account', v_item.merchant_id));

  UPDATE accounts SET held = held + v_cost WHERE head_id = p_head AND id = v_wallet.id;
  v_txn := nextval('transactions_id_seq');
  INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at, memo,
                            household_id)
  VALUES (p_head, v_txn, 'REDEEM', 'PENDING', v_member.branch_id, p_member, p_sub, p_role, v_now, v_now,
          format('%s × %s (%s)', p_quantity, v_item.title, v_item.merchant_name), v_household_id);
  -- balance_after stays NULL: these postings move balances only when the voucher is fulfilled.
  INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
  VALUES (p_head, v_txn, 1, least(v_wallet.id, v_merchant_account), 'POINTS', v_wallet.asset_scale,
          CASE WHEN v_wallet.id < v_merchant_account THEN -v_cost ELSE v_cost END, NULL, v_now),
         (p_head, v_txn, 2, greatest(v_wallet.id, v_merchant_account), 'POINTS', v_wallet.asset_scale,
          CASE WHEN v_wallet.id < v_merchant_account THEN v_cost ELSE -v_cost END, NULL, v_now);
  INSERT INTO redemptions (head_id, code, item_id, merchant_id, member_id, quantity, cost, status, transaction_id, expires_at, created_at, created_by,
                           household_id)
  VALUES (p_head, p_code, p_item, v_item.merchant_id, p_member, p_quantity, v_cost, 'PENDING', v_txn,
          v_now + make_interval(days => v_item.voucher_valid_days), v_now, p_sub, v_household_id)
  RETURNING id INTO v_id;
  RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v_id::text));
END
$fn$;
