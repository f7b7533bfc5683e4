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
    );
    -- Reports over a whole branch or head bank scan a period of one asset.
    CREATE INDEX member_rollups_period ON member_rollups (head_id, asset_code, month) INCLUDE (member_id, kind, category, amount);

    -- The category a transaction's postings count under (see member_rollups.category).
    CREATE FUNCTION cb_transaction_category(p_head bigint, p_rule bigint, p_kind text, p_reverses bigint) RETURNS text
    LANGUAGE sql STABLE AS $fn$
      SELECT coalesce(
        (SELECT r.category FROM rules r WHERE r.head_id = p_head AND r.id = p_rule),
        (SELECT coalesce(r.category, lower(o.kind)) FROM transactions o LEFT JOIN rules r ON r.head_id = o.head_id AND r.id = o.rule_id
          WHERE p_reverses IS NOT NULL AND o.head_id = p_head AND o.id = p_reverses),
        lower(p_kind))
    $fn$;

    -- Adds postings (as parallel arrays) to the rollups of their member wallets, counting only
    -- postings of POSTED transactions. Rows are upserted in key order, so two writers never take
    -- the same rollup rows in opposite orders.
    CREATE FUNCTION cb_rollup_add(p_head bigint, p_txns bigint[], p_accounts bigint[], p_assets text[], p_amounts numeric[])
    RETURNS void LANGUAGE sql AS $fn$
      INSERT INTO member_rollups AS r (head_id, member_id, asset_code, month, kind, category, amount, postings)
      SELECT p_head, a.owner_id, x.asset_code, date_trunc('month', t.occurred_at AT TIME ZONE hb.time_zone)::date, t.kind,
             cb_transaction_category(t.head_id, t.rule_id, t.kind, t.reverses_id), sum(x.amount), count(*)
        FROM unnest(p_txns, p_accounts, p_assets, p_amounts) x (transaction_id, account_id, asset_code, amount)
        JOIN transactions t ON t.head_id = p_head AND t.id = x.transaction_id
        JOIN accounts a ON a.head_id = p_head AND a.id = x.account_id
        JOIN branches hb ON hb.id = p_head
       WHERE a.owner_type = 'MEMBER' AND t.status = 'POSTED'
       GROUP BY 1, 2, 3, 4, 5, 6
       ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (head_id, member_id, asset_code, month, kind, category)
      DO UPDATE SET amount = r.amount + excluded.amount, postings = r.postings + excluded.postings
    $fn$;

    CREATE FUNCTION cb_rollup_inserted_postings() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      v record;
    BEGIN
      -- One statement writes postings of one head bank (every writer works inside one); grouped anyway.
      FOR v IN SELECT p.head_id, array_agg(p.transaction_id) AS txns, array_agg(p.account_id) AS accounts,
                      array_agg(p.asset_code) AS assets, array_agg(p.amount) AS amounts
                 FROM new_postings p GROUP BY p.head_id ORDER BY p.head_id LOOP
        PERFORM cb_rollup_add(v.head_id, v.txns, v.accounts, v.assets, v.amounts);
      END LOOP;
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
        PERFORM cb_rollup_add(NEW.head_id, array_agg(p.transaction_id), array_agg(p.account_id), array_agg(p.asset_code), array_agg(p.amount))
           FROM postings p
          WHERE p.head_id = NEW.head_id AND p.transaction_id = NEW.id AND p.recorded_at = NEW.recorded_at;
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
    DROP FUNCTION IF EXISTS cb_rollup_status_change(), cb_rollup_inserted_postings(),
      cb_rollup_add(bigint, bigint[], bigint[], text[], numeric[]),
      cb_transaction_category(bigint, bigint, text, bigint);
    DROP TABLE IF EXISTS member_rollups;
  `);
}
