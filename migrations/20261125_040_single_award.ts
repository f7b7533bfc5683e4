// A single awardPoints in a handful of statements (cb_award_one) instead of cb_award_batch's ~15.
// Issue 2's measurements put an award at ~2,600 µs of PostgreSQL CPU, most of it per-statement
// executor start-up of the batch function's statements rather than the writing; a lone award needs
// no per-item arrays, contended-counter loops or key release (a refusal raises, and the award's
// statement, the key's claim with it, rolls back).
// What the two must agree on is shared, not copied: the member and rule an award resolves to
// (cb_award_target), the first check that refuses it and its message (cb_award_refusal), the cap
// windows (cb_award_windows) and the accounts and amounts of its lines (cb_award_lines), and the
// JSON of a transaction (cb_transaction_object, cb_posting_object, also behind cb_transactions_json).
// cb_award_batch is replaced by the same text with its member, rule and check SQL moved into those
// functions (behaviour unchanged); approvals (cb_approve_claim) still post through it.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- A refusal: SQLSTATE CB000, the SPEC code in HINT, and now the input field at fault in COLUMN
    -- (src/db/errors.ts). The two-argument cb_fail of migration 002 names no field and raises through it.
    CREATE FUNCTION cb_fail(p_code text, p_message text, p_field text) RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'CB000', MESSAGE = p_message, HINT = p_code, COLUMN = coalesce(p_field, '');
    END $fn$;
    CREATE OR REPLACE FUNCTION cb_fail(p_code text, p_message text) RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM cb_fail(p_code, p_message, NULL);
    END $fn$;

    CREATE FUNCTION cb_key_conflict_message(p_key text, p_operation text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
      SELECT format('idempotencyKey "%s" was already used for a different %s request; send a new key for a new request', p_key, p_operation)
    $fn$;

    -- The member an award names (by id or externalId) with its branch path, and the rule it applies:
    -- the deepest branch on the member's path that defines the code wins, its latest version applies.
    -- No row: no such member. The primary output's amount is what caps with maxAmount count.
    CREATE FUNCTION cb_award_target(p_head bigint, p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric)
    RETURNS TABLE (member_id bigint, member_external_id text, branch_id bigint, member_path text,
                   rule_id bigint, rule_version integer, outputs jsonb, caps jsonb, valid_from timestamptz, valid_to timestamptz,
                   requires_approval boolean, allowed_clients text[], primary_amount numeric, primary_asset text)
    LANGUAGE sql STABLE AS $fn$
      SELECT m.id, m.external_id, m.branch_id, m.path, r.id, r.version, r.outputs, r.caps, r.valid_from, r.valid_to,
             r.requires_approval, r.allowed_clients, p.amount, p.asset
        FROM (SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
               WHERE p_member_ref IS NOT NULL AND m.head_id = p_head AND m.id = p_member_ref
              UNION ALL
              SELECT m.id, m.external_id, m.branch_id, b.path FROM members m JOIN branches b ON b.id = m.branch_id
               WHERE p_member_ref IS NULL AND m.head_id = p_head AND m.external_id = p_external_ref) m
        LEFT JOIN LATERAL (
          SELECT r.* FROM rules r JOIN branches rb ON rb.id = r.branch_id
           WHERE r.head_id = p_head AND r.code = p_rule_code AND starts_with(m.path, rb.path)
           ORDER BY rb.depth DESC, r.version DESC LIMIT 1) r ON true
        LEFT JOIN LATERAL (
          SELECT trunc(p_qty * (r.outputs->0->>'amountPerUnit')::numeric, a.scale) AS amount, a.code AS asset
            FROM assets a WHERE a.code = r.outputs->0->>'asset') p ON r.id IS NOT NULL
    $fn$;

    -- The first check that refuses an award, in this order, with its code, field and message (all
    -- NULL when none does). The target's columns are cb_award_target's (NULL: no such member).
    CREATE FUNCTION cb_award_refusal(p_sub text, p_role text, p_scope_path text, p_member_ref bigint, p_external_ref text,
                                     p_rule_code text, p_qty numeric, p_occurred timestamptz,
                                     p_member_id bigint, p_member_external_id text, p_member_path text, p_rule_id bigint,
                                     p_rule_version integer, p_valid_from timestamptz, p_valid_to timestamptz,
                                     p_requires_approval boolean, p_allowed_clients text[], p_outputs jsonb)
    RETURNS TABLE (code text, field text, message text) LANGUAGE sql STABLE AS $fn$
      SELECT (ARRAY['NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INVALID_STATE', 'FORBIDDEN', 'BAD_USER_INPUT'])[f.n],
             (ARRAY['member', 'member', 'rule', 'occurredAt', 'rule', 'rule', 'quantity'])[f.n],
             CASE f.n
               WHEN 1 THEN format('no member %s in this bank', coalesce('with id ' || p_member_ref, 'with externalId "' || p_external_ref || '"'))
               WHEN 2 THEN format('member %s belongs to a branch outside your scope', p_member_external_id)
               WHEN 3 THEN format('no rule "%s" applies to member %s', p_rule_code, p_member_external_id)
               WHEN 4 THEN format('occurredAt: rule "%s" version %s is valid from %s to %s', p_rule_code, p_rule_version,
                                  coalesce(p_valid_from::text, 'the beginning'), coalesce(p_valid_to::text, 'no end'))
               WHEN 5 THEN format('rule "%s" needs approval: submit a claim instead of awarding directly', p_rule_code)
               WHEN 6 THEN format('client %s may not apply rule "%s"', p_sub, p_rule_code)
               WHEN 7 THEN format('quantity: %s is too small, rule "%s" would give nothing', p_qty, p_rule_code)
             END
        FROM (SELECT CASE
                WHEN p_member_id IS NULL THEN 1
                WHEN NOT starts_with(p_member_path, p_scope_path) THEN 2
                WHEN p_rule_id IS NULL THEN 3
                WHEN (p_valid_from IS NOT NULL AND p_occurred < p_valid_from) OR (p_valid_to IS NOT NULL AND p_occurred >= p_valid_to) THEN 4
                -- cb_approve_claim sets cb.approving_claim while it posts an approved claim (migration 011).
                WHEN p_requires_approval AND current_setting('cb.approving_claim', true) IS DISTINCT FROM 'on' THEN 5
                WHEN p_role = 'client' AND cardinality(p_allowed_clients) > 0 AND NOT (p_sub = ANY (p_allowed_clients)) THEN 6
                WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(p_outputs) x JOIN assets a ON a.code = x.value->>'asset'
                              WHERE trunc(p_qty * (x.value->>'amountPerUnit')::numeric, a.scale) = 0) THEN 7
              END AS n) f
    $fn$;

    -- A transaction and a posting as the API reads them (transactions(), and every write's answer).
    CREATE FUNCTION cb_posting_object(p postings) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
      SELECT jsonb_build_object('line', p.line, 'accountId', p.account_id::text, 'asset', p.asset_code,
                                'amount', p.amount::text, 'balanceAfter', p.balance_after::text)
    $fn$;
    CREATE FUNCTION cb_transaction_object(t transactions, p_postings jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
      SELECT jsonb_build_object(
        'id', t.id::text, 'kind', t.kind, 'status', t.status, 'branchId', t.branch_id::text,
        'memberId', t.member_id::text, 'ruleId', t.rule_id::text,
        'principalSub', t.principal_sub, 'principalRole', t.principal_role,
        'occurredAt', t.occurred_at, 'recordedAt', t.recorded_at, 'memo', t.memo, 'metadata', t.metadata,
        'reason', t.reason, 'reversesId', t.reverses_id::text, 'forced', t.forced, 'postings', p_postings)
    $fn$;
    CREATE OR REPLACE FUNCTION cb_transactions_json(p_head bigint, p_ids bigint[]) RETURNS TABLE (id bigint, j jsonb)
    LANGUAGE sql STABLE AS $fn$
      SELECT t.id, cb_transaction_object(t, (
               SELECT jsonb_agg(cb_posting_object(p) ORDER BY p.line) FROM postings p
                WHERE p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at))
        FROM unnest(p_ids) x (id)
        JOIN transactions t ON t.head_id = p_head AND t.id = x.id
    $fn$;

    CREATE OR REPLACE FUNCTION cb_award_batch(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_items jsonb)
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

      -- Resolve members and rules, and make every check that needs no lock (cb_award_target and
      -- cb_award_refusal, which the single award shares).
      SELECT array_agg(ROW(i.ord, i.key, i.hash, i.member_ref, i.external_ref, i.rule_code, i.qty, i.occurred_at, i.memo, i.metadata,
                           o.outcome, o.txn_id, err.code, err.message, err.field,
                           t.member_id, t.member_external_id, t.branch_id, t.rule_id, t.outputs, t.caps,
                           t.primary_amount, t.primary_asset)::cb_award_item ORDER BY i.ord),
             coalesce(bool_or(err.code IS NULL AND jsonb_array_length(t.caps) > 0), false)
        INTO v_items, v_capped
        FROM (SELECT i.*, min(i.ord) OVER (PARTITION BY i.key) AS first_ord FROM unnest(v_items) i) i
        CROSS JOIN LATERAL (SELECT
            CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN 'NEW' ELSE 'DUP' END
                 WHEN v_existing->i.key->>'operation' = 'awardPoints' AND v_existing->i.key->>'hash' = i.hash
                      AND v_existing->i.key->>'txn' IS NOT NULL THEN 'REPLAY'
                 ELSE 'ERROR' END AS outcome,
            CASE WHEN jsonb_exists(v_claimed, i.key) THEN CASE WHEN i.ord = i.first_ord THEN (v_claimed->>i.key)::bigint END
                 ELSE (v_existing->i.key->>'txn')::bigint END AS txn_id) o
        LEFT JOIN LATERAL cb_award_target(p_head, i.member_ref, i.external_ref, i.rule_code, i.qty) t ON o.outcome = 'NEW'
        LEFT JOIN LATERAL cb_award_refusal(p_sub, p_role, p_scope_path, i.member_ref, i.external_ref, i.rule_code, i.qty, i.occurred_at,
                                           t.member_id, t.member_external_id, t.member_path, t.rule_id, t.rule_version, t.valid_from,
                                           t.valid_to, t.requires_approval, t.allowed_clients, t.outputs) f ON o.outcome = 'NEW'
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

    -- One awardPoints, answered with its transaction. Statements: claim the key (a replay or a
    -- conflict ends there), resolve and check, count the caps (only for a capped rule), write
    -- (transaction, wallets, system deltas, postings) and build the answer. Every refusal raises
    -- (cb_fail, naming the field), so the key's claim and any counter already added to roll back with the statement:
    -- refusals do not use up keys. Locks are taken as cb_award_batch takes them: the key, then the
    -- rule's counters in (window kind, start) order, then the member's wallets.
    CREATE FUNCTION cb_award_one(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text, p_key text, p_hash text,
                                 p_member_ref bigint, p_external_ref text, p_rule_code text, p_qty numeric, p_occurred timestamptz,
                                 p_memo text, p_metadata jsonb)
    RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
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
        LEFT JOIN LATERAL cb_award_target(p_head, p_member_ref, p_external_ref, p_rule_code, p_qty) t ON true
        CROSS JOIN LATERAL cb_award_refusal(p_sub, p_role, p_scope_path, p_member_ref, p_external_ref, p_rule_code, p_qty, p_occurred,
                                            t.member_id, t.member_external_id, t.member_path, t.rule_id, t.rule_version, t.valid_from,
                                            t.valid_to, t.requires_approval, t.allowed_clients, t.outputs) f;
      IF v.code IS NOT NULL THEN
        PERFORM cb_fail(v.code, v.message, v.field);
      END IF;
      v_item := ROW(1, p_key, p_hash, p_member_ref, p_external_ref, p_rule_code, p_qty, p_occurred, p_memo, p_metadata,
                    'NEW', v_txn, NULL, NULL, NULL, v.member_id, v.member_external_id, v.branch_id, v.rule_id, v.outputs, v.caps,
                    v.primary_amount, v.primary_asset)::cb_award_item;

      -- Invariant 5: add this award to each of its counters (creating them), then refuse if any is
      -- now over its cap. ON CONFLICT DO UPDATE waits for a concurrent award's counter and adds to
      -- what that one left, so the check always sees every committed award.
      IF jsonb_array_length(v.caps) > 0 THEN
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
        IF FOUND THEN
          PERFORM cb_fail('CAP_EXCEEDED', format('rule "%s" allows %s per %s for member %s; already used %s in the %s starting %s, this award asks %s',
            p_rule_code,
            concat_ws(' and ', v_over.max_count || ' units', v_over.max_amount || ' ' || v.primary_asset),
            lower(v_over.window_kind), v.member_external_id,
            concat_ws(' units / ', v_over.used_units, CASE WHEN v_over.max_amount IS NOT NULL THEN v_over.used_amount || ' ' || v.primary_asset END),
            lower(v_over.window_kind), v_over.window_start, v_over.units), 'rule');
        END IF;
      END IF;

      -- Invariant 3: a debit of a wallet that may not go negative moves it only while the available
      -- balance covers it. Each asset appears once in a rule's outputs, so each account once here.
      WITH lines AS (SELECT * FROM cb_award_lines(p_head, ARRAY[v_item], '{}')),
           recorded AS (
             INSERT INTO transactions AS t (head_id, id, kind, status, branch_id, member_id, rule_id, principal_sub, principal_role,
                                            occurred_at, recorded_at, memo, metadata)
             VALUES (p_head, v_txn, CASE WHEN v.outputs->0->>'direction' = 'DEDUCT' THEN 'DEDUCT' ELSE 'EARN' END, 'POSTED',
                     v.branch_id, v.member_id, v.rule_id, p_sub, p_role, p_occurred, v_now, p_memo, p_metadata)
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
        SELECT l.member_external_id, l.asset, l.amount, round(a.balance - a.held, a.asset_scale) AS available INTO v_short
          FROM cb_award_lines(p_head, ARRAY[v_item], '{}') l JOIN accounts a ON a.head_id = p_head AND a.id = l.account_id
         WHERE NOT l.deferred AND NOT a.allow_negative AND a.balance - a.held + l.amount < 0
         LIMIT 1;
        PERFORM cb_assert(FOUND, 'an awarded member or branch lacks one of its accounts');
        PERFORM cb_fail('INSUFFICIENT_FUNDS', format('member %s has %s %s available, %s needed',
          v_short.member_external_id, v_short.available, v_short.asset, -v_short.amount), NULL);
      END IF;
      RETURN v_answer;
    END $fn$;
  `);

}

export async function down(knex: Knex): Promise<void> {
  throw new Error('migration 040 has no down: it replaces cb_award_batch and cb_transactions_json in place; restore from a backup');
}
