// The SQL functions of the service, one `.sql` file each next to the TypeScript that calls it, in
// the order migrate.ts applies them after the versioned migrations (re-run when a file changes).
// The order matters for LANGUAGE sql functions, whose bodies PostgreSQL checks at creation: a file
// comes after every file whose function its SQL functions call. plpgsql bodies are checked when run.
// Add a new file here; test/db/sqlDefinitions.test.ts fails on a .sql file under src/ not listed.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';

/** Paths under src/, in the order they are applied. */
export const sqlDefinitionFiles: readonly string[] = [
  // Raising refusals and assertions: every other function calls them.
  'db/sql/fail.sql',
  'db/sql/assert.sql',
  'db/sql/ensure_posting_partitions.sql',

  // Idempotency keys (invariant 4).
  'ledger/sql/claim_key.sql',
  'ledger/sql/claim_result_key.sql',
  'ledger/sql/finish_key.sql',
  'ledger/sql/key_conflict_message.sql',

  // The JSON of a transaction: objects first, cb_transactions_json calls them, cb_transaction_json calls it.
  'ledger/sql/posting_object.sql',
  'ledger/sql/transaction_object.sql',
  'ledger/sql/transactions_json.sql',
  'ledger/sql/transaction_json.sql',
  'ledger/sql/with_transaction.sql',

  // Journal entries (invariants 1-3).
  'ledger/sql/post_lines.sql',
  'ledger/sql/post_entry.sql',

  // Households' lookups (migration 072), plpgsql so that member awards plan without them: before the award SQL that calls them.
  'households/sql/member_household.sql',
  'households/sql/household_party.sql',
  'households/sql/household_exists.sql',

  // Awards: cb_award_accepted before the SQL functions that read it (windows, lines).
  'ledger/sql/award_accepted.sql',
  'ledger/sql/award_windows.sql',
  'ledger/sql/award_lines.sql',
  'ledger/sql/award_target.sql',
  'ledger/sql/award_refusal.sql',
  'ledger/sql/award_batch.sql',
  'ledger/sql/award_one.sql',

  // The journal's guards and the sealer's queue (invariant 8), and the settler's fold of branch deltas.
  'ledger/sql/refuse_posting_change.sql',
  'ledger/sql/refuse_final_status_change.sql',
  'ledger/sql/queue_final_inserted.sql',
  'ledger/sql/queue_final_updated.sql',
  'ledger/sql/refuse_seal_change.sql',
  // Foreign keys of the journal checked per statement, and the guards that keep their parents (migration 065).
  'ledger/sql/raise_missing_reference.sql',
  'ledger/sql/check_transaction_references.sql',
  'ledger/sql/check_posting_references.sql',
  'ledger/sql/refuse_reference_change.sql',
  'ledger/sql/fold_branch_year_deltas.sql',

  // Members and their wallets' branch.
  'directory/sql/member_wallets_follow.sql',
  'directory/sql/assert_wallet_branch.sql',
  // Households' wallets follow their branch (migration 072).
  'directory/sql/household_wallets_follow.sql',

  // Rollups and score years.
  'reports/sql/transaction_category.sql',
  'reports/sql/rollup_status_change.sql',
  'reports/sql/unfolded_postings.sql',
  // Household rollups (migration 073): the tail and the fold's household part, before cb_fold_rollups calls it.
  'reports/sql/unfolded_household_postings.sql',
  'reports/sql/fold_household_rollups.sql',
  'reports/sql/fold_rollups.sql',
  'reports/sql/score_year_lock_key.sql',
  'reports/sql/guard_score_years.sql',

  // Who may spend from a household wallet (migration 072): redemptions and donations call it.
  'households/sql/household_spender.sql',

  // Vouchers (invariant 6).
  'redemption/sql/redemption_status.sql',
  'redemption/sql/check_redemption_move.sql',
  'redemption/sql/lock_voucher.sql',
  'redemption/sql/release_redemption.sql',
  'redemption/sql/redeem.sql',
  'redemption/sql/fulfill_redemption.sql',
  'redemption/sql/cancel_redemption.sql',
  'redemption/sql/expire_redemption.sql',
  'redemption/sql/refund_redemption.sql',

  // Pools.
  'pools/sql/lock_pool.sql',
  'pools/sql/donate.sql',
  'pools/sql/disburse_pool.sql',
  'pools/sql/close_pool.sql',

  // Claims.
  'claims/sql/approve_claim.sql',

  // Selections (评选): the awarding round's three steps, and the history's guard.
  'selections/sql/begin_selection_awarding.sql',
  'selections/sql/award_selection_candidate.sql',
  'selections/sql/finish_selection_awarding.sql',
  'selections/sql/refuse_selection_history_change.sql',

  // Point expiry (issue 16 §3): lots folded from the journal, spent FIFO, expired once per lot.
  'expiry/sql/refuse_lot_move_change.sql',
  'expiry/sql/expiry_cutoff.sql',
  'expiry/sql/lot_expires_at.sql',
  'expiry/sql/take_lots.sql',
  'expiry/sql/give_lots.sql',
  'expiry/sql/fold_wallet_lots.sql',
  'expiry/sql/expire_wallet_lots.sql',
  'expiry/sql/expire_wallets.sql',

  // The event feed's outbox of state changes (and the triggers that fill it).
  'events/sql/record_change.sql',
];

/** One repeatable definition: its name (the path under src/) and its text, run as it is. */
export interface SqlDefinition {
  name: string;
  sql: string;
}

/** Reads the files (all of them before anything is applied: a missing file stops the start first). */
export function loadSqlDefinitions(files: readonly string[] = sqlDefinitionFiles, root = path.join(projectRoot, 'src')): SqlDefinition[] {
  return files.map((name) => ({ name, sql: fs.readFileSync(path.join(root, name), 'utf8') }));
}
