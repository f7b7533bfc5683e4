// The journal: branches, members, assets, accounts, transactions, postings, idempotency keys,
// rules and their usage counters. Every table but the two small reference tables (assets,
// branches) carries head_id, the head bank, first in its primary key: the Citus distribution key.
// What the database can hold, it holds here: foreign keys, uniqueness of idempotency keys and of
// reversals, CHECKs on amounts and scale, and append-only postings (a trigger refuses UPDATE/DELETE).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- Assets: what is counted. Small and global (a Citus reference table).
    CREATE TABLE assets (
      code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
      scale smallint NOT NULL CHECK (scale BETWEEN 0 AND 6),
      spendable boolean NOT NULL,
      transferable boolean NOT NULL,
      -- a member wallet of this asset may go below zero (PARTY_SCORE through deductions)
      member_may_go_negative boolean NOT NULL,
      UNIQUE (code, scale)
    );
    INSERT INTO assets (code, scale, spendable, transferable, member_may_go_negative) VALUES
      ('POINTS', 2, true, true, false),
      ('PARTY_SCORE', 2, false, false, true),
      ('VOLUNTEER_HOURS', 2, false, false, false);

    -- Branches: the bank's tree. A head bank (总行) has parent NULL and head_id = id.
    -- path lists the ids from the head down to this branch ('/1/5/12/'), so a scope check is a prefix test.
    -- Branches are never changed or deleted once created (processes cache them forever).
    CREATE TABLE branches (
      id bigint PRIMARY KEY,
      head_id bigint NOT NULL REFERENCES branches (id),
      parent_id bigint REFERENCES branches (id),
      code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      path text NOT NULL UNIQUE,
      depth smallint NOT NULL CHECK (depth BETWEEN 0 AND 16),
      time_zone text NOT NULL,
      allow_gifting boolean NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT branches_head_is_root CHECK ((parent_id IS NULL) = (head_id = id) AND (parent_id IS NULL) = (depth = 0))
    );
    CREATE SEQUENCE branches_id_seq;
    CREATE INDEX branches_parent ON branches (parent_id);

    CREATE SEQUENCE members_id_seq;
    CREATE TABLE members (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('members_id_seq'),
      branch_id bigint NOT NULL REFERENCES branches (id),
      external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      is_party_member boolean NOT NULL DEFAULT false,
      is_volunteer boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      CONSTRAINT members_external_id_unique UNIQUE (head_id, external_id)
    );
    CREATE INDEX members_branch ON members (head_id, branch_id, id);

    -- Accounts: one per (owner, asset, purpose). Member wallets are kept directly (balance read by
    -- primary key). System accounts are hot (every award of a branch touches its issuance account):
    -- their balance is deferred: balance + the sum of their account_deltas rows, folded in by a settler.
    CREATE SEQUENCE accounts_id_seq;
    CREATE TABLE accounts (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('accounts_id_seq'),
      branch_id bigint NOT NULL REFERENCES branches (id),
      owner_type text NOT NULL CHECK (owner_type IN ('MEMBER', 'MERCHANT', 'POOL', 'SYSTEM')),
      owner_id bigint NOT NULL, -- member, merchant or pool id; the branch id for SYSTEM accounts
      purpose text NOT NULL CHECK (purpose IN ('WALLET', 'ISSUANCE', 'PENALTY', 'EXPIRY', 'ADJUSTMENT')),
      asset_code text NOT NULL,
      asset_scale smallint NOT NULL,
      balance numeric NOT NULL DEFAULT 0,
      held numeric NOT NULL DEFAULT 0,
      allow_negative boolean NOT NULL,
      deferred_balance boolean NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (asset_code, asset_scale) REFERENCES assets (code, scale),
      CONSTRAINT accounts_owner_unique UNIQUE (head_id, owner_type, owner_id, asset_code, purpose),
      -- the target of postings' foreign key: a posting's asset is its account's asset
      CONSTRAINT accounts_asset_unique UNIQUE (head_id, id, asset_code, asset_scale),
      CONSTRAINT accounts_amounts_at_scale CHECK (round(balance, asset_scale) = balance AND round(held, asset_scale) = held),
      CONSTRAINT accounts_held_nonnegative CHECK (held >= 0),
      CONSTRAINT accounts_system_is_deferred CHECK (deferred_balance = (owner_type = 'SYSTEM')),
      CONSTRAINT accounts_system_owned_by_branch CHECK (owner_type <> 'SYSTEM' OR owner_id = branch_id),
      CONSTRAINT accounts_wallet_purpose CHECK ((owner_type = 'SYSTEM') = (purpose <> 'WALLET'))
    );

    -- Pending changes to deferred (hot) balances: appended by writers, consumed exactly once by the
    -- settler (DELETE ... RETURNING). balance of a deferred account = accounts.balance + sum(deltas).
    CREATE TABLE account_deltas (
      head_id bigint NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      account_id bigint NOT NULL,
      amount numeric NOT NULL,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, account_id) REFERENCES accounts (head_id, id)
    );
    CREATE INDEX account_deltas_account ON account_deltas (head_id, account_id);

    -- Earning rules (积分细则): one row per version; the deepest branch on a member's path that
    -- defines a code wins, and its latest version applies.
    CREATE SEQUENCE rules_id_seq;
    CREATE TABLE rules (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('rules_id_seq'),
      branch_id bigint NOT NULL REFERENCES branches (id),
      code text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_-]*(\\.[a-z0-9_-]+)*$' AND length(code) <= 100),
      version integer NOT NULL CHECK (version >= 1),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      category text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
      outputs jsonb NOT NULL CHECK (jsonb_typeof(outputs) = 'array' AND jsonb_array_length(outputs) BETWEEN 1 AND 8),
      caps jsonb NOT NULL CHECK (jsonb_typeof(caps) = 'array' AND jsonb_array_length(caps) <= 8),
      requires_approval boolean NOT NULL,
      allowed_clients text[] NOT NULL,
      valid_from timestamptz,
      valid_to timestamptz,
      description text,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      CONSTRAINT rules_version_unique UNIQUE (head_id, branch_id, code, version),
      CONSTRAINT rules_validity_order CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to)
    );
    CREATE INDEX rules_code ON rules (head_id, code, branch_id, version DESC);

    -- Cap counters per member, rule code and window (invariant 5): one row per window, updated under
    -- its row lock by a conditional upsert, so concurrent awards for one member serialize here only.
    CREATE TABLE rule_usage (
      head_id bigint NOT NULL,
      member_id bigint NOT NULL,
      rule_code text NOT NULL,
      window_kind text NOT NULL CHECK (window_kind IN ('DAY', 'WEEK', 'MONTH', 'YEAR')),
      window_start date NOT NULL,
      units numeric NOT NULL CHECK (units >= 0),
      amount numeric NOT NULL CHECK (amount >= 0),
      PRIMARY KEY (head_id, member_id, rule_code, window_kind, window_start),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id)
    );

    CREATE SEQUENCE transactions_id_seq;
    CREATE TABLE transactions (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('EARN', 'DEDUCT', 'TRANSFER', 'REDEEM', 'DONATE', 'DISBURSE', 'REVERSAL', 'EXPIRE', 'ADJUST')),
      status text NOT NULL CHECK (status IN ('PENDING', 'POSTED', 'VOIDED')),
      branch_id bigint NOT NULL REFERENCES branches (id),
      member_id bigint,
      rule_id bigint,
      principal_sub text NOT NULL,
      principal_role text NOT NULL,
      occurred_at timestamptz NOT NULL,
      recorded_at timestamptz NOT NULL,
      memo text CHECK (length(memo) <= 500),
      metadata jsonb,
      reason text CHECK (length(reason) <= 500),
      reverses_id bigint,
      forced boolean NOT NULL DEFAULT false,
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      FOREIGN KEY (head_id, rule_id) REFERENCES rules (head_id, id),
      FOREIGN KEY (head_id, reverses_id) REFERENCES transactions (head_id, id),
      -- a transaction is reversed at most once
      CONSTRAINT transactions_reversed_once UNIQUE (head_id, reverses_id),
      CONSTRAINT transactions_reversal_points_back CHECK ((kind = 'REVERSAL') = (reverses_id IS NOT NULL)),
      CONSTRAINT transactions_forced_only_reversal CHECK (NOT forced OR kind = 'REVERSAL')
    );
    CREATE INDEX transactions_member ON transactions (head_id, member_id, id DESC) WHERE member_id IS NOT NULL;
    CREATE INDEX transactions_branch ON transactions (head_id, branch_id, id DESC);
    CREATE INDEX transactions_occurred ON transactions (head_id, occurred_at);

    -- Postings: append-only, partitioned by the month they were recorded in.
    CREATE TABLE postings (
      head_id bigint NOT NULL,
      transaction_id bigint NOT NULL,
      line smallint NOT NULL CHECK (line BETWEEN 1 AND 64),
      account_id bigint NOT NULL,
      asset_code text NOT NULL,
      asset_scale smallint NOT NULL,
      amount numeric NOT NULL,
      -- the account's posted balance right after this posting; NULL for deferred (system) accounts
      balance_after numeric,
      recorded_at timestamptz NOT NULL,
      PRIMARY KEY (head_id, transaction_id, line, recorded_at),
      FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      -- one check per posting: the account exists and holds this asset at this scale
      FOREIGN KEY (head_id, account_id, asset_code, asset_scale) REFERENCES accounts (head_id, id, asset_code, asset_scale),
      CONSTRAINT postings_amount_nonzero_at_scale CHECK (amount <> 0 AND round(amount, asset_scale) = amount)
    ) PARTITION BY RANGE (recorded_at);
    CREATE TABLE postings_default PARTITION OF postings DEFAULT;
    CREATE INDEX postings_account ON postings (head_id, account_id, recorded_at);

    -- Creates the monthly partitions of postings from p_from for p_months months (idempotent).
    CREATE FUNCTION cb_ensure_posting_partitions(p_from date, p_months integer) RETURNS void
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_start date := date_trunc('month', p_from)::date;
      v_name text;
    BEGIN
      FOR i IN 0 .. p_months - 1 LOOP
        v_name := format('postings_%s', to_char(v_start + make_interval(months => i), 'YYYYMM'));
        IF to_regclass(v_name) IS NULL THEN
          EXECUTE format('CREATE TABLE %I PARTITION OF postings FOR VALUES FROM (%L) TO (%L)',
            v_name, (v_start + make_interval(months => i)) AT TIME ZONE 'UTC',
            (v_start + make_interval(months => i + 1)) AT TIME ZONE 'UTC');
        END IF;
      END LOOP;
    END $fn$;

    -- Append-only history: postings are never updated or deleted (corrections are reversals).
    CREATE FUNCTION cb_refuse_posting_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION 'postings are append-only: % refused', TG_OP USING ERRCODE = 'CBAPP';
    END $fn$;
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
      FOR EACH ROW EXECUTE FUNCTION cb_refuse_posting_change();
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
      FOR EACH STATEMENT EXECUTE FUNCTION cb_refuse_posting_change();

    -- Idempotency (invariant 4): one key of one subject names at most one write.
    CREATE TABLE idempotency_keys (
      head_id bigint NOT NULL,
      subject text NOT NULL,
      key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
      operation text NOT NULL,
      request_hash text NOT NULL,
      transaction_id bigint,
      result jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, subject, key),
      CONSTRAINT idempotency_keys_one_result CHECK ((transaction_id IS NULL) <> (result IS NULL))
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS idempotency_keys, postings, transactions, rule_usage, rules, account_deltas,
      accounts, members, branches, assets CASCADE;
    DROP SEQUENCE IF EXISTS branches_id_seq, members_id_seq, accounts_id_seq, rules_id_seq, transactions_id_seq;
    DROP FUNCTION IF EXISTS cb_ensure_posting_partitions(date, integer), cb_refuse_posting_change();
  `);
}
