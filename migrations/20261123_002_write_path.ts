// The write path as a few well-named SQL functions, so that one award is one database round trip.
// cb_claim_key holds invariant 4 (one key, one write), cb_post_lines invariants 1-3 (postings sum
// to zero per asset, balances move with postings, no member wallet overdraws), cb_award invariant 5
// (rule caps, by conditional upserts of rule_usage under row locks).
// Errors a caller can act on are raised as SQLSTATE CB000 with the SPEC error code in HINT;
// broken invariants are SQLSTATE CBASS (an assertion: the request stops with INTERNAL).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    CREATE FUNCTION cb_fail(p_code text, p_message text) RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'CB000', MESSAGE = p_message, HINT = p_code;
    END $fn$;

    CREATE FUNCTION cb_assert(p_ok boolean, p_message text) RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      IF p_ok IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = 'CBASS', MESSAGE = 'invariant broken: ' || p_message;
      END IF;
    END $fn$;

    -- Invariant 4. Returns NULL when the key is new (the caller then writes transaction p_txn), or
    -- the original transaction id when this is a replay of the same request. A concurrent duplicate
    -- waits here on the unique index until the first commits (then replays) or rolls back (then
    -- writes); a rejected request rolls back, so rejections never use up a key.
    CREATE FUNCTION cb_claim_key(p_head bigint, p_sub text, p_key text, p_operation text, p_hash text, p_txn bigint)
    RETURNS bigint LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
    BEGIN
      INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, transaction_id)
      VALUES (p_head, p_sub, p_key, p_operation, p_hash, p_txn)
      ON CONFLICT DO NOTHING;
      IF FOUND THEN
        RETURN NULL;
      END IF;
      SELECT k.operation, k.request_hash, k.transaction_id INTO v
        FROM idempotency_keys k WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = p_key;
      PERFORM cb_assert(FOUND, 'idempotency key conflicted but cannot be read');
      IF v.operation <> p_operation OR v.request_hash <> p_hash OR v.transaction_id IS NULL THEN
        PERFORM cb_fail('IDEMPOTENCY_CONFLICT', format(
          'idempotencyKey "%s" was already used for a different %s request; send a new key for a new request',
          p_key, v.operation));
      END IF;
      RETURN v.transaction_id;
    END $fn$;

    -- The transaction with its postings, as the API returns it (for a first write and a replay alike).
    CREATE FUNCTION cb_transaction_json(p_head bigint, p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
      SELECT jsonb_build_object(
        'id', t.id::text, 'kind', t.kind, 'status', t.status, 'branchId', t.branch_id::text,
        'memberId', t.member_id::text, 'ruleId', t.rule_id::text,
        'principalSub', t.principal_sub, 'principalRole', t.principal_role,
        'occurredAt', t.occurred_at, 'recordedAt', t.recorded_at, 'memo', t.memo, 'metadata', t.metadata,
        'reason', t.reason, 'reversesId', t.reverses_id::text, 'forced', t.forced,
        'postings', (
          SELECT jsonb_agg(jsonb_build_object(
                   'line', p.line, 'accountId', p.account_id::text, 'asset', p.asset_code,
                   'amount', p.amount::text, 'balanceAfter', p.balance_after::text) ORDER BY p.line)
            FROM postings p
           WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at))
      FROM transactions t WHERE t.head_id = p_head AND t.id = p_id
    $fn$;

    -- Invariants 1-3. Posts the lines [{accountId, amount}] of transaction p_txn (already inserted).
    -- Lines are applied in account id order, so concurrent writers lock wallets in one order.
    -- Directly kept balances move under a guard: a debit that would take an account that may not go
    -- negative below zero available is refused (INSUFFICIENT_FUNDS), unless p_force (an admin's
    -- forced reversal). Deferred (system) balances get an account_deltas row instead of an UPDATE:
    -- no row is written by every award of a branch.
    CREATE FUNCTION cb_post_lines(p_head bigint, p_txn bigint, p_recorded timestamptz, p_lines jsonb, p_force boolean)
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
      v_balance numeric;
      v_line smallint := 0;
      v_unbalanced text;
      v_who text;
    BEGIN
      SELECT string_agg(s.asset_code || ' ' || s.total::text, ', ') INTO v_unbalanced
        FROM (SELECT a.asset_code, sum((e.value->>'amount')::numeric) AS total
                FROM jsonb_array_elements(p_lines) e
                JOIN accounts a ON a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint
               GROUP BY a.asset_code) s
       WHERE s.total <> 0;
      PERFORM cb_assert(v_unbalanced IS NULL, format('transaction %s does not sum to zero: %s', p_txn, v_unbalanced));

      FOR v IN
        SELECT a.id, a.asset_code, a.asset_scale, a.deferred_balance, a.allow_negative, a.owner_type, a.owner_id,
               (e.value->>'amount')::numeric AS amount
          FROM jsonb_array_elements(p_lines) e
          JOIN accounts a ON a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint
         ORDER BY a.id, e.value->>'amount'
      LOOP
        v_line := v_line + 1;
        IF v.deferred_balance THEN
          INSERT INTO account_deltas (head_id, account_id, amount) VALUES (p_head, v.id, v.amount);
          v_balance := NULL;
        ELSE
          UPDATE accounts a SET balance = a.balance + v.amount
           WHERE a.head_id = p_head AND a.id = v.id
             AND (v.amount >= 0 OR a.allow_negative OR p_force OR a.balance - a.held + v.amount >= 0)
          RETURNING a.balance INTO v_balance;
          IF NOT FOUND THEN
            SELECT CASE WHEN a.owner_type = 'MEMBER' THEN 'member ' || m.external_id
                        ELSE lower(a.owner_type) || ' ' || a.owner_id END
                   || format(' has %s %s available, %s needed',
                             (a.balance - a.held)::text, a.asset_code, (-v.amount)::text)
              INTO v_who
              FROM accounts a LEFT JOIN members m ON a.owner_type = 'MEMBER' AND m.head_id = a.head_id AND m.id = a.owner_id
             WHERE a.head_id = p_head AND a.id = v.id;
            PERFORM cb_fail('INSUFFICIENT_FUNDS', v_who);
          END IF;
        END IF;
        INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
        VALUES (p_head, p_txn, v_line, v.id, v.asset_code, v.asset_scale, v.amount, v_balance, p_recorded);
      END LOOP;
      PERFORM cb_assert(v_line = jsonb_array_length(p_lines), format('transaction %s names an unknown account', p_txn));
    END $fn$;

    -- A generic journal entry (transfer, adjustment, reversal): the caller has checked scope and
    -- built balanced lines; this claims the key, records the transaction and posts the lines.
    CREATE FUNCTION cb_post_entry(p_head bigint, p_sub text, p_role text, p_key text, p_operation text, p_hash text, p_entry jsonb)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_txn bigint := nextval('transactions_id_seq');
      v_previous bigint;
      v_now timestamptz := now();
    BEGIN
      v_previous := cb_claim_key(p_head, p_sub, p_key, p_operation, p_hash, v_txn);
      IF v_previous IS NOT NULL THEN
        RETURN jsonb_build_object('replayed', true, 'transaction', cb_transaction_json(p_head, v_previous));
      END IF;
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                                occurred_at, recorded_at, memo, metadata, reason, reverses_id, forced)
      VALUES (p_head, v_txn, p_entry->>'kind', 'POSTED', (p_entry->>'branchId')::bigint, (p_entry->>'memberId')::bigint,
              p_sub, p_role, coalesce((p_entry->>'occurredAt')::timestamptz, v_now), v_now,
              p_entry->>'memo', p_entry->'metadata', p_entry->>'reason', (p_entry->>'reversesId')::bigint,
              coalesce((p_entry->>'forced')::boolean, false));
      PERFORM cb_post_lines(p_head, v_txn, v_now, p_entry->'lines', coalesce((p_entry->>'forced')::boolean, false));
      RETURN jsonb_build_object('replayed', false, 'transaction', cb_transaction_json(p_head, v_txn));
    END $fn$;

    -- One award (积分): p_item = {key, hash, memberId | externalId, rule, quantity, occurredAt, memo, metadata}.
    -- p_scope_path is the principal's branch path (a client or admin awards only inside it); p_tz the
    -- bank's time zone, in which cap windows are counted.
    CREATE FUNCTION cb_award(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_item jsonb)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_txn bigint := nextval('transactions_id_seq');
      v_previous bigint;
      v_now timestamptz := now();
      v_occurred timestamptz := (p_item->>'occurredAt')::timestamptz;
      v_local timestamp := (p_item->>'occurredAt')::timestamptz AT TIME ZONE p_tz;
      v_qty numeric := (p_item->>'quantity')::numeric;
      v_member record;
      v_rule record;
      v_cap jsonb;
      v_out jsonb;
      v_usage record;
      v_start date;
      v_amount numeric;
      v_primary numeric;
      v_scale smallint;
      v_deduct boolean;
      v_kind text;
      v_wallet bigint;
      v_system bigint;
      v_lines jsonb := '[]'::jsonb;
    BEGIN
      v_previous := cb_claim_key(p_head, p_sub, p_item->>'key', 'awardPoints', p_item->>'hash', v_txn);
      IF v_previous IS NOT NULL THEN
        RETURN jsonb_build_object('replayed', true, 'transaction', cb_transaction_json(p_head, v_previous));
      END IF;

      IF (p_item->>'memberId') IS NOT NULL THEN
        SELECT m.id, m.external_id, m.branch_id, b.path INTO v_member
          FROM members m JOIN branches b ON b.id = m.branch_id
         WHERE m.head_id = p_head AND m.id = (p_item->>'memberId')::bigint;
      ELSE
        SELECT m.id, m.external_id, m.branch_id, b.path INTO v_member
          FROM members m JOIN branches b ON b.id = m.branch_id
         WHERE m.head_id = p_head AND m.external_id = p_item->>'externalId';
      END IF;
      IF NOT FOUND THEN
        PERFORM cb_fail('NOT_FOUND', format('no member %s in this bank',
          coalesce('with id ' || (p_item->>'memberId'), 'with externalId "' || (p_item->>'externalId') || '"')));
      END IF;
      IF NOT starts_with(v_member.path, p_scope_path) THEN
        PERFORM cb_fail('FORBIDDEN', format('member %s belongs to a branch outside your scope', v_member.external_id));
      END IF;

      -- The deepest branch on the member's path that defines the code wins; its latest version applies.
      SELECT r.* INTO v_rule
        FROM rules r JOIN branches b ON b.id = r.branch_id
       WHERE r.head_id = p_head AND r.code = p_item->>'rule' AND starts_with(v_member.path, b.path)
       ORDER BY b.depth DESC, r.version DESC
       LIMIT 1;
      IF NOT FOUND THEN
        PERFORM cb_fail('NOT_FOUND', format('no rule "%s" applies to member %s', p_item->>'rule', v_member.external_id));
      END IF;
      IF (v_rule.valid_from IS NOT NULL AND v_occurred < v_rule.valid_from)
         OR (v_rule.valid_to IS NOT NULL AND v_occurred >= v_rule.valid_to) THEN
        PERFORM cb_fail('BAD_USER_INPUT', format('occurredAt: rule "%s" version %s is valid from %s to %s',
          v_rule.code, v_rule.version, coalesce(v_rule.valid_from::text, 'the beginning'), coalesce(v_rule.valid_to::text, 'no end')));
      END IF;
      IF v_rule.requires_approval THEN
        PERFORM cb_fail('INVALID_STATE', format('rule "%s" needs approval: submit a claim instead of awarding directly', v_rule.code));
      END IF;
      IF p_role = 'client' AND cardinality(v_rule.allowed_clients) > 0 AND NOT (p_sub = ANY (v_rule.allowed_clients)) THEN
        PERFORM cb_fail('FORBIDDEN', format('client %s may not apply rule "%s"', p_sub, v_rule.code));
      END IF;

      -- Amounts: quantity x amount per unit, truncated to the asset's scale (never over-credit).
      FOR v_out IN SELECT value FROM jsonb_array_elements(v_rule.outputs) LOOP
        SELECT a.scale INTO v_scale FROM assets a WHERE a.code = v_out->>'asset';
        v_amount := trunc(v_qty * (v_out->>'amountPerUnit')::numeric, v_scale);
        IF v_amount = 0 THEN
          PERFORM cb_fail('BAD_USER_INPUT', format('quantity: %s is too small, rule "%s" would give 0 %s',
            v_qty, v_rule.code, v_out->>'asset'));
        END IF;
        v_deduct := (v_out->>'direction') = 'DEDUCT';
        v_primary := coalesce(v_primary, v_amount);
        SELECT a.id INTO v_wallet FROM accounts a
         WHERE a.head_id = p_head AND a.owner_type = 'MEMBER' AND a.owner_id = v_member.id
           AND a.asset_code = v_out->>'asset' AND a.purpose = 'WALLET';
        SELECT a.id INTO v_system FROM accounts a
         WHERE a.head_id = p_head AND a.owner_type = 'SYSTEM' AND a.owner_id = v_member.branch_id
           AND a.asset_code = v_out->>'asset' AND a.purpose = CASE WHEN v_deduct THEN 'PENALTY' ELSE 'ISSUANCE' END;
        PERFORM cb_assert(v_wallet IS NOT NULL AND v_system IS NOT NULL,
          format('accounts of member %s / branch %s for %s are missing', v_member.id, v_member.branch_id, v_out->>'asset'));
        v_lines := v_lines || jsonb_build_array(
          jsonb_build_object('accountId', v_wallet, 'amount', CASE WHEN v_deduct THEN -v_amount ELSE v_amount END),
          jsonb_build_object('accountId', v_system, 'amount', CASE WHEN v_deduct THEN v_amount ELSE -v_amount END));
        v_kind := coalesce(v_kind, CASE WHEN v_deduct THEN 'DEDUCT' ELSE 'EARN' END);
      END LOOP;

      -- Invariant 5: caps, counted in the bank's time zone, window by window in a fixed order
      -- (caps are stored sorted DAY, WEEK, MONTH, YEAR) so concurrent awards lock them alike.
      FOR v_cap IN SELECT value FROM jsonb_array_elements(v_rule.caps) LOOP
        v_start := date_trunc(lower(v_cap->>'window'), v_local)::date;
        IF (v_cap->>'maxCount') IS NOT NULL AND v_qty > (v_cap->>'maxCount')::numeric
           OR (v_cap->>'maxAmount') IS NOT NULL AND v_primary > (v_cap->>'maxAmount')::numeric THEN
          v_usage := NULL;
        ELSE
          INSERT INTO rule_usage AS u (head_id, member_id, rule_code, window_kind, window_start, units, amount)
          VALUES (p_head, v_member.id, v_rule.code, v_cap->>'window', v_start, v_qty, v_primary)
          ON CONFLICT (head_id, member_id, rule_code, window_kind, window_start) DO UPDATE
             SET units = u.units + excluded.units, amount = u.amount + excluded.amount
           WHERE ((v_cap->>'maxCount') IS NULL OR u.units + excluded.units <= (v_cap->>'maxCount')::numeric)
             AND ((v_cap->>'maxAmount') IS NULL OR u.amount + excluded.amount <= (v_cap->>'maxAmount')::numeric)
          RETURNING u.units INTO v_usage;
        END IF;
        IF v_usage IS NULL THEN
          SELECT u.units, u.amount INTO v_usage FROM rule_usage u
           WHERE u.head_id = p_head AND u.member_id = v_member.id AND u.rule_code = v_rule.code
             AND u.window_kind = v_cap->>'window' AND u.window_start = v_start;
          PERFORM cb_fail('CAP_EXCEEDED', format(
            'rule "%s" allows %s per %s for member %s; already used %s in the %s starting %s, this award asks %s',
            v_rule.code,
            concat_ws(' and ', (v_cap->>'maxCount') || ' units', (v_cap->>'maxAmount') || ' ' || (v_rule.outputs->0->>'asset')),
            lower(v_cap->>'window'), v_member.external_id,
            concat_ws(' units / ', coalesce(v_usage.units, 0)::text, CASE WHEN (v_cap->>'maxAmount') IS NOT NULL THEN coalesce(v_usage.amount, 0)::text END),
            lower(v_cap->>'window'), v_start, v_qty));
        END IF;
      END LOOP;

      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                occurred_at, recorded_at, memo, metadata)
      VALUES (p_head, v_txn, v_kind, 'POSTED', v_member.branch_id, v_member.id, v_rule.id, p_sub, p_role,
              v_occurred, v_now, p_item->>'memo', p_item->'metadata');
      PERFORM cb_post_lines(p_head, v_txn, v_now, v_lines, false);
      RETURN jsonb_build_object('replayed', false, 'transaction', cb_transaction_json(p_head, v_txn));
    END $fn$;

    -- A batch of awards in one round trip and one database transaction. Each item succeeds or fails
    -- on its own (a savepoint per item); a failed item writes nothing and does not use up its key.
    CREATE FUNCTION cb_award_batch(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_items jsonb)
    RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      v_item jsonb;
      v_results jsonb := '[]'::jsonb;
      v_result jsonb;
      v_message text;
      v_code text;
    BEGIN
      FOR v_item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        BEGIN
          v_result := cb_award(p_head, p_sub, p_role, p_scope_path, p_tz, v_item);
        EXCEPTION WHEN SQLSTATE 'CB000' THEN
          GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_code = PG_EXCEPTION_HINT;
          v_result := jsonb_build_object('error', jsonb_build_object('code', v_code, 'message', v_message));
        END;
        v_results := v_results || jsonb_build_array(v_result);
      END LOOP;
      RETURN v_results;
    END $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS cb_award_batch(bigint, text, text, text, text, jsonb), cb_award(bigint, text, text, text, text, jsonb),
      cb_post_entry(bigint, text, text, text, text, text, jsonb), cb_post_lines(bigint, bigint, timestamptz, jsonb, boolean),
      cb_transaction_json(bigint, bigint), cb_claim_key(bigint, text, text, text, text, bigint),
      cb_assert(boolean, text), cb_fail(text, text);
  `);
}
