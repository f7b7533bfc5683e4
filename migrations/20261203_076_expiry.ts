// Point expiry (积分有效期, issue 16 §3), off unless a head bank turns it on. A policy per head bank and
// asset; lots derived from the journal lazily (never on the award or spend path): the sweeper (or a read)
// folds a wallet's postings into lots under the wallet's row lock, spending first-in first-out, and
// posts EXPIRE transactions for lots past their date. wallet_lot_moves is append-only: every folded
// posting leaves at least one move, which is how a fold knows what it has folded (invariant: per wallet,
// the sum of the lots' remaining amounts less its deficit equals the balance of what was folded).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE expiry_policies (
      head_id bigint NOT NULL REFERENCES branches (id),
      asset_code text NOT NULL REFERENCES assets (code),
      kind text NOT NULL CHECK (kind IN ('OFF', 'MONTHS_AFTER_EARNING', 'YEARLY_RESET')),
      months smallint CHECK (months BETWEEN 1 AND 120),
      reset_month smallint CHECK (reset_month BETWEEN 1 AND 12),
      reset_day smallint CHECK (reset_day BETWEEN 1 AND 31),
      -- Every transaction whose txid is below this is folded into lots for the asset's wallets (the
      -- settler's rollup cursor, per policy): a policy turned on later starts at 0 and folds history.
      lots_folded_below bigint NOT NULL DEFAULT 0,
      changed_by text NOT NULL CHECK (length(changed_by) <= 200),
      changed_at timestamptz NOT NULL,
      PRIMARY KEY (head_id, asset_code),
      CONSTRAINT expiry_policies_shape CHECK (
        (kind = 'OFF' AND months IS NULL AND reset_month IS NULL AND reset_day IS NULL)
        OR (kind = 'MONTHS_AFTER_EARNING' AND months IS NOT NULL AND reset_month IS NULL AND reset_day IS NULL)
        OR (kind = 'YEARLY_RESET' AND months IS NULL AND reset_month IS NOT NULL AND reset_day IS NOT NULL))
    );

    -- One lot per credit posting on a wallet (an award, a transfer in, an adjustment): what is left of
    -- it, and when it was earned (the transaction's occurredAt). remaining is the sum of the lot's moves,
    -- kept here under the wallet's lock so that FIFO reads one index.
    CREATE TABLE wallet_lots (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      account_id bigint NOT NULL,
      asset_code text NOT NULL,
      transaction_id bigint NOT NULL,
      line smallint NOT NULL,
      earned_at timestamptz NOT NULL,
      amount numeric NOT NULL CHECK (amount > 0),
      remaining numeric NOT NULL,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, account_id) REFERENCES accounts (head_id, id),
      CONSTRAINT wallet_lots_remaining_range CHECK (remaining >= 0 AND remaining <= amount),
      CONSTRAINT wallet_lots_one_per_posting UNIQUE (head_id, account_id, transaction_id, line)
    );
    -- FIFO per wallet, and the sweeper's lots due per asset: open lots only.
    CREATE INDEX wallet_lots_open ON wallet_lots (head_id, account_id, earned_at, id) WHERE remaining > 0;
    CREATE INDEX wallet_lots_due ON wallet_lots (head_id, asset_code, earned_at) WHERE remaining > 0;

    -- Append-only: how each folded posting moved lots. EARN opens a lot, SPEND takes from one, RESTORE
    -- gives back what a reversed or voided spend took (same lot, its original date), EXPIRE takes a
    -- lot's rest, DEFICIT records a debit that found no lot (lot_id NULL; negative) or a credit that paid
    -- such a deficit back (positive).
    CREATE TABLE wallet_lot_moves (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      account_id bigint NOT NULL,
      lot_id bigint,
      transaction_id bigint NOT NULL,
      line smallint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('EARN', 'SPEND', 'RESTORE', 'EXPIRE', 'DEFICIT')),
      amount numeric NOT NULL CHECK (amount <> 0),
      -- For EXPIRE: the how-many-th expiry of the lot (a lot restored after it expired expires again).
      expire_round integer,
      moved_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, lot_id) REFERENCES wallet_lots (head_id, id),
      CONSTRAINT wallet_lot_moves_lot_unless_deficit CHECK ((lot_id IS NULL) = (kind = 'DEFICIT')),
      CONSTRAINT wallet_lot_moves_expire_round CHECK ((expire_round IS NOT NULL) = (kind = 'EXPIRE'))
    );
    -- Whether a posting is folded, and what a reversal restores.
    CREATE INDEX wallet_lot_moves_posting ON wallet_lot_moves (head_id, account_id, transaction_id, line);
    -- Each lot expires once per round, whatever the number of sweepers and crashes (the idempotency key per lot).
    CREATE UNIQUE INDEX wallet_lot_moves_expire_once ON wallet_lot_moves (head_id, lot_id, expire_round) WHERE kind = 'EXPIRE';
    -- (Its append-only trigger is created by src/expiry/sql/refuse_lot_move_change.sql.)

    -- A wallet's folding state: what debits found no lot for (paid back by the next credits).
    CREATE TABLE wallet_lot_states (
      head_id bigint NOT NULL,
      account_id bigint NOT NULL,
      deficit numeric NOT NULL DEFAULT 0 CHECK (deficit >= 0),
      folded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, account_id),
      FOREIGN KEY (head_id, account_id) REFERENCES accounts (head_id, id)
    );

    -- Pending debits (a voucher's hold) folded as spends: when the transaction is VOIDED (cancelled,
    -- expired voucher) the fold restores the lots it took; when POSTED the row goes.
    CREATE TABLE wallet_lot_holds (
      head_id bigint NOT NULL,
      account_id bigint NOT NULL,
      transaction_id bigint NOT NULL,
      line smallint NOT NULL,
      PRIMARY KEY (head_id, account_id, transaction_id, line)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS wallet_lot_holds;
    DROP TABLE IF EXISTS wallet_lot_states;
    DROP TABLE IF EXISTS wallet_lot_moves;
    DROP TABLE IF EXISTS wallet_lots;
    DROP TABLE IF EXISTS expiry_policies;
  `);
}
