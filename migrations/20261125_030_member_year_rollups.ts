// Yearly rollups for period reports: per member, asset, YEAR (of occurredAt, in the bank's time
// zone), transaction kind and rule category, the net amount and the number of postings — the
// monthly rollups of migration 010 summed by year. A year report (a party member's annual score,
// 党员积分) reads at most one row per member, asset, kind and category, however many postings the
// year had: monthly rows grow with activity (7.5 M rows at 20 M postings), yearly rows hardly do.
// Exactness: the two rollup trigger functions of migration 010 are replaced so that one firing
// upserts the monthly and the yearly rows in one statement, in the same database transaction as
// the postings. No hot row: as the monthly rows, only member wallets are rolled up.
// The backfill from the monthly rows is migration 031.
import type { Knex } from 'knex';

/** A statement's postings on member wallets of POSTED transactions, by member, asset, month, kind and category (migration 010's grouping). */
const monthlyOfInsertedPostings = `
  SELECT p.head_id, a.owner_id AS member_id, p.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date AS month,
         t.kind, coalesce(tr.category, orr.category, lower(o.kind), lower(t.kind)) AS category, sum(p.amount) AS amount, count(*) AS postings
    FROM new_postings p
    JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
    JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id AND t.status = 'POSTED'
    JOIN branches hb ON hb.id = p.head_id
    LEFT JOIN rules tr ON tr.head_id = t.head_id AND tr.id = t.rule_id
    LEFT JOIN transactions o ON o.head_id = t.head_id AND o.id = t.reverses_id
    LEFT JOIN rules orr ON orr.head_id = o.head_id AND orr.id = o.rule_id
   GROUP BY 1, 2, 3, 4, 5, 6`;

/** The member-wallet postings of a transaction that has just become POSTED, grouped the same way. */
const monthlyOfPostedTransaction = `
  SELECT p.head_id, a.owner_id AS member_id, p.asset_code, date_trunc('month', NEW.occurred_at AT TIME ZONE hb.time_zone)::date AS month,
         NEW.kind AS kind, cb_transaction_category(NEW.head_id, NEW.rule_id, NEW.kind, NEW.reverses_id) AS category,
         sum(p.amount) AS amount, count(*) AS postings
    FROM postings p
    JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
    JOIN branches hb ON hb.id = p.head_id
   -- By transaction only (a probe per partition, for a rare event): a writer need not have
   -- given its postings exactly the transaction's recorded_at.
   WHERE p.head_id = NEW.head_id AND p.transaction_id = NEW.id
   GROUP BY 1, 2, 3, 4, 5, 6`;

/** Adds the rows of \`monthly\` to member_rollups, in key order. */
const upsertMonths = `
  INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
  SELECT m.head_id, m.member_id, m.asset_code, m.month, m.kind, m.category, m.amount, m.postings
    FROM monthly m ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
  DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings`;

/** Adds the rows of \`monthly\`, summed by year, to member_year_rollups, in key order. */
const upsertYears = `
  INSERT INTO member_year_rollups AS y (head_id, member_id, asset_code, year, kind, category, amount, postings)
  SELECT m.head_id, m.member_id, m.asset_code, date_trunc('year', m.month)::date, m.kind, m.category, sum(m.amount), sum(m.postings)
    FROM monthly m
   GROUP BY 1, 2, 3, 4, 5, 6
   ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (head_id, member_id, asset_code, year, kind, category)
  DO UPDATE SET amount = y.amount + excluded.amount, postings = y.postings + excluded.postings`;

/** The two rollup trigger functions (as migration 010 made them: statement trigger on postings, status change of a transaction), writing with \`upsert\`. */
function rollupFunctions(upsert: string): string {
  return `
    CREATE OR REPLACE FUNCTION cb_rollup_inserted_postings() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      WITH monthly AS (${monthlyOfInsertedPostings}) ${upsert};
      RETURN NULL;
    END $fn$;
    -- A transaction that becomes POSTED after its postings were written (a redemption fulfilled)
    -- is counted then. Leaving POSTED is not a status change the ledger makes (corrections are
    -- reversals): asserted, so that rollups can never silently drift.
    CREATE OR REPLACE FUNCTION cb_rollup_status_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM cb_assert(OLD.status <> 'POSTED', format('transaction %s changed from POSTED to %s', OLD.id, NEW.status));
      IF NEW.status = 'POSTED' THEN
        WITH monthly AS (${monthlyOfPostedTransaction}) ${upsert};
      END IF;
      RETURN NULL;
    END $fn$;`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    -- Writers inside the old trigger functions finish first, and no rollup is written until the
    -- replacement below commits; knex runs pending migrations in one transaction, so migration
    -- 031 backfills under this same lock.
    LOCK TABLE member_rollups IN SHARE MODE;

    -- No foreign key to members, as for member_rollups: members are never deleted.
    CREATE TABLE member_year_rollups (
      head_id bigint NOT NULL,
      member_id bigint NOT NULL,
      asset_code text NOT NULL,
      -- the first day of the year of occurred_at, in the head bank's time zone
      year date NOT NULL CHECK (extract(month FROM year) = 1 AND extract(day FROM year) = 1),
      kind text NOT NULL,
      -- as member_rollups.category
      category text NOT NULL,
      amount numeric NOT NULL,
      postings bigint NOT NULL CHECK (postings >= 0),
      -- Led by the member: a branch report probes its members' rows, an award finds its member's row.
      PRIMARY KEY (head_id, member_id, asset_code, year, kind, category)
    -- As member_rollups: a member's next award of the year updates its row in place (HOT).
    ) WITH (fillfactor = 80);
    -- A whole head bank's year of one asset (partyScores, leaderboard) reads only that asset's rows
    -- of that year. It covers no amount, so updates stay HOT; it gains an entry only with a new row.
    CREATE INDEX member_year_rollups_period ON member_year_rollups (head_id, asset_code, year);

    -- One statement per firing writes both rollups: the postings are grouped once (by month), the
    -- months are upserted into member_rollups and their sums by year into member_year_rollups, each
    -- in key order (a data-modifying WITH runs once, after the main INSERT: the same order in both
    -- functions). Both tables' rows of a member are written only by writes that already lock that
    -- member's wallet.
    ${rollupFunctions(`, months AS (${upsertMonths}) ${upsertYears}`)}
  `);
}

export async function down(knex: Knex): Promise<void> {
  // Back to monthly rollups only (migration 010's behaviour), then drop the table.
  await knex.raw(String.raw`
    ${rollupFunctions(upsertMonths)}
    DROP TABLE IF EXISTS member_year_rollups;
  `);
}
