// Merchants (爱心商户): businesses in a branch that donate goods and services and receive points
// when they fulfil vouchers. Each has a POINTS account (owner_type MERCHANT).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SEQUENCE merchants_id_seq;
    CREATE TABLE merchants (
      head_id bigint NOT NULL REFERENCES branches (id),
      id bigint NOT NULL DEFAULT nextval('merchants_id_seq'),
      branch_id bigint NOT NULL REFERENCES branches (id),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (head_id, id)
    );
    CREATE INDEX merchants_branch ON merchants (head_id, branch_id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS merchants; DROP SEQUENCE IF EXISTS merchants_id_seq;');
}
