-- cb_award_batch: awards (积分), set-based: awardPointsBatch (up to 1,000) and approved claims, in one
-- round trip and a fixed number of statements. Keeps invariants 4 (keys claimed in key order, a refused
-- item's key released), 5 (cap counters locked in order), 3 (wallets locked in id order) and 1.

-- Each item succeeds or fails on its own: every check happens before anything of the item is written,
-- so a refused item writes nothing and its key is released. Locks are taken class by class in a fixed
-- order (idempotency keys by key, cap counters by member/rule/window, then household counters by
-- household/rule/window, wallets by account id), so two batches never deadlock on each other. System
-- accounts get one account_deltas row per batch. A HOUSEHOLD rule (migration 072) credits the household
-- wallet and counts its caps per household; a batch of member rules never touches household tables.
-- p_items: [{key, hash, memberId | externalId | householdExternalId, rule, quantity, occurredAt, memo, metadata}];
-- p_scope_path is the principal's branch path (awards only inside it); p_tz the bank's time zone.
-- Returns one result per item, in order: {replayed, transactionId} or {error: {code, message, field}}.
-- Generic plans: the statements' shapes do not depend on the values, and planning each of them
-- afresh per call (custom plans) cost more than the rest of a single award.
CREATE OR REPLACE FUNCTION cb_award_batch(
  p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_items jsonb)
RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode TO 'force_generic_plan' AS $fn$
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
  v_capped_households boolean;
  v_results jsonb;
BEGIN
  SELECT array_agg(ROW(e.ord::integer, e.v->>'key', e.v->>'hash', (e.v->>'memberId')::bigint, e.v->>'externalId',
                       e.v->>'rule', (e.v->>'quantity')::numeric, (e.v->>'occurredAt')::timestamptz, e.v->>'memo', e.v->'metadata',
                       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, e.v->>'householdExternalId',
                       NULL, NULL, NULL)::cb_award_item ORDER BY e.ord)
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

  -- Resolve members and rules, and make every check that needs no lock (cb_award_target and
  -- cb_award_refusal, which the single award shares).
  SELECT array_agg(ROW(i.ord, i.key, i.hash, i.member_ref, i.external_ref, i.rule_code, i.qty, i.occurred_at, i.memo, i.metadata,
                       o.outcome, o.txn_id, err.code, err.message, err.field,
                       t.member_id, t.member_external_id, t.branch_id, t.rule_id, t.outputs, t.caps,
                       t.primary_amount, t.primary_asset, i.household_ref,
                       CASE WHEN t.beneficiary = 'HOUSEHOLD' THEN t.household_id END,
                       CASE WHEN t.beneficiary = 'HOUSEHOLD' THEN t.household_external_id END, t.beneficiary)::cb_award_item ORDER BY i.ord),
         coalesce(bool_or(err.code IS NULL AND jsonb_array_length(t.caps) > 0 AND t.beneficiary IS DISTINCT FROM 'HOUSEHOLD'), false),
         coalesce(bool_or(err.code IS NULL AND jsonb_array_length(t.caps) > 0 AND t.beneficiary = 'HOUSEHOLD'), false)
    INTO v_items, v_capped, v_capped_households
    FROM (SELECT i.*, min(i.ord) OVER (PARTITION BY i.key) AS first_ord FROM unnest(v_items) i) i
    CROSS JOIN LATERAL (SELECT
        CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN 'NEW' ELSE 'DUP' END
             WHEN v_existing->i.key->>'operation' = 'awardPoints' AND v_existing->i.key->>'hash' = i.hash
                  AND v_existing->i.key->>'txn' IS NOT NULL THEN 'REPLAY'
             ELSE 'ERROR' END AS outcome,
        CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN (v_claimed->>i.key)::bigint END
             ELSE (v_existing->i.key->>'txn')::bigint END AS txn_id) o
    -- Only a new item is resolved and checked: OFFSET 0 keeps each lateral a subquery whose filter is a
    -- one-time filter per item (as a join condition, both functions ran for every replay and the rows
    -- were thrown away afterwards).
    LEFT JOIN LATERAL (SELECT * FROM cb_award_target(p_head, i.member_ref, i.external_ref, i.rule_code, i.qty, i.household_ref)
                        WHERE o.outcome = 'NEW' OFFSET 0) t ON true
    LEFT JOIN LATERAL (SELECT * FROM cb_award_refusal(p_sub, p_role, p_scope_path, i.member_ref, i.external_ref, i.rule_code, i.qty, i.occurred_at,
                                       t.member_id, t.member_external_id, t.member_path, t.rule_id, t.rule_version, t.valid_from,
                                       t.valid_to, t.requires_approval, t.allowed_clients, t.outputs,
                                       i.household_ref, t.household_id, t.beneficiary) WHERE o.outcome = 'NEW' OFFSET 0) f ON true
    CROSS JOIN LATERAL (SELECT
        CASE WHEN o.outcome = 'ERROR' THEN 'IDEMPOTENCY_CONFLICT' ELSE f.code END AS code,
        CASE WHEN o.outcome = 'ERROR' THEN 'idempotencyKey' ELSE f.field END AS field,
        CASE WHEN o.outcome = 'ERROR' THEN cb_key_conflict_message(i.key, v_existing->i.key->>'operation') ELSE f.message END AS message) err;
  PERFORM cb_assert(NOT EXISTS (SELECT 1 FROM unnest(v_items) i WHERE i.outcome IN ('NEW', 'REPLAY') AND i.txn_id IS NULL),
    'a claimed or replayed key has no transaction');

  -- Invariant 5: cap counters. Make sure each counter row exists, lock them all in order, and
  -- read them. A counter whose items all fit is simply added to; where they do not all fit (a
  -- contended counter), items are taken one by one in input order while they fit. A counter
  -- row is never deleted (a waiting writer must find it); a refused award may leave one at 0.
  IF v_capped THEN
    INSERT INTO rule_usage (head_id, member_id, rule_code, window_kind, window_start, units, amount)
    SELECT DISTINCT p_head, w.member_id, w.rule_code, w.window_kind, w.window_start, 0::numeric, 0::numeric
      FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE w.member_id IS NOT NULL
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
  END IF;
  -- Household counters (migration 072) after the members', in household/rule/window order.
  IF v_capped_households THEN
    INSERT INTO household_rule_usage (head_id, household_id, rule_code, window_kind, window_start, units, amount)
    SELECT DISTINCT p_head, w.household_id, w.rule_code, w.window_kind, w.window_start, 0::numeric, 0::numeric
      FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE w.household_id IS NOT NULL
     ORDER BY 2, 3, 4, 5
    ON CONFLICT DO NOTHING;
    SELECT coalesce(v_usage, '{}') || coalesce(jsonb_object_agg(u.grp, jsonb_build_object('units', u.units, 'amount', u.amount)), '{}')
      INTO v_usage
      FROM (SELECT concat_ws('|', 'h' || u.household_id, u.rule_code, u.window_kind, u.window_start) AS grp, u.units, u.amount
              FROM household_rule_usage u
             WHERE u.head_id = p_head
               AND (u.household_id, u.rule_code, u.window_kind, u.window_start) IN
                   (SELECT w.household_id, w.rule_code, w.window_kind, w.window_start FROM cb_award_windows(v_items, v_errors, p_tz) w)
             ORDER BY u.household_id, u.rule_code, u.window_kind, u.window_start
               FOR UPDATE) u;
  END IF;
  IF v_capped OR v_capped_households THEN
    PERFORM cb_assert(NOT EXISTS (SELECT 1 FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE NOT jsonb_exists(v_usage, w.grp)),
      'a cap counter was not found under its lock');
    SELECT coalesce(jsonb_agg(t.grp), '[]') INTO v_contended
      FROM (SELECT w.grp, max(w.max_count) AS max_count, max(w.max_amount) AS max_amount, sum(w.units) AS units, sum(w.amount) AS amount
              FROM cb_award_windows(v_items, v_errors, p_tz) w GROUP BY w.grp) t
     WHERE (t.max_count IS NOT NULL AND (v_usage->t.grp->>'units')::numeric + t.units > t.max_count)
        OR (t.max_amount IS NOT NULL AND (v_usage->t.grp->>'amount')::numeric + t.amount > t.max_amount);
    IF jsonb_array_length(v_contended) > 0 THEN
      FOR v_item IN
        SELECT i.ord, coalesce('household ' || i.household_external_id, 'member ' || i.member_external_id) AS party, i.rule_code, i.primary_asset
          FROM cb_award_accepted(v_items, v_errors) i
         WHERE EXISTS (SELECT 1 FROM cb_award_windows(ARRAY[i::cb_award_item], '{}', p_tz) w WHERE jsonb_exists(v_contended, w.grp))
         ORDER BY i.ord
      LOOP
        v_failure := NULL;
        FOR v_window IN SELECT w.* FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE w.ord = v_item.ord AND jsonb_exists(v_contended, w.grp) LOOP
          IF (v_window.max_count IS NOT NULL AND (v_usage->v_window.grp->>'units')::numeric + v_window.units > v_window.max_count)
             OR (v_window.max_amount IS NOT NULL AND (v_usage->v_window.grp->>'amount')::numeric + v_window.amount > v_window.max_amount) THEN
            v_failure := format('rule "%s" allows %s per %s for %s; already used %s in the %s starting %s, this award asks %s',
              v_item.rule_code,
              concat_ws(' and ', v_window.max_count || ' units', v_window.max_amount || ' ' || v_item.primary_asset),
              lower(v_window.window_kind), v_item.party,
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
    -- at the asset's scale, as cb_award_one writes it in the same refusal (0.00 for a wallet never moved)
    FROM (SELECT a.id, round(a.balance - a.held, a.asset_scale) AS available,
                 NOT a.allow_negative AND a.id = ANY (ARRAY(SELECT l.account_id FROM unnest(v_lines) l WHERE l.amount < 0)) AS guarded
            FROM accounts a
           WHERE a.head_id = p_head AND a.id = ANY (ARRAY(SELECT l.account_id FROM unnest(v_lines) l WHERE NOT l.deferred))
           ORDER BY a.id FOR UPDATE) w;
  IF v_available <> '{}' THEN
    FOR v_item IN SELECT DISTINCT l.ord FROM unnest(v_lines) l WHERE jsonb_exists(v_available, l.account_id::text) ORDER BY l.ord LOOP
      v_failure := NULL;
      FOR v_line IN SELECT l.* FROM unnest(v_lines) l WHERE l.ord = v_item.ord AND jsonb_exists(v_available, l.account_id::text) LOOP
        IF v_line.amount < 0 AND (v_available->>v_line.account_id::text)::numeric + v_line.amount < 0 THEN
          v_failure := format('%s has %s %s available, %s needed',
            coalesce('household ' || v_line.household_external_id, 'member ' || v_line.member_external_id),
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
          'an awarded member, household or branch lacks one of its accounts'),
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
       counted_households AS (
         UPDATE household_rule_usage u SET units = u.units + s.units, amount = u.amount + s.amount
           FROM (SELECT w.household_id, w.rule_code, w.window_kind, w.window_start, sum(w.units) AS units, sum(w.amount) AS amount
                   FROM cb_award_windows(v_items, v_errors, p_tz) w WHERE v_capped_households GROUP BY 1, 2, 3, 4) s
          WHERE v_capped_households AND u.head_id = p_head AND u.household_id = s.household_id AND u.rule_code = s.rule_code
            AND u.window_kind = s.window_kind AND u.window_start = s.window_start),
       recorded AS (
         INSERT INTO transactions (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                   occurred_at, recorded_at, memo, metadata, household_id)
         SELECT p_head, i.txn_id, CASE WHEN i.outputs->0->>'direction' = 'DEDUCT' THEN 'DEDUCT' ELSE 'EARN' END, 'POSTED',
                i.branch_id, i.member_id, i.rule_id, p_sub, p_role, i.occurred_at, v_now, i.memo, i.metadata, i.household_id
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
END
$fn$;
