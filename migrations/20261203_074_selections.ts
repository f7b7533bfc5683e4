// Selections (评选, issue 16 §2): a branch's selection with a quota, the rule that pays its winners and
// a notice period (公示) in whole days of the bank's calendar; its candidates (members or
// households), the objections (异议) members file during the period, and the selection's history,
// append-only. A winner is paid once: the candidate row records the award's transaction, and the
// award's idempotency key is selection:<id>:<candidate> (src/selections/sql/award_selection_candidate.sql).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE selections (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint GENERATED ALWAYS AS IDENTITY,
      branch_id bigint NOT NULL REFERENCES branches (id),
      title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      quota integer NOT NULL CHECK (quota BETWEEN 1 AND 1000),
      rule_code text NOT NULL,
      notice_days integer NOT NULL DEFAULT 5 CHECK (notice_days BETWEEN 1 AND 60),
      status text NOT NULL CHECK (status IN ('OPEN', 'PUBLISHED', 'AWARDING', 'AWARDED', 'WITHDRAWN')),
      opened_by text NOT NULL,
      opened_at timestamptz NOT NULL,
      published_at timestamptz,
      -- the first instant after the period: midnight of the bank's calendar, notice_days (plus extensions) after publishing
      period_ends_at timestamptz,
      extended_days integer NOT NULL DEFAULT 0 CHECK (extended_days BETWEEN 0 AND 365),
      withdrawn_at timestamptz,
      awarded_at timestamptz,
      PRIMARY KEY (head_id, id),
      CONSTRAINT selections_published CHECK ((published_at IS NULL) = (period_ends_at IS NULL)
        AND (status IN ('OPEN', 'WITHDRAWN') OR published_at IS NOT NULL) AND (status <> 'OPEN' OR published_at IS NULL)),
      CONSTRAINT selections_withdrawn CHECK ((status = 'WITHDRAWN') = (withdrawn_at IS NOT NULL)),
      CONSTRAINT selections_awarded CHECK ((status = 'AWARDED') = (awarded_at IS NOT NULL))
    );
    CREATE INDEX selections_branch ON selections (head_id, branch_id, id);
    -- the awarding round's scan: selections whose period may have ended
    CREATE INDEX selections_due ON selections (period_ends_at) WHERE status IN ('PUBLISHED', 'AWARDING');

    CREATE TABLE selection_candidates (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      selection_id bigint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('MEMBER', 'HOUSEHOLD')),
      member_id bigint,
      household_id bigint,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      evidence_links text[] NOT NULL DEFAULT '{}' CHECK (cardinality(evidence_links) <= 10),
      status text NOT NULL CHECK (status IN ('NOMINATED', 'STRUCK', 'AWARDED')),
      nominated_by text NOT NULL,
      nominated_at timestamptz NOT NULL,
      transaction_id bigint,
      awarded_at timestamptz,
      -- the last refusal of the candidate's award (a cap, a rule no longer valid); retried every round
      award_error text CHECK (length(award_error) <= 2000),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, selection_id) REFERENCES selections (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      CONSTRAINT selection_candidates_kind CHECK ((kind = 'MEMBER') = (member_id IS NOT NULL) AND (kind = 'HOUSEHOLD') = (household_id IS NOT NULL)),
      CONSTRAINT selection_candidates_awarded CHECK ((status = 'AWARDED') = (transaction_id IS NOT NULL) AND (status = 'AWARDED') = (awarded_at IS NOT NULL))
    );
    CREATE UNIQUE INDEX selection_candidates_member ON selection_candidates (head_id, selection_id, member_id) WHERE member_id IS NOT NULL;
    CREATE UNIQUE INDEX selection_candidates_household ON selection_candidates (head_id, selection_id, household_id) WHERE household_id IS NOT NULL;
    CREATE INDEX selection_candidates_selection ON selection_candidates (head_id, selection_id, id);

    CREATE TABLE selection_objections (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      selection_id bigint NOT NULL,
      candidate_id bigint NOT NULL,
      member_id bigint NOT NULL,
      filed_by text NOT NULL,
      filed_at timestamptz NOT NULL,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      status text NOT NULL CHECK (status IN ('OPEN', 'UPHELD', 'DISMISSED')),
      resolved_by text,
      resolved_at timestamptz,
      resolution_reason text CHECK (length(resolution_reason) <= 500),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, selection_id) REFERENCES selections (head_id, id),
      FOREIGN KEY (head_id, candidate_id) REFERENCES selection_candidates (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      CONSTRAINT selection_objections_resolved CHECK ((status = 'OPEN') = (resolved_at IS NULL)
        AND (status = 'OPEN') = (resolved_by IS NULL) AND (status = 'OPEN') = (resolution_reason IS NULL))
    );
    CREATE INDEX selection_objections_selection ON selection_objections (head_id, selection_id, id);
    -- an open objection holds its selection: the awarding round asks for one per due selection
    CREATE INDEX selection_objections_open ON selection_objections (head_id, selection_id) WHERE status = 'OPEN';

    -- Every act on a selection, who and when: append-only (selections/sql/refuse_selection_history_change.sql).
    CREATE TABLE selection_history (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      selection_id bigint NOT NULL,
      act text NOT NULL CHECK (act IN ('OPENED', 'NOMINATED', 'PUBLISHED', 'OBJECTED', 'UPHELD', 'DISMISSED', 'EXTENDED',
                                       'WITHDRAWN', 'AWARDING', 'AWARDED_CANDIDATE', 'AWARD_REFUSED', 'AWARDED')),
      actor text NOT NULL,
      at timestamptz NOT NULL,
      details jsonb NOT NULL DEFAULT '{}',
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, selection_id) REFERENCES selections (head_id, id)
    );
    CREATE INDEX selection_history_selection ON selection_history (head_id, selection_id, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS selection_history;
    DROP TABLE IF EXISTS selection_objections;
    DROP TABLE IF EXISTS selection_candidates;
    DROP TABLE IF EXISTS selections;
  `);
}
