// Households (户, issue 16 §1): a household belongs to a branch, has wallets like a member's (accounts
// of owner_type HOUSEHOLD: same assets, same invariants, same journal), and a member is in at most one
// household at a time, with every move kept as history (household_members rows are closed, never
// deleted). A rule names its beneficiary (the member, or the member's current household); caps of a
// household rule count per household (household_rule_usage). A branch sets who may spend from a
// household wallet (household_spending: NULL inherits from the nearest ancestor that sets it; the head
// bank's NULL means ANY_ADULT). Transactions, redemptions and donations name the household whose wallet
// they credit or debit (NULL: a member's wallet), so a refund or cancel returns to the wallet it came from.
// The triggers on households (never deleted, wallets follow the branch) are created by their SQL files
// (src/directory/sql/), which run after the migrations.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE households (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint GENERATED ALWAYS AS IDENTITY,
      branch_id bigint NOT NULL REFERENCES branches (id),
      external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      head_member_id bigint,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      CONSTRAINT households_external_id_unique UNIQUE (head_id, external_id),
      FOREIGN KEY (head_id, head_member_id) REFERENCES members (head_id, id)
    );
    CREATE INDEX households_branch ON households (head_id, branch_id, id);

    -- Membership history: a row per stay of a member in a household (with its adult flag); a move or a
    -- change of the flag closes the row (left_at) and opens another. Never deleted.
    CREATE TABLE household_members (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      household_id bigint NOT NULL,
      member_id bigint NOT NULL,
      adult boolean NOT NULL,
      joined_at timestamptz NOT NULL DEFAULT now(),
      joined_by text NOT NULL CHECK (length(joined_by) <= 200),
      left_at timestamptz,
      left_by text CHECK (length(left_by) <= 200),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      CONSTRAINT household_members_left_complete CHECK ((left_at IS NULL) = (left_by IS NULL)),
      CONSTRAINT household_members_left_after_joined CHECK (left_at IS NULL OR left_at >= joined_at)
    );
    -- A member is in at most one household at a time.
    CREATE UNIQUE INDEX household_members_current ON household_members (head_id, member_id) WHERE left_at IS NULL;
    CREATE INDEX household_members_household ON household_members (head_id, household_id, joined_at);

    -- Household wallets: accounts of owner_type HOUSEHOLD, owner_id the household's id.
    ALTER TABLE accounts DROP CONSTRAINT accounts_owner_type_check,
      ADD CONSTRAINT accounts_owner_type_check CHECK (owner_type IN ('MEMBER', 'HOUSEHOLD', 'MERCHANT', 'POOL', 'SYSTEM'));

    -- Rules are versioned rows: each version states its beneficiary (a constant default: no rewrite).
    ALTER TABLE rules ADD COLUMN beneficiary text NOT NULL DEFAULT 'MEMBER',
      ADD CONSTRAINT rules_beneficiary_check CHECK (beneficiary IN ('MEMBER', 'HOUSEHOLD'));

    -- Who may spend from a household wallet; NULL inherits from the nearest ancestor that sets it.
    ALTER TABLE branches ADD COLUMN household_spending text,
      ADD COLUMN household_spending_changed_by text,
      ADD COLUMN household_spending_changed_at timestamptz,
      ADD CONSTRAINT branches_household_spending_check CHECK (household_spending IN ('ANY_ADULT', 'HEAD_ONLY')),
      ADD CONSTRAINT branches_household_spending_changed_by_check CHECK (length(household_spending_changed_by) <= 200);

    -- The household a transaction credits or debits. No foreign key: like the journal's other
    -- parties since migration 065, it is checked per statement (cb_check_transaction_references).
    ALTER TABLE transactions ADD COLUMN household_id bigint;
    CREATE INDEX transactions_household ON transactions (head_id, household_id, id DESC) WHERE household_id IS NOT NULL;

    -- The household wallet a voucher or a donation spent from (NULL: the member's own wallet).
    ALTER TABLE redemptions ADD COLUMN household_id bigint,
      ADD CONSTRAINT redemptions_head_id_household_id_fkey FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id);
    ALTER TABLE pool_donations ADD COLUMN household_id bigint,
      ADD CONSTRAINT pool_donations_head_id_household_id_fkey FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id);

    -- Caps of a household rule count per household (invariant 5), beside rule_usage's per member.
    CREATE TABLE household_rule_usage (
      head_id bigint NOT NULL,
      household_id bigint NOT NULL,
      rule_code text NOT NULL,
      window_kind text NOT NULL CHECK (window_kind IN ('DAY', 'WEEK', 'MONTH', 'YEAR')),
      window_start date NOT NULL,
      units numeric NOT NULL CHECK (units >= 0),
      amount numeric NOT NULL CHECK (amount >= 0),
      PRIMARY KEY (head_id, household_id, rule_code, window_kind, window_start),
      FOREIGN KEY (head_id, household_id) REFERENCES households (head_id, id)
    );

    -- The award's working rows carry the household an item credits (the functions in
    -- src/ledger/sql/ fill them); a line names the household wallet it moves, for messages.
    ALTER TYPE cb_award_item ADD ATTRIBUTE household_ref text, ADD ATTRIBUTE household_id bigint,
      ADD ATTRIBUTE household_external_id text, ADD ATTRIBUTE beneficiary text;
    ALTER TYPE cb_award_line ADD ATTRIBUTE household_external_id text;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TYPE cb_award_line DROP ATTRIBUTE IF EXISTS household_external_id;
    ALTER TYPE cb_award_item DROP ATTRIBUTE IF EXISTS beneficiary, DROP ATTRIBUTE IF EXISTS household_external_id,
      DROP ATTRIBUTE IF EXISTS household_id, DROP ATTRIBUTE IF EXISTS household_ref;
    DROP TABLE IF EXISTS household_rule_usage;
    ALTER TABLE pool_donations DROP COLUMN IF EXISTS household_id;
    ALTER TABLE redemptions DROP COLUMN IF EXISTS household_id;
    DROP INDEX IF EXISTS transactions_household;
    ALTER TABLE transactions DROP COLUMN IF EXISTS household_id;
    ALTER TABLE branches DROP COLUMN IF EXISTS household_spending, DROP COLUMN IF EXISTS household_spending_changed_by,
      DROP COLUMN IF EXISTS household_spending_changed_at;
    ALTER TABLE rules DROP COLUMN IF EXISTS beneficiary;
    ALTER TABLE accounts DROP CONSTRAINT accounts_owner_type_check,
      ADD CONSTRAINT accounts_owner_type_check CHECK (owner_type IN ('MEMBER', 'MERCHANT', 'POOL', 'SYSTEM'));
    DROP TABLE IF EXISTS household_members;
    DROP TABLE IF EXISTS households;
  `);
}
