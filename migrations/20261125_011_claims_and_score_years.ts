// Claims with approval, and the closing of party-score years.
// A claim (an activity under a rule that needs approval) is decided once: approval and rejection
// lock the claim row and act only on a PENDING claim. Approval posts through cb_award_batch, the
// path of awardPoints (caps counted at approval), which is patched here to let a rule that needs
// approval through when, and only when, cb_approve_claim calls it.
// A closed score year (closeScoreYear) freezes PARTY_SCORE for a branch subtree: a trigger on
// postings refuses any PARTY_SCORE posting to a member wallet of that subtree dated in that year,
// whoever writes it (award, claim, adjustment, reversal). Closing and reopening are both recorded.
import type { Knex } from 'knex';

/** The one line of cb_award_batch that refuses rules needing approval (migration 002). */
const approvalCheck = 'WHEN r.requires_approval THEN 6';
const approvalCheckPatched = `WHEN r.requires_approval AND current_setting('cb.approving_claim', true) IS DISTINCT FROM 'on' THEN 6`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    CREATE SEQUENCE claims_id_seq;
    CREATE TABLE claims (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('claims_id_seq'),
      -- the member's branch when the claim was submitted (admins list claims by it)
      branch_id bigint NOT NULL REFERENCES branches (id),
      member_id bigint NOT NULL,
      rule_code text NOT NULL,
      quantity numeric NOT NULL CHECK (quantity > 0),
      occurred_at timestamptz NOT NULL,
      evidence_text text CHECK (length(evidence_text) <= 2000),
      evidence_links text[] NOT NULL DEFAULT '{}' CHECK (cardinality(evidence_links) <= 10),
      status text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
      submitted_by text NOT NULL,
      submitted_role text NOT NULL,
      submitted_at timestamptz NOT NULL DEFAULT now(),
      decided_by text,
      decided_at timestamptz,
      -- the idempotency key of the decision, so that a retried decision replays
      decision_key text,
      reason text CHECK (length(reason) <= 500),
      transaction_id bigint,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      CONSTRAINT claims_decided CHECK ((status = 'PENDING') = (decided_at IS NULL) AND (status = 'PENDING') = (decided_by IS NULL)),
      CONSTRAINT claims_approved_has_transaction CHECK ((status = 'APPROVED') = (transaction_id IS NOT NULL)),
      CONSTRAINT claims_rejected_has_reason CHECK (status <> 'REJECTED' OR reason IS NOT NULL)
    );
    CREATE INDEX claims_branch_status ON claims (head_id, branch_id, status, id);
    CREATE INDEX claims_member ON claims (head_id, member_id, id);

    -- Closing of a party-score year for a branch subtree; reopening fills reopened_*, and closing
    -- again makes a new row: the history of both acts stays. One open closure per branch and year.
    CREATE TABLE score_year_closures (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint GENERATED ALWAYS AS IDENTITY,
      branch_id bigint NOT NULL REFERENCES branches (id),
      year integer NOT NULL CHECK (year BETWEEN 2000 AND 2200),
      closed_by text NOT NULL,
      closed_at timestamptz NOT NULL DEFAULT now(),
      reopened_by text,
      reopened_at timestamptz,
      reopen_reason text CHECK (length(reopen_reason) <= 500),
      PRIMARY KEY (head_id, id),
      CONSTRAINT score_year_closures_reopen_complete CHECK ((reopened_at IS NULL) = (reopened_by IS NULL) AND (reopened_at IS NULL) = (reopen_reason IS NULL))
    );
    CREATE UNIQUE INDEX score_year_closures_open ON score_year_closures (head_id, branch_id, year) WHERE reopened_at IS NULL;

    -- The advisory lock of one head bank's score years: PARTY_SCORE writers take it shared, closing
    -- takes it exclusive, so a year is never closed under a write dated in it that is still running.
    -- One key per head bank (not per year): writers need not read their transactions to take it,
    -- and closing a year, rare, waits for the bank's running PARTY_SCORE writes only.
    CREATE FUNCTION cb_score_year_lock_key(p_head bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $fn$
      SELECT hashtextextended('cb-score-years:' || p_head, 0)
    $fn$;

    -- Refuses PARTY_SCORE postings to member wallets dated in a year closed for their branch or above.
    -- Cheap when nothing is closed: one probe of score_year_closures per head bank written.
    CREATE FUNCTION cb_guard_score_years() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
      v_head bigint;
    BEGIN
      FOR v_head IN SELECT DISTINCT p.head_id FROM new_postings p WHERE p.asset_code = 'PARTY_SCORE' ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(cb_score_year_lock_key(v_head));
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM score_year_closures c WHERE c.head_id = v_head AND c.reopened_at IS NULL);
        SELECT m.external_id, c.year, cb.code AS branch_code INTO v
          FROM new_postings p
          JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
          JOIN branches hb ON hb.id = p.head_id
          JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
          JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id
          JOIN branches mb ON mb.id = m.branch_id
          JOIN score_year_closures c ON c.head_id = p.head_id AND c.reopened_at IS NULL
                                    AND c.year = extract(year FROM t.occurred_at AT TIME ZONE hb.time_zone)::integer
          JOIN branches cb ON cb.id = c.branch_id AND starts_with(mb.path, cb.path)
         WHERE p.head_id = v_head AND p.asset_code = 'PARTY_SCORE'
         LIMIT 1;
        IF FOUND THEN
          PERFORM cb_fail('INVALID_STATE', format(
            'the %s party-score year is closed for branch %s: member %s''s PARTY_SCORE dated in it cannot change (the head bank can reopen the year)',
            v.year, v.branch_code, v.external_id));
        END IF;
      END LOOP;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER postings_score_year_open AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings
      FOR EACH STATEMENT EXECUTE FUNCTION cb_guard_score_years();

    -- Approves a PENDING claim by awarding it through cb_award_batch (idempotency key, scope, rule,
    -- caps and postings exactly as awardPoints), under the claim's row lock: decided once. Returns
    -- the award's result ({replayed, transactionId} or {error}); on an error the claim stays PENDING.
    CREATE FUNCTION cb_approve_claim(p_head bigint, p_sub text, p_role text, p_scope_path text, p_tz text,
                                     p_claim bigint, p_key text, p_hash text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      c claims;
      v jsonb;
    BEGIN
      SELECT * INTO c FROM claims WHERE head_id = p_head AND id = p_claim FOR UPDATE;
      IF NOT FOUND THEN
        PERFORM cb_fail('NOT_FOUND', format('claim: no claim %s', p_claim));
      END IF;
      IF c.status <> 'PENDING' THEN
        IF c.status = 'APPROVED' AND c.decided_by = p_sub AND c.decision_key = p_key THEN
          RETURN jsonb_build_object('replayed', true, 'transactionId', c.transaction_id::text);
        END IF;
        PERFORM cb_fail('INVALID_STATE', format('claim %s was already %s by %s', p_claim, lower(c.status), c.decided_by));
      END IF;
      PERFORM set_config('cb.approving_claim', 'on', true);
      v := cb_award_batch(p_head, p_sub, p_role, p_scope_path, p_tz, jsonb_build_array(jsonb_build_object(
             'key', p_key, 'hash', p_hash, 'memberId', c.member_id::text, 'rule', c.rule_code, 'quantity', c.quantity::text,
             'occurredAt', c.occurred_at, 'memo', NULL, 'metadata', jsonb_build_object('claimId', c.id::text))))->0;
      PERFORM set_config('cb.approving_claim', '', true);
      IF jsonb_exists(v, 'error') THEN
        RETURN v;
      END IF;
      UPDATE claims SET status = 'APPROVED', transaction_id = (v->>'transactionId')::bigint, decided_by = p_sub,
                        decided_at = now(), decision_key = p_key
       WHERE head_id = p_head AND id = p_claim;
      RETURN v;
    END $fn$;
  `);
  // cb_award_batch refuses rules that need approval (check 6). Approval must post through that same
  // function, so the check lets such a rule through while cb_approve_claim runs it. Patched in place
  // (the one line, asserted to occur exactly once) rather than by a copy of the whole function, which
  // would silently undo any other change a parallel migration makes to it.
  await knex.raw(`
    DO $do$
    DECLARE
      v_def text := pg_get_functiondef('cb_award_batch(bigint, text, text, text, text, jsonb)'::regprocedure);
      v_old text := ${literal(approvalCheck)};
    BEGIN
      IF (length(v_def) - length(replace(v_def, v_old, ''))) / length(v_old) <> 1 THEN
        RAISE EXCEPTION 'cb_award_batch: expected exactly one "%" to patch', v_old;
      END IF;
      EXECUTE replace(v_def, v_old, ${literal(approvalCheckPatched)});
    END $do$`);
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DO $do$
    DECLARE
      v_def text := pg_get_functiondef('cb_award_batch(bigint, text, text, text, text, jsonb)'::regprocedure);
    BEGIN
      EXECUTE replace(v_def, ${literal(approvalCheckPatched)}, ${literal(approvalCheck)});
    END $do$;
    DROP TRIGGER IF EXISTS postings_score_year_open ON postings;
    DROP FUNCTION IF EXISTS cb_approve_claim(bigint, text, text, text, text, bigint, text, text), cb_guard_score_years(),
      cb_score_year_lock_key(bigint);
    DROP TABLE IF EXISTS score_year_closures, claims;
    DROP SEQUENCE IF EXISTS claims_id_seq;
  `);
}
