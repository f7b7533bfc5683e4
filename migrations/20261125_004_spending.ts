// Spending points: the merchant catalog (公益商城 / 积分超市), redemptions with vouchers fulfilled at
// the counter (核销), and crowdfunding pools (积分众筹). Invariant 6 is held here: stock never goes
// below zero (a CHECK), a redemption moves only along PENDING → FULFILLED → REFUNDED or PENDING →
// CANCELLED / EXPIRED (a trigger); its hold's transaction moves only PENDING → POSTED / VOIDED
// (transactions_final_status, migration 020).
// Invariant 3 for holds: a redemption raises its wallet's `held` only while balance - held covers it.
// Each write is one SQL function, one round trip, locks taken in one order: redemption, catalog
// item or pool, then accounts by id.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    CREATE SEQUENCE catalog_items_id_seq;
    CREATE TABLE catalog_items (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('catalog_items_id_seq'),
      merchant_id bigint NOT NULL,
      -- the merchant's own code for the item: upsertCatalogItem creates or updates by it
      code text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
      title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      description text CHECK (length(description) <= 2000),
      category text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
      -- POINTS per unit
      cost numeric NOT NULL CHECK (cost > 0 AND round(cost, 2) = cost),
      -- units left to redeem; NULL is unlimited. Invariant 6: never below zero.
      stock_left integer CHECK (stock_left >= 0),
      limit_per_member integer CHECK (limit_per_member > 0),
      -- the window the per-member limit counts in; NULL with a limit means ever
      limit_window text CHECK (limit_window IN ('DAY', 'WEEK', 'MONTH', 'YEAR')),
      -- visible to members of this branch's subtree
      visible_branch_id bigint NOT NULL REFERENCES branches (id),
      active_from timestamptz,
      active_to timestamptz,
      voucher_valid_days integer NOT NULL CHECK (voucher_valid_days BETWEEN 1 AND 365),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, merchant_id) REFERENCES merchants (head_id, id),
      CONSTRAINT catalog_items_code_unique UNIQUE (head_id, merchant_id, code),
      CONSTRAINT catalog_items_active_order CHECK (active_to IS NULL OR active_from IS NULL OR active_from < active_to),
      CONSTRAINT catalog_items_window_needs_limit CHECK (limit_window IS NULL OR limit_per_member IS NOT NULL)
    );
    CREATE INDEX catalog_items_merchant ON catalog_items (head_id, merchant_id, id);
    CREATE INDEX catalog_items_visible ON catalog_items (head_id, visible_branch_id, id);

    CREATE SEQUENCE redemptions_id_seq;
    CREATE TABLE redemptions (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('redemptions_id_seq'),
      -- the voucher code: 10 characters of Crockford base32 (50 random bits), read out at the counter
      code text NOT NULL CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{10}$'),
      item_id bigint NOT NULL,
      merchant_id bigint NOT NULL,
      member_id bigint NOT NULL,
      quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
      cost numeric NOT NULL CHECK (cost > 0),
      status text NOT NULL CHECK (status IN ('PENDING', 'FULFILLED', 'CANCELLED', 'EXPIRED', 'REFUNDED')),
      -- the REDEEM transaction: PENDING while the voucher is, POSTED when fulfilled, VOIDED when released
      transaction_id bigint NOT NULL,
      refund_transaction_id bigint,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      created_by text NOT NULL,
      fulfilled_at timestamptz,
      fulfilled_by text,
      released_at timestamptz,
      released_by text,
      refunded_at timestamptz,
      refunded_by text,
      restocked boolean NOT NULL DEFAULT false,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, item_id) REFERENCES catalog_items (head_id, id),
      FOREIGN KEY (head_id, merchant_id) REFERENCES merchants (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      FOREIGN KEY (head_id, refund_transaction_id) REFERENCES transactions (head_id, id),
      CONSTRAINT redemptions_code_unique UNIQUE (head_id, code),
      CONSTRAINT redemptions_transaction_unique UNIQUE (head_id, transaction_id),
      CONSTRAINT redemptions_fulfilled_when CHECK ((status IN ('FULFILLED', 'REFUNDED')) = (fulfilled_at IS NOT NULL)),
      CONSTRAINT redemptions_released_when CHECK ((status IN ('CANCELLED', 'EXPIRED')) = (released_at IS NOT NULL)),
      CONSTRAINT redemptions_refunded_when CHECK ((status = 'REFUNDED') = (refund_transaction_id IS NOT NULL))
    );
    CREATE INDEX redemptions_merchant ON redemptions (head_id, merchant_id, id DESC);
    CREATE INDEX redemptions_merchant_status ON redemptions (head_id, merchant_id, status, id DESC);
    CREATE INDEX redemptions_member ON redemptions (head_id, member_id, id DESC);
    CREATE INDEX redemptions_member_item ON redemptions (head_id, member_id, item_id, created_at);
    CREATE INDEX redemptions_fulfilled ON redemptions (head_id, fulfilled_at) WHERE fulfilled_at IS NOT NULL;
    -- the expiry sweeper's queue: only vouchers still pending
    CREATE INDEX redemptions_pending_expiry ON redemptions (expires_at) WHERE status = 'PENDING';

    -- Invariant 6: a voucher is fulfilled at most once, a fulfilled one cannot be cancelled and a
    -- released one cannot be fulfilled. Whatever the code does, these are the only moves.
    CREATE FUNCTION cb_check_redemption_move() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'PENDING' AND NEW.status IN ('FULFILLED', 'CANCELLED', 'EXPIRED'))
        OR (OLD.status = 'FULFILLED' AND NEW.status = 'REFUNDED')) THEN
        RAISE EXCEPTION 'invariant broken: redemption % cannot move from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'CBASS';
      END IF;
      RETURN NEW;
    END $fn$;
    CREATE TRIGGER redemptions_status_moves BEFORE UPDATE OF status ON redemptions
      FOR EACH ROW EXECUTE FUNCTION cb_check_redemption_move();

    -- Crowdfunding pools: a target in POINTS, a deadline, an account that donations go to.
    CREATE SEQUENCE pools_id_seq;
    CREATE TABLE pools (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('pools_id_seq'),
      branch_id bigint NOT NULL REFERENCES branches (id),
      title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      beneficiary text NOT NULL CHECK (length(beneficiary) BETWEEN 1 AND 200),
      description text CHECK (length(description) <= 2000),
      target numeric NOT NULL CHECK (target > 0 AND round(target, 2) = target),
      raised numeric NOT NULL DEFAULT 0,
      -- donations taken; bounded because closing a pool returns them all in one transaction
      donations integer NOT NULL DEFAULT 0 CHECK (donations BETWEEN 0 AND 10000),
      deadline timestamptz,
      status text NOT NULL CHECK (status IN ('OPEN', 'FUNDED', 'DISBURSED', 'CLOSED')),
      account_id bigint NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      funded_at timestamptz,
      disbursed_at timestamptz,
      disbursed_to bigint,
      disburse_transaction_id bigint,
      closed_at timestamptz,
      close_reason text,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, account_id) REFERENCES accounts (head_id, id),
      FOREIGN KEY (head_id, disbursed_to) REFERENCES merchants (head_id, id),
      FOREIGN KEY (head_id, disburse_transaction_id) REFERENCES transactions (head_id, id),
      -- never more raised than the target (donations past it are LIMIT_EXCEEDED)
      CONSTRAINT pools_raised_within_target CHECK (raised >= 0 AND raised <= target),
      CONSTRAINT pools_funded_at_target CHECK ((status = 'OPEN') = (raised < target AND closed_at IS NULL) OR status = 'CLOSED')
    );
    CREATE INDEX pools_branch ON pools (head_id, branch_id, id DESC);

    -- Who gave what to which pool: closing a pool reverses each of these once.
    CREATE TABLE pool_donations (
      head_id bigint NOT NULL,
      transaction_id bigint NOT NULL,
      pool_id bigint NOT NULL,
      member_id bigint NOT NULL,
      amount numeric NOT NULL CHECK (amount > 0),
      PRIMARY KEY (head_id, transaction_id),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      FOREIGN KEY (head_id, pool_id) REFERENCES pools (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id)
    );
    CREATE INDEX pool_donations_pool ON pool_donations (head_id, pool_id, member_id);

    -- Idempotency for writes whose answer is not just a transaction (a redemption, a pool): claims
    -- the key with an empty result, returns NULL when new, the stored result on a replay, and
    -- refuses a different request (invariant 4). cb_finish_key stores the result before commit.
    CREATE FUNCTION cb_claim_result_key(p_head bigint, p_sub text, p_key text, p_operation text, p_hash text)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
    BEGIN
      INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, result)
      VALUES (p_head, p_sub, p_key, p_operation, p_hash, '{}') ON CONFLICT DO NOTHING;
      IF FOUND THEN
        RETURN NULL;
      END IF;
      SELECT k.operation, k.request_hash, k.result INTO v
        FROM idempotency_keys k WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = p_key;
      PERFORM cb_assert(FOUND, 'idempotency key conflicted but cannot be read');
      IF v.operation <> p_operation OR v.request_hash <> p_hash OR v.result IS NULL OR v.result = '{}' THEN
        PERFORM cb_fail('IDEMPOTENCY_CONFLICT', format(
          'idempotencyKey "%s" was already used for a different %s request; send a new key for a new request', p_key, v.operation));
      END IF;
      RETURN v.result || '{"replayed": true}';
    END $fn$;

    CREATE FUNCTION cb_finish_key(p_head bigint, p_sub text, p_key text, p_result jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE idempotency_keys SET result = p_result WHERE head_id = p_head AND subject = p_sub AND key = p_key;
      PERFORM cb_assert(FOUND, 'a claimed idempotency key vanished');
      RETURN p_result || '{"replayed": false}';
    END $fn$;

    -- A voucher past its expiry reads as EXPIRED from that instant, swept or not.
    CREATE FUNCTION cb_redemption_status(p_status text, p_expires timestamptz) RETURNS text LANGUAGE sql STABLE AS $fn$
      SELECT CASE WHEN p_status = 'PENDING' AND p_expires <= now() THEN 'EXPIRED' ELSE p_status END
    $fn$;

    -- redeem: a member spends from its own wallet on a catalog item. Holds cost × quantity (held
    -- rises, balance does not), reserves stock, writes a PENDING REDEEM transaction whose postings
    -- (wallet -cost, merchant +cost) post on fulfilment, and issues the voucher p_code.
    -- Locks: the item row (stock), then the wallet row (hold, and the per-member limit count).
    CREATE FUNCTION cb_redeem(p_head bigint, p_sub text, p_role text, p_key text, p_hash text,
                              p_member bigint, p_item bigint, p_quantity integer, p_code text)
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
    BEGIN
      IF v_replay IS NOT NULL THEN
        RETURN v_replay;
      END IF;
      SELECT m.id, m.external_id, m.branch_id, b.path, b.time_zone INTO v_member
        FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.head_id = p_head AND m.id = p_member;
      IF NOT FOUND THEN
        PERFORM cb_fail('UNAUTHENTICATED', format('token rejected: no member %s in this bank', p_member));
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
       WHERE a.head_id = p_head AND a.owner_type = 'MEMBER' AND a.owner_id = p_member AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
       FOR UPDATE;
      PERFORM cb_assert(FOUND, format('member %s has no POINTS wallet', p_member));
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
        PERFORM cb_fail('INSUFFICIENT_FUNDS', format('member %s has %s POINTS available, %s × "%s" costs %s',
          v_member.external_id, (v_wallet.balance - v_wallet.held)::text, p_quantity, v_item.title, v_cost::text));
      END IF;
      SELECT a.id INTO v_merchant_account FROM accounts a
       WHERE a.head_id = p_head AND a.owner_type = 'MERCHANT' AND a.owner_id = v_item.merchant_id AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
      PERFORM cb_assert(FOUND, format('merchant %s has no POINTS account', v_item.merchant_id));

      UPDATE accounts SET held = held + v_cost WHERE head_id = p_head AND id = v_wallet.id;
      v_txn := nextval('transactions_id_seq');
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at, memo)
      VALUES (p_head, v_txn, 'REDEEM', 'PENDING', v_member.branch_id, p_member, p_sub, p_role, v_now, v_now,
              format('%s × %s (%s)', p_quantity, v_item.title, v_item.merchant_name));
      -- balance_after stays NULL: these postings move balances only when the voucher is fulfilled.
      INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
      VALUES (p_head, v_txn, 1, least(v_wallet.id, v_merchant_account), 'POINTS', v_wallet.asset_scale,
              CASE WHEN v_wallet.id < v_merchant_account THEN -v_cost ELSE v_cost END, NULL, v_now),
             (p_head, v_txn, 2, greatest(v_wallet.id, v_merchant_account), 'POINTS', v_wallet.asset_scale,
              CASE WHEN v_wallet.id < v_merchant_account THEN v_cost ELSE -v_cost END, NULL, v_now);
      INSERT INTO redemptions (head_id, code, item_id, merchant_id, member_id, quantity, cost, status, transaction_id, expires_at, created_at, created_by)
      VALUES (p_head, p_code, p_item, v_item.merchant_id, p_member, p_quantity, v_cost, 'PENDING', v_txn,
              v_now + make_interval(days => v_item.voucher_valid_days), v_now, p_sub)
      RETURNING id INTO v_id;
      RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v_id::text));
    END $fn$;

    -- Releases a pending redemption (cancelled or expired): the hold and the stock come back, the
    -- REDEEM transaction is VOIDED. The caller holds the redemption's row lock.
    CREATE FUNCTION cb_release_redemption(p_head bigint, p_id bigint, p_status text, p_by text) RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
    BEGIN
      UPDATE redemptions SET status = p_status, released_at = now(), released_by = p_by
       WHERE head_id = p_head AND id = p_id AND status = 'PENDING'
      RETURNING item_id, member_id, quantity, cost, transaction_id INTO v;
      PERFORM cb_assert(FOUND, format('redemption %s is not pending under its lock', p_id));
      UPDATE catalog_items SET stock_left = stock_left + v.quantity WHERE head_id = p_head AND id = v.item_id AND stock_left IS NOT NULL;
      UPDATE accounts SET held = held - v.cost
       WHERE head_id = p_head AND owner_type = 'MEMBER' AND owner_id = v.member_id AND asset_code = 'POINTS' AND purpose = 'WALLET'
         AND held >= v.cost;
      PERFORM cb_assert(FOUND, format('the hold of redemption %s is missing from the wallet', p_id));
      UPDATE transactions SET status = 'VOIDED' WHERE head_id = p_head AND id = v.transaction_id AND status = 'PENDING';
      PERFORM cb_assert(FOUND, format('the REDEEM transaction of redemption %s is not pending', p_id));
    END $fn$;

    -- The redemption a merchant, member or admin names by voucher code, locked; with its effective status.
    CREATE FUNCTION cb_lock_voucher(p_head bigint, p_code text) RETURNS redemptions LANGUAGE plpgsql AS $fn$
    DECLARE
      v redemptions;
    BEGIN
      SELECT * INTO v FROM redemptions WHERE head_id = p_head AND code = p_code FOR UPDATE;
      IF NOT FOUND THEN
        PERFORM cb_fail('NOT_FOUND', format('code: no voucher %s', p_code));
      END IF;
      RETURN v;
    END $fn$;

    -- fulfillRedemption (核销): the merchant that owns the item posts the hold to its account.
    CREATE FUNCTION cb_fulfill_redemption(p_head bigint, p_sub text, p_key text, p_hash text, p_code text, p_merchant bigint)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'fulfillRedemption', p_hash);
      v redemptions;
      v_status text;
      v_moved integer;
    BEGIN
      IF v_replay IS NOT NULL THEN
        RETURN v_replay;
      END IF;
      v := cb_lock_voucher(p_head, p_code);
      IF v.merchant_id <> p_merchant THEN
        PERFORM cb_fail('FORBIDDEN', format('voucher %s is for another merchant''s item', p_code));
      END IF;
      v_status := cb_redemption_status(v.status, v.expires_at);
      -- A repeat by the device that fulfilled it (its token's subject), even under a new key, is an
      -- idempotent success: a till that re-scans must not show the cashier an error.
      IF v_status = 'FULFILLED' AND v.fulfilled_by = p_sub THEN
        RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text)) || '{"replayed": true}';
      END IF;
      IF v_status <> 'PENDING' THEN
        PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s%s; only a PENDING voucher can be fulfilled', p_code, v_status,
          CASE v_status WHEN 'FULFILLED' THEN ' (at ' || v.fulfilled_at || ')' WHEN 'EXPIRED' THEN ' (since ' || v.expires_at || ')' ELSE '' END));
      END IF;
      UPDATE redemptions SET status = 'FULFILLED', fulfilled_at = now(), fulfilled_by = p_sub WHERE head_id = p_head AND id = v.id;
      UPDATE transactions SET status = 'POSTED' WHERE head_id = p_head AND id = v.transaction_id AND status = 'PENDING';
      PERFORM cb_assert(FOUND, format('the REDEEM transaction of voucher %s is not pending', p_code));
      -- The postings were written at redeem time (recorded_at is the redemption's created_at); now they
      -- move the balances, accounts locked in id order.
      PERFORM 1 FROM accounts a
        WHERE a.head_id = p_head AND a.id IN (SELECT p.account_id FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at)
        ORDER BY a.id FOR UPDATE;
      WITH moved AS (
             UPDATE accounts a SET balance = a.balance + p.amount, held = a.held + least(p.amount, 0)
               FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at
                AND a.head_id = p_head AND a.id = p.account_id
             RETURNING a.id)
      SELECT count(*) INTO v_moved FROM moved;
      PERFORM cb_assert(v_moved = 2, format('voucher %s: %s accounts moved, 2 expected', p_code, v_moved));
      RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text));
    END $fn$;

    -- cancelRedemption: the member who redeemed, or the merchant, before fulfilment.
    CREATE FUNCTION cb_cancel_redemption(p_head bigint, p_sub text, p_key text, p_hash text, p_code text, p_member bigint, p_merchant bigint)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'cancelRedemption', p_hash);
      v redemptions;
      v_status text;
    BEGIN
      IF v_replay IS NOT NULL THEN
        RETURN v_replay;
      END IF;
      v := cb_lock_voucher(p_head, p_code);
      IF v.member_id IS DISTINCT FROM p_member AND v.merchant_id IS DISTINCT FROM p_merchant THEN
        PERFORM cb_fail('FORBIDDEN', format('voucher %s is neither yours nor for your items', p_code));
      END IF;
      v_status := cb_redemption_status(v.status, v.expires_at);
      IF v_status <> 'PENDING' THEN
        PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s; only a PENDING voucher can be cancelled', p_code, v_status));
      END IF;
      PERFORM cb_release_redemption(p_head, v.id, 'CANCELLED', p_sub);
      RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text));
    END $fn$;

    -- The expiry sweeper releases one voucher per call (one transaction each, so its locks follow the
    -- order redemption, item, wallet like every other voucher write): p_id if it is still PENDING
    -- and past its expiry. SKIP LOCKED: a voucher another process is releasing, or that a fulfilment
    -- holds, is left to it. Returns whether this call released it; each is released exactly once.
    CREATE FUNCTION cb_expire_redemption(p_head bigint, p_id bigint) RETURNS boolean LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM 1 FROM redemptions WHERE head_id = p_head AND id = p_id AND status = 'PENDING' AND expires_at <= now()
        FOR UPDATE SKIP LOCKED;
      IF NOT FOUND THEN
        RETURN false;
      END IF;
      PERFORM cb_release_redemption(p_head, p_id, 'EXPIRED', 'expiry-sweeper');
      RETURN true;
    END $fn$;

    -- refundRedemption: a reversal of a fulfilled redemption's transaction, back to the member's
    -- wallet, once (transactions_reversed_once and the status move both hold that). p_merchant is
    -- the merchant caller (NULL for an admin, whose scope p_scope_path must cover the member).
    CREATE FUNCTION cb_refund_redemption(p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_code text,
                                         p_merchant bigint, p_scope_path text, p_restock boolean, p_reason text)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'refundRedemption', p_hash);
      v redemptions;
      v_member_path text;
      v_branch bigint;
      v_txn bigint := nextval('transactions_id_seq');
      v_now timestamptz := now();
      v_restocked boolean := false;
    BEGIN
      IF v_replay IS NOT NULL THEN
        RETURN v_replay;
      END IF;
      v := cb_lock_voucher(p_head, p_code);
      SELECT b.path, b.id INTO v_member_path, v_branch FROM members m JOIN branches b ON b.id = m.branch_id
       WHERE m.head_id = p_head AND m.id = v.member_id;
      IF (p_merchant IS NOT NULL AND v.merchant_id <> p_merchant) OR (p_merchant IS NULL AND NOT starts_with(v_member_path, p_scope_path)) THEN
        PERFORM cb_fail('FORBIDDEN', format('voucher %s is outside your scope', p_code));
      END IF;
      IF v.status <> 'FULFILLED' THEN
        PERFORM cb_fail('INVALID_STATE', format('voucher %s is %s; only a FULFILLED voucher can be refunded', p_code,
          cb_redemption_status(v.status, v.expires_at)));
      END IF;
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                                occurred_at, recorded_at, memo, reason, reverses_id)
      VALUES (p_head, v_txn, 'REVERSAL', 'POSTED', v_branch, v.member_id, p_sub, p_role, v_now, v_now,
              format('refund of voucher %s', p_code), p_reason, v.transaction_id);
      -- The item before the accounts, as every voucher write locks them.
      IF p_restock THEN
        UPDATE catalog_items SET stock_left = stock_left + v.quantity WHERE head_id = p_head AND id = v.item_id AND stock_left IS NOT NULL;
        v_restocked := FOUND;
      END IF;
      PERFORM cb_post_lines(p_head, v_txn, v_now,
        (SELECT jsonb_agg(jsonb_build_object('accountId', p.account_id, 'amount', -p.amount))
           FROM postings p WHERE p.head_id = p_head AND p.transaction_id = v.transaction_id AND p.recorded_at = v.created_at), false);
      UPDATE redemptions SET status = 'REFUNDED', refund_transaction_id = v_txn, refunded_at = v_now, refunded_by = p_sub,
                             restocked = v_restocked
       WHERE head_id = p_head AND id = v.id;
      RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('redemptionId', v.id::text, 'transactionId', v_txn::text));
    END $fn$;

    -- donate: a member gives from its own wallet to an OPEN pool, never past the target.
    -- Locks: the pool row (so concurrent donations add up below the target), then the accounts.
    CREATE FUNCTION cb_donate(p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_member bigint, p_pool bigint,
                              p_amount numeric, p_memo text)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_txn bigint := nextval('transactions_id_seq');
      v_previous bigint := cb_claim_key(p_head, p_sub, p_key, 'donate', p_hash, v_txn);
      v_pool record;
      v_member record;
      v_wallet bigint;
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
       WHERE a.head_id = p_head AND a.owner_type = 'MEMBER' AND a.owner_id = p_member AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role, occurred_at, recorded_at, memo)
      VALUES (p_head, v_txn, 'DONATE', 'POSTED', v_member.branch_id, p_member, p_sub, p_role, v_now, v_now,
              coalesce(p_memo, format('donation to pool "%s"', v_pool.title)));
      PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
        jsonb_build_object('accountId', v_wallet, 'amount', -p_amount),
        jsonb_build_object('accountId', v_pool.account_id, 'amount', p_amount)), false);
      INSERT INTO pool_donations (head_id, transaction_id, pool_id, member_id, amount) VALUES (p_head, v_txn, p_pool, p_member, p_amount);
      UPDATE pools SET raised = raised + p_amount, donations = donations + 1,
                       status = CASE WHEN raised + p_amount = target THEN 'FUNDED' ELSE status END,
                       funded_at = CASE WHEN raised + p_amount = target THEN v_now END
       WHERE head_id = p_head AND id = p_pool;
      RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
    END $fn$;

    -- The pool an admin acts on, locked: it exists and its branch is inside the admin's scope.
    CREATE FUNCTION cb_lock_pool(p_head bigint, p_pool bigint, p_scope_path text) RETURNS pools LANGUAGE plpgsql AS $fn$
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
    END $fn$;

    -- disbursePool: an admin pays a FUNDED pool's whole balance to a merchant for the service it buys.
    CREATE FUNCTION cb_disburse_pool(p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_pool bigint,
                                     p_scope_path text, p_merchant bigint, p_memo text)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_txn bigint := nextval('transactions_id_seq');
      v_previous bigint := cb_claim_key(p_head, p_sub, p_key, 'disbursePool', p_hash, v_txn);
      v_pool pools;
      v_balance numeric;
      v_merchant_account bigint;
      v_now timestamptz := now();
    BEGIN
      IF v_previous IS NOT NULL THEN
        RETURN jsonb_build_object('replayed', true, 'transactionId', v_previous::text);
      END IF;
      v_pool := cb_lock_pool(p_head, p_pool, p_scope_path);
      IF v_pool.status <> 'FUNDED' THEN
        PERFORM cb_fail('INVALID_STATE', format('pool "%s" is %s (raised %s of %s); only a FUNDED pool can be disbursed',
          v_pool.title, v_pool.status, v_pool.raised::text, v_pool.target::text));
      END IF;
      SELECT a.id INTO v_merchant_account FROM accounts a
       WHERE a.head_id = p_head AND a.owner_type = 'MERCHANT' AND a.owner_id = p_merchant AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET';
      IF NOT FOUND THEN
        PERFORM cb_fail('NOT_FOUND', format('merchant: no merchant %s', p_merchant));
      END IF;
      SELECT balance INTO v_balance FROM accounts WHERE head_id = p_head AND id = v_pool.account_id;
      PERFORM cb_assert(v_balance = v_pool.raised, format('pool %s holds %s but raised %s', p_pool, v_balance, v_pool.raised));
      INSERT INTO transactions (head_id, id, kind, status, branch_id, principal_sub, principal_role, occurred_at, recorded_at, memo)
      VALUES (p_head, v_txn, 'DISBURSE', 'POSTED', v_pool.branch_id, p_sub, p_role, v_now, v_now, p_memo);
      PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
        jsonb_build_object('accountId', v_pool.account_id, 'amount', -v_balance),
        jsonb_build_object('accountId', v_merchant_account, 'amount', v_balance)), false);
      UPDATE pools SET status = 'DISBURSED', disbursed_at = v_now, disbursed_to = p_merchant, disburse_transaction_id = v_txn
       WHERE head_id = p_head AND id = p_pool;
      RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
    END $fn$;

    -- closePool: an admin closes an OPEN or FUNDED pool and every donation is reversed back to its
    -- donor, all in this one database transaction: interrupted, nothing happened; retried, the
    -- pool is CLOSED and each donation was reversed once (transactions_reversed_once).
    CREATE FUNCTION cb_close_pool(p_head bigint, p_sub text, p_role text, p_key text, p_hash text, p_pool bigint,
                                  p_scope_path text, p_reason text)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_replay jsonb := cb_claim_result_key(p_head, p_sub, p_key, 'closePool', p_hash);
      v_pool pools;
      v_donation record;
      v_txn bigint;
      v_refunds integer := 0;
      v_now timestamptz := now();
      v_balance numeric;
    BEGIN
      IF v_replay IS NOT NULL THEN
        RETURN v_replay;
      END IF;
      v_pool := cb_lock_pool(p_head, p_pool, p_scope_path);
      IF v_pool.status NOT IN ('OPEN', 'FUNDED') THEN
        PERFORM cb_fail('INVALID_STATE', format('pool "%s" is %s; only an OPEN or FUNDED pool can be closed', v_pool.title, v_pool.status));
      END IF;
      -- Every account the refunds touch, locked up front in id order (as every writer locks them).
      PERFORM 1 FROM accounts a
        WHERE a.head_id = p_head AND (a.id = v_pool.account_id OR a.id IN (
          SELECT w.id FROM pool_donations d JOIN accounts w ON w.head_id = d.head_id AND w.owner_type = 'MEMBER' AND w.owner_id = d.member_id
                                                         AND w.asset_code = 'POINTS' AND w.purpose = 'WALLET'
           WHERE d.head_id = p_head AND d.pool_id = p_pool))
        ORDER BY a.id FOR UPDATE;
      FOR v_donation IN
        SELECT d.transaction_id, d.member_id, d.amount, m.branch_id, a.id AS wallet
          FROM pool_donations d JOIN members m ON m.head_id = d.head_id AND m.id = d.member_id
          JOIN accounts a ON a.head_id = d.head_id AND a.owner_type = 'MEMBER' AND a.owner_id = d.member_id
                         AND a.asset_code = 'POINTS' AND a.purpose = 'WALLET'
         WHERE d.head_id = p_head AND d.pool_id = p_pool
           AND NOT EXISTS (SELECT 1 FROM transactions r WHERE r.head_id = d.head_id AND r.reverses_id = d.transaction_id)
         ORDER BY d.transaction_id
      LOOP
        v_txn := nextval('transactions_id_seq');
        INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                                  occurred_at, recorded_at, memo, reason, reverses_id)
        VALUES (p_head, v_txn, 'REVERSAL', 'POSTED', v_donation.branch_id, v_donation.member_id, p_sub, p_role, v_now, v_now,
                format('pool "%s" closed: donation returned', v_pool.title), p_reason, v_donation.transaction_id);
        PERFORM cb_post_lines(p_head, v_txn, v_now, jsonb_build_array(
          jsonb_build_object('accountId', v_pool.account_id, 'amount', -v_donation.amount),
          jsonb_build_object('accountId', v_donation.wallet, 'amount', v_donation.amount)), false);
        v_refunds := v_refunds + 1;
      END LOOP;
      SELECT balance INTO v_balance FROM accounts WHERE head_id = p_head AND id = v_pool.account_id;
      PERFORM cb_assert(v_balance = 0, format('pool %s still holds %s after returning every donation', p_pool, v_balance));
      UPDATE pools SET status = 'CLOSED', closed_at = v_now, close_reason = p_reason WHERE head_id = p_head AND id = p_pool;
      RETURN cb_finish_key(p_head, p_sub, p_key, jsonb_build_object('poolId', p_pool::text, 'refunds', v_refunds));
    END $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS cb_close_pool, cb_disburse_pool, cb_lock_pool, cb_donate, cb_refund_redemption, cb_expire_redemption,
      cb_cancel_redemption, cb_fulfill_redemption, cb_lock_voucher, cb_release_redemption, cb_redeem,
      cb_redemption_status, cb_finish_key, cb_claim_result_key;
    DROP FUNCTION IF EXISTS cb_check_redemption_move;
    DROP TABLE IF EXISTS pool_donations, pools, redemptions, catalog_items;
    DROP SEQUENCE IF EXISTS pools_id_seq, redemptions_id_seq, catalog_items_id_seq;
  `);
}
