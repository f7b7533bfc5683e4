// Household reads (户, issue 16 §1): the monthly household rollups the household leaderboard and the
// branch statistics read, folded by the settler with the member rollups (cb_fold_rollups calls
// cb_fold_household_rollups over the same journal interval, in the same database transaction; a report
// adds the unfolded tail, cb_unfolded_household_postings, so every read stays exact), and party
// members' links to the households they look after (党员包户), kept as history: a link is closed, never deleted.
// The backfill is here, beside its table (the one number this change has): with the fold's cursor
// row locked, every household posting below the cursor is rolled up once; the ones at or above it are
// the tail, which the fold adds later. Nothing is folded twice, nothing is missed.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE household_rollups (
      head_id bigint NOT NULL,
      household_id bigint NOT NULL,
      asset_code text NOT NULL,
      -- The first day of the month of occurredAt, in the head bank's time zone.
      month date NOT NULL,
      kind text NOT NULL,
      amount numeric NOT NULL,
      postings bigint NOT NULL CHECK (postings > 0),
      PRIMARY KEY (head_id, household_id, asset_code, month, kind),
      FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id)
    );
    -- A whole head bank's leaderboard reads a period of one asset.
    CREATE INDEX household_rollups_period ON household_rollups (head_id, asset_code, month, household_id);

    CREATE TABLE party_member_households (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      member_id bigint NOT NULL,
      household_id bigint NOT NULL,
      linked_at timestamptz NOT NULL DEFAULT now(),
      linked_by text NOT NULL CHECK (length(linked_by) <= 200),
      unlinked_at timestamptz,
      unlinked_by text CHECK (length(unlinked_by) <= 200),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id),
      CONSTRAINT party_member_households_unlinked_complete CHECK ((unlinked_at IS NULL) = (unlinked_by IS NULL)),
      CONSTRAINT party_member_households_unlinked_after_linked CHECK (unlinked_at IS NULL OR unlinked_at >= linked_at)
    );
    -- A party member looks after a household through at most one open link.
    CREATE UNIQUE INDEX party_member_households_current ON party_member_households (head_id, member_id, household_id) WHERE unlinked_at IS NULL;
    CREATE INDEX party_member_households_household ON party_member_households (head_id, household_id, linked_at);

    SELECT 1 FROM rollup_fold FOR UPDATE;
    INSERT INTO household_rollups (head_id, household_id, asset_code, month, kind, amount, postings)
    SELECT t.head_id, a.owner_id, p.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date, t.kind,
           sum(p.amount), count(*)
      FROM accounts a
      JOIN postings p ON p.head_id = a.head_id AND p.account_id = a.id
      JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id AND t.recorded_at = p.recorded_at
      JOIN branches hb ON hb.id = t.head_id
     WHERE a.owner_type = 'HOUSEHOLD' AND t.status = 'POSTED' AND t.txid < (SELECT f.folded_below FROM rollup_fold f)
     GROUP BY 1, 2, 3, 4, 5;
    ANALYZE household_rollups;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS party_member_households; DROP TABLE IF EXISTS household_rollups;`);
}
