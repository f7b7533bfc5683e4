// Rollups leave the write's database transaction (issue 14, decision 1): member_rollups,
// member_year_rollups and the branch deltas are folded later by the settler (cb_fold_rollups,
// src/reports/sql/fold_rollups.sql), and a report reads the folded rows plus the unfolded tail of
// the journal (cb_unfolded_postings), so every read stays exact.
// - transactions.txid: the writing transaction's id (pg_current_xact_id, as a bigint), a cursor over
//   the journal that needs no row per write. A transaction that becomes POSTED later (a fulfilled
//   redemption) takes the id of the transaction that posts it (cb_rollup_status_change, now a BEFORE
//   trigger), so it is in the tail again and is counted once, by the fold.
// - rollup_fold: one row, the cursor. Every transaction with txid < folded_below is in the rollups.
//   The fold advances it only to the horizon (the oldest transaction id still running), below which
//   every writer has finished: nothing is skipped however writers commit, nothing is folded twice.
// - Rows written before this migration were rolled up by the triggers: their txid is 1, below the
//   cursor's first value, 2 (every real transaction id is 3 or more). A writer that took its id before
//   this migration but writes after it gets its real id, so it is in the tail, folded once.
// - The postings statement trigger that rolled up each write is dropped, with its function.
// The tables are locked first, transactions then postings (the order writers take them), so no
// writer is between its transaction row and its postings while the trigger goes.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    LOCK TABLE transactions, postings IN ACCESS EXCLUSIVE MODE;
    -- A constant default first: the column is added without rewriting the table, existing rows read 1.
    ALTER TABLE transactions ADD COLUMN txid bigint NOT NULL DEFAULT 1;
    ALTER TABLE transactions ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint);
    CREATE INDEX transactions_unfolded ON transactions (txid);
    CREATE TABLE rollup_fold (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      folded_below bigint NOT NULL,
      folded_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO rollup_fold (folded_below) VALUES (2);
    DROP TRIGGER postings_rollup ON postings;
    DROP FUNCTION cb_rollup_inserted_postings();
    DROP TRIGGER transactions_rollup_status ON transactions;
    CREATE TRIGGER transactions_rollup_status BEFORE UPDATE OF status ON transactions
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION cb_rollup_status_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('migration 062 is not reversible: the rollups of writes after it exist only through the fold');
}
