// The ordered list of migrations, loaded through knex's migrationSource so that the same TypeScript
// files run under tsx, vitest and the CLI alike. Append new migrations; never edit a landed one.
// Migrations keep tables, indexes, triggers and data moves: a SQL function is a file under src/ (listed in
// src/db/sqlDefinitions.ts), never created, patched or copied here; the function text in 001-050 is history.
import type { Knex } from 'knex';
import * as journal from './20261123_001_journal.js';
import * as writePath from './20261123_002_write_path.js';
import * as merchants from './20261123_003_merchants.js';
import * as spending from './20261125_004_spending.js';
import * as memberRollups from './20261125_010_member_rollups.js';
import * as claimsAndScoreYears from './20261125_011_claims_and_score_years.js';
import * as journalChain from './20261125_020_journal_chain.js';
import * as queueExisting from './20261125_021_queue_existing_transactions.js';
import * as writeAnswers from './20261125_022_write_answers.js';
import * as memberYearRollups from './20261125_030_member_year_rollups.js';
import * as backfillYearRollups from './20261125_031_backfill_member_year_rollups.js';
import * as memberWalletsFollow from './20261125_032_member_wallets_follow_member.js';
import * as singleAward from './20261125_040_single_award.js';
import * as branchYearRollups from './20261125_050_branch_year_rollups.js';
import * as backfillBranchYearRollups from './20261125_051_backfill_branch_year_rollups.js';
import * as operators from './20261202_060_operators.js';
import * as noticeBoard from './20261202_061_notice_board.js';
import * as foldRollups from './20261202_062_fold_rollups.js';
import * as referenceChecks from './20261202_065_reference_checks.js';
import * as events from './20261202_068_events.js';
import * as webhooks from './20261202_070_webhooks.js';
import * as households from './20261203_072_households.js';
import * as householdReads from './20261203_073_household_reads.js';
import * as selections from './20261203_074_selections.js';
import * as expiry from './20261203_076_expiry.js';
import * as expiryUnfolded from './20261203_076_expiry_unfolded.js';
import * as foldProbeAndReversedOnce from './20261203_078_fold_probe_and_reversed_once.js';

export const migrations: Record<string, Knex.Migration> = {
  '20261123_001_journal': journal,
  '20261123_002_write_path': writePath,
  '20261123_003_merchants': merchants,
  '20261125_004_spending': spending,
  '20261125_010_member_rollups': memberRollups,
  '20261125_011_claims_and_score_years': claimsAndScoreYears,
  '20261125_020_journal_chain': journalChain,
  '20261125_021_queue_existing_transactions': queueExisting,
  '20261125_022_write_answers': writeAnswers,
  '20261125_030_member_year_rollups': memberYearRollups,
  '20261125_031_backfill_member_year_rollups': backfillYearRollups,
  '20261125_032_member_wallets_follow_member': memberWalletsFollow,
  '20261125_040_single_award': singleAward,
  '20261125_050_branch_year_rollups': branchYearRollups,
  '20261125_051_backfill_branch_year_rollups': backfillBranchYearRollups,
  '20261202_060_operators': operators,
  '20261202_061_notice_board': noticeBoard,
  '20261202_062_fold_rollups': foldRollups,
  '20261202_065_reference_checks': referenceChecks,
  '20261202_068_events': events,
  '20261202_070_webhooks': webhooks,
  '20261203_072_households': households,
  '20261203_073_household_reads': householdReads,
  '20261203_074_selections': selections,
  '20261203_076_expiry': expiry,
  '20261203_076_expiry_unfolded': expiryUnfolded,
  '20261203_078_fold_probe_and_reversed_once': foldProbeAndReversedOnce,
};
