// The tamper-evident journal (invariant 8): a chain of SHA-256 digests per head bank. Every
// transaction in a final status (POSTED or VOIDED) is queued for sealing when it is written or when
// it leaves PENDING; a sealer (src/ledger/seal.ts) takes the queue in blocks off the write path and
// gives each transaction the next sequence number of its head bank's chain and a digest over the
// previous digest and its canonical encoding. journal_chains holds the head of each chain: the row
// a sealer locks, so that with several processes each block is sealed once and in order.
// A final status is final: the database refuses changing it (a sealed digest covers the status).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    -- Final transactions waiting for the sealer, in the order they became final (roughly). No foreign
    -- key: a row is written by every write statement, in the same transaction as the transactions it
    -- names, and a foreign-key probe per award is write-path cost for nothing (the sealer asserts that
    -- every queued transaction can be read, and journal_seals has the foreign key).
    CREATE TABLE journal_seal_queue (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      transaction_id bigint NOT NULL,
      PRIMARY KEY (head_id, id)
    );

    -- The head of each head bank's chain: the last sequence number and digest sealed.
    CREATE TABLE journal_chains (
      head_id bigint PRIMARY KEY REFERENCES branches (id),
      sequence bigint NOT NULL CHECK (sequence >= 0),
      digest bytea NOT NULL CHECK (length(digest) = 32),
      sealed_at timestamptz NOT NULL
    );

    -- One row per sealed transaction: its place in the chain and the digest up to and including it.
    CREATE TABLE journal_seals (
      head_id bigint NOT NULL,
      sequence bigint NOT NULL CHECK (sequence >= 1),
      transaction_id bigint NOT NULL,
      digest bytea NOT NULL CHECK (length(digest) = 32),
      sealed_at timestamptz NOT NULL,
      PRIMARY KEY (head_id, sequence),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      -- a transaction is sealed once
      CONSTRAINT journal_seals_once UNIQUE (head_id, transaction_id)
    );

    -- Queue transactions written in a final status (one statement per write statement, so a batch
    -- of awards adds one INSERT, not one per award).
    CREATE FUNCTION cb_queue_final_inserted() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO journal_seal_queue (head_id, transaction_id)
      SELECT n.head_id, n.id FROM new_rows n WHERE n.status <> 'PENDING' ORDER BY n.head_id, n.id;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER transactions_queue_final_inserted AFTER INSERT ON transactions
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_queue_final_inserted();

    -- Queue transactions that leave PENDING (a redemption fulfilled, cancelled or expired).
    CREATE FUNCTION cb_queue_final_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO journal_seal_queue (head_id, transaction_id)
      SELECT n.head_id, n.id FROM new_rows n JOIN old_rows o ON o.head_id = n.head_id AND o.id = n.id
       WHERE o.status = 'PENDING' AND n.status <> 'PENDING' ORDER BY n.head_id, n.id;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER transactions_queue_final_updated AFTER UPDATE ON transactions
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cb_queue_final_updated();

    -- POSTED and VOIDED are final: a sealed digest covers the status, so it never changes again.
    CREATE FUNCTION cb_refuse_final_status_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      -- No code path changes a final status: reaching this is an invariant broken, not a request to refuse.
      RAISE EXCEPTION 'invariant broken: transaction % is % (a final status) and cannot become %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'CBASS';
    END $fn$;
    CREATE TRIGGER transactions_final_status BEFORE UPDATE OF status ON transactions
      FOR EACH ROW WHEN (OLD.status <> 'PENDING' AND NEW.status IS DISTINCT FROM OLD.status)
      EXECUTE FUNCTION cb_refuse_final_status_change();

    -- Seals are history too: never updated or deleted.
    CREATE FUNCTION cb_refuse_seal_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION 'journal seals are append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
    END $fn$;
    CREATE TRIGGER journal_seals_append_only BEFORE UPDATE OR DELETE ON journal_seals
      FOR EACH ROW EXECUTE FUNCTION cb_refuse_seal_change();
    CREATE TRIGGER journal_seals_no_truncate BEFORE TRUNCATE ON journal_seals
      FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_seal_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS transactions_queue_final_inserted ON transactions;
    DROP TRIGGER IF EXISTS transactions_queue_final_updated ON transactions;
    DROP TRIGGER IF EXISTS transactions_final_status ON transactions;
    DROP TABLE IF EXISTS journal_seals, journal_chains, journal_seal_queue;
    DROP FUNCTION IF EXISTS cb_queue_final_inserted(), cb_queue_final_updated(), cb_refuse_final_status_change(), cb_refuse_seal_change();
  `);
}
