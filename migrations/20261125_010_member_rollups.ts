// Rollups for period reports (party scores, leaderboards, branch stats, statements): per member,
// asset, month (of occurredAt, in the bank's time zone), transaction kind and rule category, the net
// amount and the number of postings. Reports read these instead of raw postings.
// Exactness: kept by triggers in the same database transaction as the postings, for every writer
// (awards, entries, and writers this file does not know, e.g. redemptions): an AFTER INSERT statement
// trigger on postings counts the postings of POSTED transactions, and an AFTER UPDATE trigger on
// transactions counts a transaction's postings when it becomes POSTED (PENDING → POSTED).
// No hot row: only member wallets are rolled up (system accounts are written by every award of a
// branch); a member's rollup row is written only by writes that already lock that member's wallet.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    -- No foreign key to members: the check would cost every award a probe, and members are never deleted.
    CREATE TABLE member_rollups (
      head_id bigint NOT NULL,
      member_id bigint NOT NULL,
      asset_code text NOT NULL,
      -- the first day of the month of occurred_at, in the head bank's time zone
      month date NOT NULL CHECK (extract(day FROM month) = 1),
      kind text NOT NULL,
      -- the rule's category for awards; for a reversal, the category of what it reverses; else the kind in lower case
      category text NOT NULL,
      amount numeric NOT NULL,
      postings bigint NOT NULL CHECK (postings >= 0),
      PRIMARY KEY (head_id, member_id, asset_code, month, kind, category)
    -- Room on each page for the next version of a row: a member's second award of a month updates
    -- its row in place (a HOT update, no index entries), since no index covers amount or postings.
    ) WITH (fillfactor = 80);
    -- Reports over a whole branch or head bank scan a period of one asset.
    CREATE INDEX member_rollups_period ON member_rollups (head_id, asset_code, month);

    -- The category a transaction's postings count under (see member_rollups.category).
    CREATE FUNCTION cb_transaction_category(p_head bigint, p_rule bigint, p_kind text, p_reverses bigint) RETURNS text
    LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        (SELECT r.category FROM rules r WHERE r.head_id = p_head AND r.id = p_rule),
        (SELECT coalesce(r.category, lower(o.kind)) FROM transactions o LEFT JOIN rules r ON r.head_id = o.head_id AND r.id = o.rule_id
          WHERE p_reverses IS NOT NULL AND o.head_id = p_head AND o.id = p_reverses),
        lower(p_kind))
    $fn$;

    -- Adds the postings of a statement to the rollups of their member wallets, counting only
    -- postings of POSTED transactions (the category as cb_transaction_category, written as joins so
    -- that the planner sees them). Rows are upserted in key order, so two writers never take the same
    -- rollup rows in opposite orders. plpgsql: its plans are made once per connection.
    CREATE FUNCTION cb_rollup_inserted_postings() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
      SELECT p.head_id, a.owner_id, p.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date, t.kind,
             coalesce(tr.category, orr.category, lower(o.kind), lower(t.kind)), sum(p.amount), count(*)
        FROM new_postings p
        JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
        JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id AND t.status = 'POSTED'
        JOIN branches hb ON hb.id = p.head_id
        LEFT JOIN rules tr ON tr.head_id = t.head_id AND tr.id = t.rule_id
        LEFT JOIN transactions o ON o.head_id = t.head_id AND o.id = t.reverses_id
        LEFT JOIN rules orr ON orr.head_id = o.head_id AND orr.id = o.rule_id
       GROUP BY 1, 2, 3, 4, 5, 6
       ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
      DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER postings_rollup AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings
      FOR EACH STATEMENT EXECUTE FUNCTION cb_rollup_inserted_postings();

    -- A transaction that becomes POSTED after its postings were written (a redemption fulfilled)
    -- is counted then. Leaving POSTED is not a status change the ledger makes (corrections are
    -- reversals): asserted, so that rollups can never silently drift.
    CREATE FUNCTION cb_rollup_status_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM cb_assert(OLD.status <> 'POSTED', format('transaction %s changed from POSTED to %s', OLD.id, NEW.status));
      IF NEW.status = 'POSTED' THEN
        INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
        SELECT p.head_id, a.owner_id, p.asset_code, date_trunc('month', NEW.occurred_at AT TIME ZONE hb.time_zone)::date, NEW.kind,
               cb_transaction_category(NEW.head_id, NEW.rule_id, NEW.kind, NEW.reverses_id), sum(p.amount), count(*)
          FROM postings p
          JOIN accounts a ON a.head_id = p.head_id AND a.id = p.account_id AND a.owner_type = 'MEMBER'
          JOIN branches hb ON hb.id = p.head_id
         -- By transaction only (a probe per partition, for a rare event): a writer need not have
         -- given its postings exactly the transaction's recorded_at.
         WHERE p.head_id = NEW.head_id AND p.transaction_id = NEW.id
         GROUP BY 1, 2, 3, 4, 5, 6
         ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
        DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings;
      END IF;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER transactions_rollup_status AFTER UPDATE OF status ON transactions
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION cb_rollup_status_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS transactions_rollup_status ON transactions;
    DROP TRIGGER IF EXISTS postings_rollup ON postings;
    DROP FUNCTION IF EXISTS cb_rollup_status_change(), cb_rollup_inserted_postings(), cb_transaction_category(bigint, bigint, text, bigint);
    DROP TABLE IF EXISTS member_rollups;
  `);
}
