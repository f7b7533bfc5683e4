-- cb_award_one: one awardPoints in a handful of statements, answered with its transaction. Keeps
-- invariants 4 (the key), 5 (caps, counted then checked under the counter's row lock), 3 (a guarded
-- wallet debit) and 1; a refusal raises, so the key's claim and any counter roll back with it.

-- Statements: claim the key (a replay or a conflict ends there), resolve and check, count the caps
-- (only for a capped rule), write (transaction, wallets, system deltas, postings) and build the answer.
-- Every refusal raises (cb_fail, naming the field), so the key's claim and any counter already added
-- roll back with the statement: refusals do not use up keys. Locks are taken as cb_award_batch takes
-- them: the key, then the rule's counters in (window kind, start) order, then the member's wallets.
-- A HOUSEHOLD rule (migration 072) counts its caps per household (household_rule_usage) and credits the
-- household's wallet; p_household_ref names a household instead of a member.
DROP FUNCTION IF EXISTS cb_award_one(bigint, text, text, text, text, text, text, bigint, text, text, numeric, timestamptz, text, jsonb);
CREATE OR REPLACE FUNCTION cb_award_one(
  p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_key text, p_hash text, p_member_ref bigint,
  p_external_ref text, p_rule_code text, p_qty numeric, p_occurred timestamptz, p_memo text, p_metadata jsonb,
  p_household_ref text)
RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode TO 'force_generic_plan' AS $fn$
DECLARE
  v_now timestamptz := now();
  v_txn bigint;
  v_prior record;
  v record;
  v_item cb_award_item;
  v_over record;
  v_short record;
  v_funded boolean;
  v_answer jsonb;
  v_party text;
BEGIN
  -- Invariant 4: a concurrent duplicate waits here on the key's unique index until this one
  -- commits (then replays) or rolls back (then goes ahead itself).
  INSERT INTO idempotency_keys (head_id, subject, key, operation, request_hash, transaction_id)
  VALUES (p_head, p_sub, p_key, 'awardPoints', p_hash, nextval('transactions_id_seq'))
  ON CONFLICT DO NOTHING
  RETURNING transaction_id INTO v_txn;
  IF v_txn IS NULL THEN
    SELECT k.operation, k.request_hash, k.transaction_id INTO v_prior
      FROM idempotency_keys k WHERE k.head_id = p_head AND k.subject = p_sub AND k.key = p_key;
    PERFORM cb_assert(FOUND, 'idempotency key conflicted but cannot be read');
    IF v_prior.operation = 'awardPoints' AND v_prior.request_hash = p_hash AND v_prior.transaction_id IS NOT NULL THEN
      RETURN jsonb_build_object('replayed', true, 'transactionId', v_prior.transaction_id::text, 'transaction',
                                (SELECT x.j FROM cb_transactions_json(p_head, ARRAY[v_prior.transaction_id]) x));
    END IF;
    PERFORM cb_fail('IDEMPOTENCY_CONFLICT', cb_key_conflict_message(p_key, v_prior.operation), 'idempotencyKey');
  END IF;

  SELECT t.*, f.code, f.field, f.message INTO v
    FROM (SELECT 1) one
    LEFT JOIN LATERAL cb_award_target(p_head, p_member_ref, p_external_ref, p_rule_code, p_qty, p_household_ref) t ON true
    CROSS JOIN LATERAL cb_award_refusal(p_sub, p_role, p_scope_path, p_member_ref, p_external_ref, p_rule_code, p_qty, p_occurred,
                                        t.member_id, t.member_external_id, t.member_path, t.rule_id, t.rule_version, t.valid_from,
                                        t.valid_to, t.requires_approval, t.allowed_clients, t.outputs,
                                        p_household_ref, t.household_id, t.beneficiary) f;
  IF v.code IS NOT NULL THEN
    PERFORM cb_fail(v.code, v.message, v.field);
  END IF;
  v_item := ROW(1, p_key, p_hash, p_member_ref, p_external_ref, p_rule_code, p_qty, p_occurred, p_memo, p_metadata,
                'NEW', v_txn, NULL, NULL, NULL, v.member_id, v.member_external_id, v.branch_id, v.rule_id, v.outputs, v.caps,
                v.primary_amount, v.primary_asset, p_household_ref,
                CASE WHEN v.beneficiary = 'HOUSEHOLD' THEN v.household_id END,
                CASE WHEN v.beneficiary = 'HOUSEHOLD' THEN v.household_external_id END, v.beneficiary)::cb_award_item;
  v_party := CASE WHEN v_item.household_id IS NULL THEN 'member ' || v.member_external_id ELSE 'household ' || v.household_external_id END;

  -- Invariant 5: add this award to each of its counters (creating them), then refuse if any is
  -- now over its cap. ON CONFLICT DO UPDATE waits for a concurrent award's counter and adds to
  -- what that one left, so the check always sees every committed award.
  IF jsonb_array_length(v.caps) > 0 AND v_item.household_id IS NOT NULL THEN
    WITH counted AS (
           INSERT INTO household_rule_usage AS u (head_id, household_id, rule_code, window_kind, window_start, units, amount)
           SELECT p_head, w.household_id, w.rule_code, w.window_kind, w.window_start, w.units, w.amount
             FROM cb_award_windows(ARRAY[v_item], '{}', p_tz) w
            ORDER BY w.window_kind, w.window_start
           ON CONFLICT (head_id, household_id, rule_code, window_kind, window_start)
           DO UPDATE SET units = u.units + excluded.units, amount = u.amount + excluded.amount
           RETURNING u.window_kind, u.window_start, u.units, u.amount)
    SELECT w.*, c.units - w.units AS used_units, c.amount - w.amount AS used_amount INTO v_over
      FROM counted c JOIN cb_award_windows(ARRAY[v_item], '{}', p_tz) w ON w.window_kind = c.window_kind
     WHERE (w.max_count IS NOT NULL AND c.units > w.max_count) OR (w.max_amount IS NOT NULL AND c.amount > w.max_amount)
     ORDER BY w.window_kind
     LIMIT 1;
  ELSIF jsonb_array_length(v.caps) > 0 THEN
    WITH counted AS (
           INSERT INTO rule_usage AS u (head_id, member_id, rule_code, window_kind, window_start, units, amount)
           SELECT p_head, w.member_id, w.rule_code, w.window_kind, w.window_start, w.units, w.amount
             FROM cb_award_windows(ARRAY[v_item], '{}', p_tz) w
            ORDER BY w.window_kind, w.window_start
           ON CONFLICT (head_id, member_id, rule_code, window_kind, window_start)
           DO UPDATE SET units = u.units + excluded.units, amount = u.amount + excluded.amount
           RETURNING u.window_kind, u.window_start, u.units, u.amount)
    SELECT w.*, c.units - w.units AS used_units, c.amount - w.amount AS used_amount INTO v_over
      FROM counted c JOIN cb_award_windows(ARRAY[v_item], '{}', p_tz) w ON w.window_kind = c.window_kind
     WHERE (w.max_count IS NOT NULL AND c.units > w.max_count) OR (w.max_amount IS NOT NULL AND c.amount > w.max_amount)
     ORDER BY w.window_kind
     LIMIT 1;
  END IF;
  IF jsonb_array_length(v.caps) > 0 THEN
    -- FOUND: whichever counting statement ran found a window over its cap.
    IF FOUND THEN
      PERFORM cb_fail('CAP_EXCEEDED', format('rule "%s" allows %s per %s for %s; already used %s in the %s starting %s, this award asks %s',
        p_rule_code,
        concat_ws(' and ', v_over.max_count || ' units', v_over.max_amount || ' ' || v.primary_asset),
        lower(v_over.window_kind), v_party,
        concat_ws(' units / ', v_over.used_units, CASE WHEN v_over.max_amount IS NOT NULL THEN v_over.used_amount || ' ' || v.primary_asset END),
        lower(v_over.window_kind), v_over.window_start, v_over.units), 'rule');
    END IF;
  END IF;

  -- Invariant 3: a debit of a wallet that may not go negative moves it only while the available
  -- balance covers it. Each asset appears once in a rule's outputs, so each account once here.
  WITH lines AS (SELECT * FROM cb_award_lines(p_head, ARRAY[v_item], '{}')),
       recorded AS (
         INSERT INTO transactions AS t (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                        occurred_at, recorded_at, memo, metadata, household_id)
         VALUES (p_head, v_txn, CASE WHEN v.outputs->0->>'direction' = 'DEDUCT' THEN 'DEDUCT' ELSE 'EARN' END, 'POSTED',
                 v.branch_id, v.member_id, v.rule_id, p_sub, p_role, p_occurred, v_now, p_memo, p_metadata, v_item.household_id)
         RETURNING t),
       moved AS (
         UPDATE accounts a SET balance = a.balance + l.amount FROM lines l
          WHERE NOT l.deferred AND a.head_id = p_head AND a.id = l.account_id
            AND (l.amount >= 0 OR a.allow_negative OR a.balance - a.held + l.amount >= 0)
         RETURNING a.id, a.balance),
       deferred AS (
         INSERT INTO account_deltas (head_id, account_id, amount)
         SELECT p_head, l.account_id, l.amount FROM lines l WHERE l.deferred),
       posted AS (
         INSERT INTO postings AS p (head_id, transaction_id, line, account_id, asset_code, asset_scale, amount, balance_after, recorded_at)
         SELECT p_head, v_txn, row_number() OVER (ORDER BY l.account_id), l.account_id, l.asset, l.scale, l.amount, m.balance, v_now
           FROM lines l LEFT JOIN moved m ON m.id = l.account_id
         RETURNING p)
  SELECT (SELECT count(*) FROM moved) = (SELECT count(*) FROM lines l WHERE NOT l.deferred)
           AND (SELECT count(*) FROM lines) = 2 * jsonb_array_length(v.outputs),
         jsonb_build_object('replayed', false, 'transactionId', v_txn::text, 'transaction',
           cb_transaction_object(r.t, (SELECT jsonb_agg(cb_posting_object(x.p) ORDER BY (x.p).line) FROM posted x)))
    INTO v_funded, v_answer
    FROM recorded r;
  IF NOT v_funded THEN
    -- Which wallet fell short (or, never expected, which account is missing): the writes above roll back with the raise.
    SELECT l.asset, l.amount, round(a.balance - a.held, a.asset_scale) AS available INTO v_short
      FROM cb_award_lines(p_head, ARRAY[v_item], '{}') l JOIN accounts a ON a.head_id = p_head AND a.id = l.account_id
     WHERE NOT l.deferred AND NOT a.allow_negative AND a.balance - a.held + l.amount < 0
     LIMIT 1;
    PERFORM cb_assert(FOUND, 'an awarded member, household or branch lacks one of its accounts');
    PERFORM cb_fail('INSUFFICIENT_FUNDS', format('%s has %s %s available, %s needed',
      v_party, v_short.available, v_short.asset, -v_short.amount), NULL);
  END IF;
  RETURN v_answer;
END
$fn$;
