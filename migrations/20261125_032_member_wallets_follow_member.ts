// A member wallet is in its member's branch: accounts.branch_id = members.branch_id for every
// account of owner_type MEMBER, held by the database for every writer. branchStats of a whole head
// bank groups wallet balances by accounts.branch_id instead of joining a million members (measured
// at 2 M postings, beside a load: 0.5-0.7 s against 1.9 s), and scope checks on accounts read it too.
// - A member moved to another branch (UPDATE of members.branch_id, by upsertMember or anyone) takes
//   its wallets along in the same transaction: a row trigger on members.
// - A member wallet made or re-branched anywhere else is refused (an assertion, SQLSTATE CBASS):
//   a row trigger on accounts that fires only on INSERT and on UPDATE naming branch_id, so the
//   write path's balance updates do not fire it.
// Existing rows are checked first (upsertMember has always moved both in one transaction): a
// mismatch stops the migration rather than being mended silently. The check only reads; the
// triggers' brief locks on members and accounts come after it.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    -- A large bank's check reads every wallet: longer than the service's statement timeout.
    SET LOCAL statement_timeout = 0;
    SELECT cb_assert(NOT EXISTS (
             SELECT 1 FROM accounts a JOIN members m ON m.head_id = a.head_id AND m.id = a.owner_id
              WHERE a.owner_type = 'MEMBER' AND a.branch_id <> m.branch_id),
           'a member wallet is not in its member''s branch');

    CREATE FUNCTION cb_member_wallets_follow() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE accounts SET branch_id = NEW.branch_id
       WHERE head_id = NEW.head_id AND owner_type = 'MEMBER' AND owner_id = NEW.id AND branch_id <> NEW.branch_id;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER members_wallets_follow AFTER UPDATE OF branch_id ON members
      FOR EACH ROW WHEN (OLD.branch_id IS DISTINCT FROM NEW.branch_id) EXECUTE FUNCTION cb_member_wallets_follow();

    CREATE FUNCTION cb_assert_wallet_branch() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM cb_assert(EXISTS (SELECT 1 FROM members m WHERE m.head_id = NEW.head_id AND m.id = NEW.owner_id AND m.branch_id = NEW.branch_id),
        format('member wallet %s would be in branch %s, not in its member %s''s branch', NEW.id, NEW.branch_id, NEW.owner_id));
      RETURN NEW;
    END $fn$;
    CREATE TRIGGER accounts_wallet_branch BEFORE INSERT OR UPDATE OF branch_id ON accounts
      FOR EACH ROW WHEN (NEW.owner_type = 'MEMBER') EXECUTE FUNCTION cb_assert_wallet_branch();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS accounts_wallet_branch ON accounts;
    DROP TRIGGER IF EXISTS members_wallets_follow ON members;
    DROP FUNCTION IF EXISTS cb_assert_wallet_branch(), cb_member_wallets_follow();
  `);
}
