// Point expiry (issue 16 §3), second step of migration 076's number: which wallets have credits the
// lots do not hold yet, and since when. The sweeper scans the journal past expiry_policies'
// lots_folded_below into this table with one set-based statement per window (a wallet row with its
// earliest unfolded credit), instead of folding every wallet the journal touched: a wallet is folded
// only when something in it can be due (its earliest unfolded credit, or an open lot, earned before the
// policy's cutoff), when a member reads its expiring points, or when a check needs it. A fold deletes
// the wallet's row (under the wallet's lock, after folding everything committed).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE wallet_lot_unfolded (
      head_id bigint NOT NULL,
      account_id bigint NOT NULL,
      asset_code text NOT NULL,
      -- the earliest occurredAt of a credit not folded yet; -infinity for a reversal (which restores lots of any age)
      earliest_earned_at timestamptz NOT NULL,
      PRIMARY KEY (head_id, account_id),
      FOREIGN KEY (head_id, account_id) REFERENCES accounts (head_id, id)
    );
    CREATE INDEX wallet_lot_unfolded_due ON wallet_lot_unfolded (head_id, asset_code, earliest_earned_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS wallet_lot_unfolded');
}
