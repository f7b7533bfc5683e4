// The write path as a few well-named SQL functions, so that one award is one database round trip.
// cb_claim_key holds invariant 4 (one key, one write), cb_post_lines invariants 1-3 (postings sum
// to zero per asset, balances move with postings, no member wallet overdraws), cb_award invariant 5
// (rule caps, counted in rule_usage rows locked in a fixed order).
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

    -- Transactions with their postings, as the API returns them (for a first write and a replay alike).
    CREATE FUNCTION cb_transactions_json(p_head bigint, p_ids bigint[]) RETURNS TABLE (id bigint, j jsonb) LANGUAGE sql STABLE AS $fn$
      SELECT t.id, jsonb_build_object(
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
      FROM unnest(p_ids) x (id)
      JOIN transactions t ON t.head_id = p_head AND t.id = x.id
    $fn$;

    CREATE FUNCTION cb_transaction_json(p_head bigint, p_id bigint) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
      SELECT j FROM cb_transactions_json(p_head, ARRAY[p_id])
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
                -- a primary-key probe per line (a plain join was planned as a scan of all accounts)
                CROSS JOIN LATERAL (SELECT a.asset_code FROM accounts a
                                     WHERE a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint OFFSET 0) a
               GROUP BY a.asset_code) s
       WHERE s.total <> 0;
      PERFORM cb_assert(v_unbalanced IS NULL, format('transaction %s does not sum to zero: %s', p_txn, v_unbalanced));

      FOR v IN
        SELECT a.id, a.asset_code, a.asset_scale, a.deferred_balance, a.allow_negative, a.owner_type, a.owner_id,
               (e.value->>'amount')::numeric AS amount
          FROM jsonb_array_elements(p_lines) e
          CROSS JOIN LATERAL (SELECT a.* FROM accounts a
                               WHERE a.head_id = p_head AND a.id = (e.value->>'accountId')::bigint OFFSET 0) a
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
        RETURN jsonb_build_object('replayed', true, 'transactionId', v_previous::text);
      END IF;
      INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, principal_sub, principal_role,
                                occurred_at, recorded_at, memo, metadata, reason, reverses_id, forced)
      VALUES (p_head, v_txn, p_entry->>'kind', 'POSTED', (p_entry->>'branchId')::bigint, (p_entry->>'memberId')::bigint,
              p_sub, p_role, coalesce((p_entry->>'occurredAt')::timestamptz, v_now), v_now,
              p_entry->>'memo', p_entry->'metadata', p_entry->>'reason', (p_entry->>'reversesId')::bigint,
              coalesce((p_entry->>'forced')::boolean, false));
      PERFORM cb_post_lines(p_head, v_txn, v_now, p_entry->'lines', coalesce((p_entry->>'forced')::boolean, false));
      RETURN jsonb_build_object('replayed', false, 'transactionId', v_txn::text);
    END $fn$;

    -- Awards (积分), set-based: a batch of up to 1,000 awards (or a single award, a batch of one) in
    -- one round trip and a fixed number of statements, whatever the batch size. Each item succeeds
    -- or fails on its own: every check happens before anything of the item is written, so a refused
    -- item writes nothing and its key is released. Locks are taken class by class in a fixed order
    -- (idempotency keys by key, cap counters by member/rule/window, wallets by account id), so two
    -- batches never deadlock on each other. System accounts get one account_deltas row per batch.
    CREATE TYPE cb_award_item AS (
      ord integer, key text, hash text, member_ref bigint, external_ref text, rule_code text, qty numeric,
      occurred_at timestamptz, memo text, metadata jsonb,
      -- NEW (key claimed by this item), DUP (a later item with a key claimed earlier in the batch),
      -- REPLAY (key written before), ERROR (refused before any write)
      outcome text, txn_id bigint, error_code text, error_message text, error_field text,
      member_id bigint, member_external_id text, branch_id bigint, rule_id bigint, outputs jsonb, caps jsonb,
      primary_amount numeric, primary_asset text
    );
    CREATE TYPE cb_award_line AS (
      ord integer, txn_id bigint, account_id bigint, asset text, scale smallint, amount numeric,
      deferred boolean, allow_negative boolean, member_external_id text
    );

    -- Items still to be written: claimed by this batch and not refused by any check so far.
    CREATE FUNCTION cb_award_accepted(p_items cb_award_item[], p_errors jsonb) RETURNS SETOF cb_award_item
    LANGUAGE sql IMMUTABLE AS $fn$
      SELECT i.* FROM unnest(p_items) i
       WHERE i.outcome = 'NEW' AND i.error_code IS NULL AND NOT jsonb_exists(p_errors, i.ord::text)
    $fn$;

    -- The cap windows the accepted items count in, in the bank's time zone (weeks start on Monday).
    CREATE FUNCTION cb_award_windows(p_items cb_award_item[], p_errors jsonb, p_tz text)
    RETURNS TABLE (ord integer, grp text, member_id bigint, rule_code text, window_kind text, window_start date,
                   units numeric, amount numeric, max_count numeric, max_amount numeric)
    LANGUAGE sql STABLE AS $fn$
      SELECT i.ord, concat_ws('|', i.member_id, i.rule_code, c.value->>'window', w.start), i.member_id, i.rule_code,
             c.value->>'window', w.start, i.qty, i.primary_amount, (c.value->>'maxCount')::numeric, (c.value->>'maxAmount')::numeric
        FROM cb_award_accepted(p_items, p_errors) i
        CROSS JOIN LATERAL jsonb_array_elements(i.caps) c
        CROSS JOIN LATERAL (SELECT date_trunc(lower(c.value->>'window'), i.occurred_at AT TIME ZONE p_tz)::date AS start) w
    $fn$;

    -- The postings of the accepted items: per output, the member's wallet and the branch's issuance
    -- (credit) or penalty (deduction) account, for equal and opposite amounts (invariant 1).
    CREATE FUNCTION cb_award_lines(p_head bigint, p_items cb_award_item[], p_errors jsonb) RETURNS SETOF cb_award_line
    LANGUAGE sql STABLE AS $fn$
      SELECT i.ord, i.txn_id, acc.id, a.code, a.scale, side.amount, acc.deferred_balance, acc.allow_negative, i.member_external_id
        FROM cb_award_accepted(p_items, p_errors) i
        CROSS JOIN LATERAL jsonb_array_elements(i.outputs) o
        JOIN assets a ON a.code = o.value->>'asset'
        CROSS JOIN LATERAL (SELECT o.value->>'direction' = 'DEDUCT' AS deduct,
                                   trunc(i.qty * (o.value->>'amountPerUnit')::numeric, a.scale) AS amount) x
        CROSS JOIN LATERAL (VALUES
          ('MEMBER', i.member_id, 'WALLET', CASE WHEN x.deduct THEN -x.amount ELSE x.amount END),
          ('SYSTEM', i.branch_id, CASE WHEN x.deduct THEN 'PENALTY' ELSE 'ISSUANCE' END, CASE WHEN x.deduct THEN x.amount ELSE -x.amount END)
        ) side (owner_type, owner_id, purpose, amount)
        -- A lateral probe of accounts_owner_unique per line: the planner cannot estimate the items.
        CROSS JOIN LATERAL (
          SELECT acc.id, acc.deferred_balance, acc.allow_negative FROM accounts acc
           WHERE acc.head_id = p_head AND acc.owner_type = side.owner_type AND acc.owner_id = side.owner_id
             AND acc.asset_code = a.code AND acc.purpose = side.purpose
           LIMIT 1) acc
    $fn$;

    -- p_items: [{key, hash, memberId | externalId, rule, quantity, occurredAt, memo, metadata}];
    -- p_scope_path is the principal's branch path (awards only inside it); p_tz the bank's time zone.
    -- Returns one result per item, in order: {replayed, transactionId} or {error: {code, message, field}}.
    -- Generic plans: the statements' shapes do not depend on the values, and planning each of them
    -- afresh per call (custom plans) cost more than the rest of a single award.
    CREATE FUNCTION cb_award_batch(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_items jsonb)
    RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      v_now timestamptz := now();
      v_items cb_award_item[];
      v_lines cb_award_line[];
      v_claimed jsonb;
      v_existing jsonb;
      v_errors jsonb := '{}';
      v_usage jsonb;
      v_contended jsonb;
      v_available jsonb;
      v_item record;
      v_window record;
      v_line record;
      v_failure text;
      v_keys bigint;
      v_claimed_count bigint;
      v_capped boolean;
      v_results jsonb;
    BEGIN
      SELECT array_agg(ROW(e.ord::integer, e.v->>'key', e.v->>'hash', (e.v->>'memberId')::bigint, e.v->>'externalId',
                           e.v->>'rule', (e.v->>'quantity')::numeric, (e.v->>'occurredAt')::timestamptz, e.v->>'memo', e.v->'metadata',
                           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::cb_award_item ORDER BY e.ord)
             , count(DISTINCT e.v->>'key')
        INTO v_items, v_keys FROM jsonb_array_elements(p_items) WITH ORDINALITY e (v, ord);

      -- Invariant 4: each key is claimed once, by its first occurrence, in key order. A concurrent
      -- duplicate waits on the unique index until the first commits (then replays) or rolls back.
      WITH firsts AS (SELECT DISTINCT ON (i.key) i.key, i.hash FROM unnest(v_items) i ORDER BY i.key, i.ord),
           claimed AS (
             INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, transaction_id)
             SELECT p_head, p_sub, f.key, 'awardPoints', f.hash, nextval('transactions_id_seq') FROM firsts f ORDER BY f.key
             ON CONFLICT DO NOTHING
             RETURNING key, transaction_id)
      SELECT coalesce(jsonb_object_agg(c.key, c.transaction_id), '{}'), count(*) INTO v_claimed, v_claimed_count FROM claimed c;
      v_existing := '{}';
      IF v_claimed_count < v_keys THEN
        SELECT coalesce(jsonb_object_agg(k.key, jsonb_build_object('operation', k.operation, 'hash', k.request_hash, 'txn', k.transaction_id)), '{}')
          INTO v_existing FROM idempotency_keys k
         WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = ANY (ARRAY(SELECT i.key FROM unnest(v_items) i))
           AND NOT jsonb_exists(v_claimed, k.key);
      END IF;

      -- Resolve members and rules, and make every check that needs no lock.
      SELECT array_agg(ROW(i.ord, i.key, i.hash, i.member_ref, i.external_ref, i.rule_code, i.qty, i.occurred_at, i.memo, i.metadata,
                           o.outcome, o.txn_id, err.code, err.message, err.field,
                           m.id, m.external_id, m.branch_id, r.id, r.outputs, r.caps, p.amount, p.asset)::cb_award_item ORDER BY i.ord),
             coalesce(bool_or(err.code IS NULL AND jsonb_array_length(r.caps) > 0), false)
        INTO v_items, v_capped
        FROM (SELECT i.*, min(i.ord) OVER (PARTITION BY i.key) AS first_ord FROM unnest(v_items) i) i
        CROSS JOIN LATERAL (SELECT
            CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN 'NEW' ELSE 'DUP' END
                 WHEN v_existing->i.key->>'operation' = 'awardPoints' AND v_existing->i.key->>'hash' = i.hash
                      AND v_existing->i.key->>'txn' IS NOT NULL THEN 'REPLAY'
                 ELSE 'ERROR' END AS outcome,
            CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN (v_claimed->>i.key)::bigint END
                 ELSE (v_existing->i.key->>'txn')::bigint END AS txn_id) o
        LEFT JOIN LATERAL (
          SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE i.member_ref IS NOT NULL AND m.head_id = p_head AND m.id = i.member_ref
          UNION ALL
          SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
           WHERE i.member_ref IS NULL AND m.head_id = p_head AND m.external_id = i.external_ref) m ON o.outcome = 'NEW'
        -- The deepest branch on the member's path that defines the code wins; its latest version applies.
        LEFT JOIN LATERAL (
          SELECT r.* FROM rules r JOIN branches rb ON rb.id = r.branch_id
           WHERE r.head_id = p_head AND r.code = i.rule_code AND starts_with(m.path, rb.path)
           ORDER BY rb.depth DESC, r.version DESC LIMIT 1) r ON m.id IS NOT NULL
        LEFT JOIN LATERAL (
          SELECT trunc(i.qty * (r.outputs->0->>'amountPerUnit')::numeric, a.scale) AS amount, a.code AS asset
            FROM assets a WHERE a.code = r.outputs->0->>'asset') p ON r.id IS NOT NULL
        -- The first check that fails, in this order; its message is formatted only then.
        CROSS JOIN LATERAL (SELECT CASE
            WHEN o.outcome = 'ERROR' THEN 1
            WHEN o.outcome <> 'NEW' THEN 0
            WHEN m.id IS NULL THEN 2
            WHEN NOT starts_with(m.path, p_scope_path) THEN 3
            WHEN r.id IS NULL THEN 4
            WHEN (r.valid_from IS NOT NULL AND i.occurred_at < r.valid_from) OR (r.valid_to IS NOT NULL AND i.occurred_at >= r.valid_to) THEN 5
            WHEN r.requires_approval THEN 6
            WHEN p_role = 'client' AND cardinality(r.allowed_clients) > 0 AND NOT (p_sub = ANY (r.allowed_clients)) THEN 7
            WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(r.outputs) x JOIN assets a ON a.code = x.value->>'asset'
                          WHERE trunc(i.qty * (x.value->>'amountPerUnit')::numeric, a.scale) = 0) THEN 8
            ELSE 0 END AS n) failed
        CROSS JOIN LATERAL (SELECT
            (ARRAY['IDEMPOTENCY_CONFLICT', 'NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INVALID_STATE', 'FORBIDDEN', 'BAD_USER_INPUT'])[failed.n] AS code,
            (ARRAY['idempotencyKey', 'member', 'member', 'rule', 'occurredAt', 'rule', 'rule', 'quantity'])[failed.n] AS field,
            CASE failed.n
              WHEN 1 THEN format('idempotencyKey "%s" was already used for a different %s request; send a new key for a new request',
                                 i.key, v_existing->i.key->>'operation')
              WHEN 2 THEN format('no member %s in this bank', coalesce('with id ' || i.member_ref, 'with externalId "' || i.external_ref || '"'))
              WHEN 3 THEN format('member %s belongs to a branch outside your scope', m.external_id)
              WHEN 4 THEN format('no rule "%s" applies to member %s', i.rule_code, m.external_id)
              WHEN 5 THEN format('occurredAt: rule "%s" version %s is valid from %s to %s', r.code, r.version,
                                 coalesce(r.valid_from::text, 'the beginning'), coalesce(r.valid_to::text, 'no end'))
              WHEN 6 THEN format('rule "%s" needs approval: submit a claim instead of awarding directly', r.code)
              WHEN 7 THEN format('client %s may not apply rule "%s"', p_sub, r.code)
              WHEN 8 THEN format('quantity: %s is too small, rule "%s" would give nothing', i.qty, r.code)
            END AS message) err;
      PERFORM cb_assert(NOT EXISTS (SELECT 1 FROM unnest(v_items) i WHERE i.outcome IN ('NEW', 'REPLAY') AND i.txn_id IS NULL),
        'a claimed or replayed key has no transaction');

      -- Invariant 5: cap counters. Make sure each counter row exists, lock them all in order, and
      -- read them. A counter whose items all fit is simply added to; where they do not all fit (a
      -- contended counter), items are taken one by one in input order while they fit. A counter
      -- row is never deleted (a waiting writer must find it); a refused award may leave one at 0.
      IF v_capped THEN
        INSERT INTO rule_usage (head_id, member_id, rule_code, window_kind, window_start, units, amount)
        SELECT DISTINCT p_head, w.member_id, w.rule_code, w.window_kind, w.window_start, 0::numeric, 0::numeric
          FROM cb_award_windows(v_items, v_errors, p_tz) w
         ORDER BY 2, 3, 4, 5
        ON CONFLICT DO NOTHING;
        SELECT coalesce(jsonb_object_agg(u.grp, jsonb_build_object('units', u.units, 'amount', u.amount)), '{}') INTO v_usage
          FROM (SELECT concat_ws('|', u.member_id, u.rule_code, u.window_kind, u.window_start) AS grp, u.units, u.amount
                  FROM rule_usage u
                 WHERE u.head_id = p_head
                   AND (u.member_id, u.rule_code, u.window_kind, u.window_start) IN
                       (SELECT w.member_id, w.rule_code, w.window_kind, w.window_start FROM cb_award_windows(v_items, v_errors, p_tz) w)
                 ORDER BY u.member_id, u.rule_code, u.window_kind, u.window_start
                   FOR UPDATE) u;
        PERFORM cb_assert(NOT EXISTS (SELECT 1 FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE NOT jsonb_exists(v_usage, w.grp)),
          'a cap counter was not found under its lock');
        SELECT coalesce(jsonb_agg(t.grp), '[]') INTO v_contended
          FROM (SELECT w.grp, max(w.max_count) AS max_count, max(w.max_amount) AS max_amount, sum(w.units) AS units, sum(w.amount) AS amount
                  FROM cb_award_windows(v_items, v_errors, p_tz) w GROUP BY w.grp) t
         WHERE (t.max_count IS NOT NULL AND (v_usage->t.grp->>'units')::numeric + t.units > t.max_count)
            OR (t.max_amount IS NOT NULL AND (v_usage->t.grp->>'amount')::numeric + t.amount > t.max_amount);
        IF jsonb_array_length(v_contended) > 0 THEN
          FOR v_item IN
            SELECT i.ord, i.member_external_id, i.rule_code, i.primary_asset FROM cb_award_accepted(v_items, v_errors) i
             WHERE EXISTS (SELECT 1 FROM cb_award_windows(ARRAY[i::cb_award_item], '{}', p_tz) w WHERE jsonb_exists(v_contended, w.grp))
             ORDER BY i.ord
          LOOP
            v_failure := NULL;
            FOR v_window IN SELECT w.* FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE w.ord = v_item.ord AND jsonb_exists(v_contended, w.grp) LOOP
              IF (v_window.max_count IS NOT NULL AND (v_usage->v_window.grp->>'units')::numeric + v_window.units > v_window.max_count)
                 OR (v_window.max_amount IS NOT NULL AND (v_usage->v_window.grp->>'amount')::numeric + v_window.amount > v_window.max_amount) THEN
                v_failure := format('rule "%s" allows %s per %s for member %s; already used %s in the %s starting %s, this award asks %s',
                  v_item.rule_code,
                  concat_ws(' and ', v_window.max_count || ' units', v_window.max_amount || ' ' || v_item.primary_asset),
                  lower(v_window.window_kind), v_item.member_external_id,
                  concat_ws(' units / ', (v_usage->v_window.grp->>'units'),
                            CASE WHEN v_window.max_amount IS NOT NULL THEN (v_usage->v_window.grp->>'amount') || ' ' || v_item.primary_asset END),
                  lower(v_window.window_kind), v_window.window_start, v_window.units);
                EXIT;
              END IF;
            END LOOP;
            IF v_failure IS NULL THEN
              FOR v_window IN SELECT w.* FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE w.ord = v_item.ord AND jsonb_exists(v_contended, w.grp) LOOP
                v_usage := jsonb_set(v_usage, ARRAY[v_window.grp], jsonb_build_object(
                  'units', (v_usage->v_window.grp->>'units')::numeric + v_window.units,
                  'amount', (v_usage->v_window.grp->>'amount')::numeric + v_window.amount));
              END LOOP;
            ELSE
              v_errors := v_errors || jsonb_build_object(v_item.ord::text, jsonb_build_object('code', 'CAP_EXCEEDED', 'message', v_failure, 'field', 'rule'));
            END IF;
          END LOOP;
        END IF;
      END IF;

      -- Invariant 3: lock the wallets in account id order; where an item debits a wallet that may not
      -- go negative, take the items touching it one by one while the available balance covers them.
      SELECT array_agg(l ORDER BY l.ord, l.account_id) INTO v_lines FROM cb_award_lines(p_head, v_items, v_errors) l;
      SELECT coalesce(jsonb_object_agg(w.id, w.available) FILTER (WHERE w.guarded), '{}') INTO v_available
        FROM (SELECT a.id, a.balance - a.held AS available,
                     NOT a.allow_negative AND a.id = ANY (ARRAY(SELECT l.account_id FROM unnest(v_lines) l WHERE l.amount < 0)) AS guarded
                FROM accounts a
               WHERE a.head_id = p_head AND a.id = ANY (ARRAY(SELECT l.account_id FROM unnest(v_lines) l WHERE NOT l.deferred))
               ORDER BY a.id FOR UPDATE) w;
      IF v_available <> '{}' THEN
        FOR v_item IN SELECT DISTINCT l.ord FROM unnest(v_lines) l WHERE jsonb_exists(v_available, l.account_id::text) ORDER BY l.ord LOOP
          v_failure := NULL;
          FOR v_line IN SELECT l.* FROM unnest(v_lines) l WHERE l.ord = v_item.ord AND jsonb_exists(v_available, l.account_id::text) LOOP
            IF v_line.amount < 0 AND (v_available->>v_line.account_id::text)::numeric + v_line.amount < 0 THEN
              v_failure := format('member %s has %s %s available, %s needed', v_line.member_external_id,
                (v_available->>v_line.account_id::text), v_line.asset, -v_line.amount);
            END IF;
          END LOOP;
          IF v_failure IS NULL THEN
            FOR v_line IN SELECT l.* FROM unnest(v_lines) l WHERE l.ord = v_item.ord AND jsonb_exists(v_available, l.account_id::text) LOOP
              v_available := jsonb_set(v_available, ARRAY[v_line.account_id::text],
                to_jsonb((v_available->>v_line.account_id::text)::numeric + v_line.amount));
            END LOOP;
          ELSE
            v_errors := v_errors || jsonb_build_object(v_item.ord::text, jsonb_build_object('code', 'INSUFFICIENT_FUNDS', 'message', v_failure, 'field', NULL));
          END IF;
        END LOOP;
        SELECT array_agg(l ORDER BY l.ord, l.account_id) INTO v_lines FROM unnest(v_lines) l WHERE NOT jsonb_exists(v_errors, l.ord::text);
      END IF;
      PERFORM cb_assert(coalesce(array_length(v_lines, 1), 0) =
                (SELECT coalesce(sum(jsonb_array_length(i.outputs)), 0) * 2 FROM cb_award_accepted(v_items, v_errors) i),
              'an awarded member or branch lacks one of its accounts'),
              cb_assert(NOT EXISTS (SELECT 1 FROM unnest(v_lines) l GROUP BY l.txn_id, l.asset HAVING sum(l.amount) <> 0),
              'an award does not sum to zero');

      -- Writes: counters, transactions, wallets and postings (with each wallet's running balance),
      -- and one delta row per system account for the whole batch.
      WITH counted AS (
             UPDATE rule_usage u SET units = u.units + s.units, amount = u.amount + s.amount
               FROM (SELECT w.member_id, w.rule_code, w.window_kind, w.window_start, sum(w.units) AS units, sum(w.amount) AS amount
                       FROM cb_award_windows(v_items, v_errors, p_tz) w GROUP BY 1, 2, 3, 4) s
              WHERE v_capped AND u.head_id = p_head AND u.member_id = s.member_id AND u.rule_code = s.rule_code
                AND u.window_kind = s.window_kind AND u.window_start = s.window_start),
           recorded AS (
             INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                       occurred_at, recorded_at, memo, metadata)
             SELECT p_head, i.txn_id, CASE WHEN i.outputs->0->>'direction' = 'DEDUCT' THEN 'DEDUCT' ELSE 'EARN' END, 'POSTED',
                    i.branch_id, i.member_id, i.rule_id, p_sub, p_role, i.occurred_at, v_now, i.memo, i.metadata
               FROM cb_award_accepted(v_items, v_errors) i ORDER BY i.txn_id),
           lines AS (SELECT * FROM unnest(v_lines)),
           totals AS (SELECT l.account_id, sum(l.amount) AS amount FROM lines l WHERE NOT l.deferred GROUP BY l.account_id),
           moved AS (
             UPDATE accounts a SET balance = a.balance + t.amount FROM totals t
              WHERE a.head_id = p_head AND a.id = t.account_id
             RETURNING a.id, a.balance - t.amount AS before),
           deferred AS (
             INSERT INTO account_deltas (head_id, account_id, amount)
             SELECT p_head, l.account_id, sum(l.amount) FROM lines l WHERE l.deferred GROUP BY l.account_id HAVING sum(l.amount) <> 0)
      INSERT INTO postings (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
      SELECT p_head, l.txn_id, row_number() OVER (PARTITION BY l.txn_id ORDER BY l.account_id), l.account_id, l.asset, l.scale, l.amount,
             CASE WHEN NOT l.deferred THEN m.before + sum(l.amount) OVER (PARTITION BY l.account_id ORDER BY l.ord ROWS UNBOUNDED PRECEDING) END,
             v_now
        FROM lines l LEFT JOIN moved m ON m.id = l.account_id;

      -- One result per item, in input order: the transaction id (the caller reads what it needs of
      -- it afterwards) or the error. A repeated key in one batch shares its first occurrence's
      -- outcome. A refused item's key is released (rejections do not use up keys).
      WITH items AS (
             SELECT i.ord, i.key, i.hash, i.outcome, i.txn_id,
                    coalesce(v_errors->(i.ord::text), CASE WHEN i.error_code IS NOT NULL THEN
                      jsonb_build_object('code', i.error_code, 'message', i.error_message, 'field', i.error_field) END) AS error
               FROM unnest(v_items) i),
           firsts AS (SELECT DISTINCT ON (i.key) i.* FROM items i ORDER BY i.key, i.ord),
           released AS (
             DELETE FROM idempotency_keys k
              WHERE k.head_id = p_head AND k.subject = p_sub
                AND k.key = ANY (ARRAY(SELECT i.key FROM items i WHERE i.outcome = 'NEW' AND i.error IS NOT NULL)))
      SELECT jsonb_agg(CASE
               WHEN i.outcome = 'DUP' AND i.hash <> f.hash THEN jsonb_build_object('error', jsonb_build_object('code', 'IDEMPOTENCY_CONFLICT',
                 'message', format('idempotencyKey "%s" appears earlier in this batch with a different request', i.key), 'field', 'idempotencyKey'))
               WHEN i.outcome = 'DUP' AND f.error IS NOT NULL THEN jsonb_build_object('error', f.error)
               WHEN i.outcome = 'DUP' THEN jsonb_build_object('replayed', true, 'transactionId', f.txn_id::text)
               WHEN i.error IS NOT NULL THEN jsonb_build_object('error', i.error)
               ELSE jsonb_build_object('replayed', i.outcome = 'REPLAY', 'transactionId', i.txn_id::text) END ORDER BY i.ord)
        INTO v_results
        FROM items i JOIN firsts f ON f.key = i.key;
      RETURN v_results;
    END $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS cb_award_batch(bigint, text, text, text, text, jsonb), cb_award_lines(bigint, cb_award_item[], jsonb),
      cb_award_windows(cb_award_item[], jsonb, text), cb_award_accepted(cb_award_item[], jsonb), cb_transactions_json(bigint, bigint[]),
      cb_post_entry(bigint, text, text, text, text, text, jsonb), cb_post_lines(bigint, bigint, timestamptz, jsonb, boolean),
      cb_transaction_json(bigint, bigint), cb_claim_key(bigint, text, text, text, text, bigint),
      cb_assert(boolean, text), cb_fail(text, text);
    DROP TYPE IF EXISTS cb_award_line, cb_award_item;
  `);
}
