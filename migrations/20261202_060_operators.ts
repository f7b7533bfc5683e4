// Operators: people who sign in to the pages (a branch secretary, a community worker: `admin` of a
// branch subtree; a shop assistant: `merchant` staff of one merchant), and their sign-in sessions.
// A session is what a signed-in token (its `sid` claim) is checked against on every request, so
// that signing out, expiry and disabling an operator end it at once.
//
// Usernames are unique across the whole service (sign-in gives only a username, not a head bank).
// Citus: a unique index without the distribution column cannot be enforced on a distributed table.
// There `operators` becomes a reference table (people, not residents: a few rows per branch, copied
// to every node) whose foreign keys to the distributed branches and merchants are dropped (Citus
// allows none from a reference table to a distributed one; the code checks them on insert), and
// `operator_sessions` stays distributed by head_id like every other table (the token's branch names
// the head bank, so the per-request check reaches one shard and joins the local reference copy).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SEQUENCE operators_id_seq;
    CREATE TABLE operators (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('operators_id_seq'),
      -- normalised: NFKC, lower case; the same pattern as src/operators/operators.ts
      username text NOT NULL CONSTRAINT operators_username_key UNIQUE
        CONSTRAINT operators_username_normalised CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{2,63}$'),
      display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
      role text NOT NULL CHECK (role IN ('admin', 'merchant')),
      -- an admin's scope (a subtree); merchant staff: the merchant's branch
      branch_id bigint NOT NULL REFERENCES branches (id),
      merchant_id bigint,
      -- PHC string: $scrypt$ln=15,r=8,p=3$<salt>$<hash>; never leaves the database edge
      password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%' AND length(password_hash) <= 300),
      disabled_at timestamptz,
      -- consecutive wrong passwords; the lock is set when they reach the limit (src/operators/signIn.ts)
      failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
      locked_until timestamptz,
      created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      password_changed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, merchant_id) REFERENCES merchants (head_id, id),
      CONSTRAINT operators_merchant_staff CHECK ((role = 'merchant') = (merchant_id IS NOT NULL))
    );
    CREATE INDEX operators_branch ON operators (head_id, branch_id);

    CREATE TABLE operator_sessions (
      head_id bigint NOT NULL REFERENCES branches (id),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      operator_id bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      -- the address it was signed in from (req.ip), for the operator's own review
      address text CHECK (length(address) <= 100),
      PRIMARY KEY (head_id, id),
      FOREIGN KEY (head_id, operator_id) REFERENCES operators (head_id, id),
      CONSTRAINT operator_sessions_expire_after_start CHECK (expires_at > created_at),
      CONSTRAINT operator_sessions_revoked_after_start CHECK (revoked_at IS NULL OR revoked_at >= created_at)
    );
    -- revoking an operator's live sessions (disable, password reset) and pruning old ones
    CREATE INDEX operator_sessions_operator ON operator_sessions (head_id, operator_id, expires_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS operator_sessions; DROP TABLE IF EXISTS operators; DROP SEQUENCE IF EXISTS operators_id_seq;');
}
