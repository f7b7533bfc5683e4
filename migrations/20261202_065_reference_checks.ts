// The batch path gets cheap per award (issue 14, decision 3): six foreign keys on the journal became
// statement checks. A foreign key checks each inserted row on its own, with a lookup and a share lock
// on the parent row (a WAL record the first time a transaction locks it): a batch of 500 awards made
// 4,000 such checks (four per transaction, two per posting). The checks that replace them (cb_check_transaction_references,
// cb_check_posting_references: one set-based query per INSERT statement) and the guards that make
// them exact (cb_refuse_reference_change: the parents are never deleted, their keys never change) are
// created by their SQL files, which run right after the migrations, in src/ledger/sql/.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE transactions
      DROP CONSTRAINT transactions_head_id_fkey,
      DROP CONSTRAINT transactions_branch_id_fkey,
      DROP CONSTRAINT transactions_head_id_member_id_fkey,
      DROP CONSTRAINT transactions_head_id_rule_id_fkey;
    ALTER TABLE postings
      DROP CONSTRAINT postings_head_id_transaction_id_fkey,
      DROP CONSTRAINT postings_head_id_account_id_asset_code_asset_scale_fkey;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE transactions
      ADD CONSTRAINT transactions_head_id_fkey FOREIGN KEY (head_id) REFERENCES branches (id),
      ADD CONSTRAINT transactions_branch_id_fkey FOREIGN KEY (branch_id) REFERENCES branches (id),
      ADD CONSTRAINT transactions_head_id_member_id_fkey FOREIGN KEY (head_id, member_id) REFERENCES members (head_id, id),
      ADD CONSTRAINT transactions_head_id_rule_id_fkey FOREIGN KEY (head_id, rule_id) REFERENCES rules (head_id, id);
    ALTER TABLE postings
      ADD CONSTRAINT postings_head_id_transaction_id_fkey FOREIGN KEY (head_id, transaction_id) REFERENCES transactions (head_id, id),
      ADD CONSTRAINT postings_head_id_account_id_asset_code_asset_scale_fkey
        FOREIGN KEY (head_id, account_id, asset_code, asset_scale) REFERENCES accounts (head_id, id, asset_code, asset_scale);
  `);
}
