// The per-request context: the bank, the authenticated principal and this request's dataloaders
// (created per request so that nothing cached leaks between callers).
import DataLoader from 'dataloader';
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import type { Locale } from '../errorMessages.js';
import type { Branch } from '../directory/branches.js';
import { loadMembers, type Member } from '../directory/members.js';
import { loadAccounts, loadHouseholdWallets, loadMemberWallets, type AccountRecord } from '../ledger/accounts.js';
import { loadHouseholds, type Household } from '../households/households.js';
import { loadTransactions, type TransactionRecord } from '../ledger/transactions.js';
import { loadRuleVersions, type Rule } from '../rules/rules.js';
import { loadMerchants, type Merchant } from '../redemption/merchants.js';
import { loadCatalogItems, type CatalogItem } from '../redemption/catalog.js';
import { loadRedemptions, type Redemption } from '../redemption/vouchers.js';
import { loadPools, type Pool } from '../pools/pools.js';
import { loadNoticeBoardFlags } from '../reports/noticeBoard.js';
import type { RequestRecord, WriteCounter } from './observation.js';

export interface Loaders {
  branch: DataLoader<string, Branch | null>;
  member: DataLoader<string, Member | null>;
  account: DataLoader<string, AccountRecord | null>;
  wallets: DataLoader<string, AccountRecord[]>;
  household: DataLoader<string, Household | null>;
  householdWallets: DataLoader<string, AccountRecord[]>;
  rule: DataLoader<string, Rule | null>;
  transaction: DataLoader<string, TransactionRecord | null>;
  merchant: DataLoader<string, Merchant | null>;
  catalogItem: DataLoader<string, CatalogItem | null>;
  redemption: DataLoader<string, Redemption | null>;
  pool: DataLoader<string, Pool | null>;
  /** Branch.noticeBoard: read from the database, as the flag changes and the branch cache does not. */
  noticeBoard: DataLoader<string, boolean>;
}

export interface Context {
  bank: Bank;
  principal: Principal;
  loaders: Loaders;
  /** A request without a token: only public root fields run (graphql/publicOperations.ts). */
  anonymous?: boolean;
  /** The caller's address (req.ip), for limits on public operations such as signIn. */
  address?: string;
  /** The language errors are written in (Accept-Language) and the time zone of their instants (the caller's bank). */
  locale?: Locale;
  /** When the request's time budget ends (ms since the epoch): no root field starts after it (schema.ts). */
  deadline?: number;
  /** This request as its log line and the metrics see it (graphql/observation.ts). */
  request?: RequestRecord;
  /** Where awards and transfers are counted (the service's metrics). */
  writes?: WriteCounter;
}

export function createLoaders(bank: Bank, principal: Principal): Loaders {
  const head = principal.headId;
  return {
    branch: new DataLoader(async (ids) => Promise.all(ids.map((id) => bank.branches.byIdOrNull(id)))),
    member: new DataLoader((ids) => loadMembers(bank, head, ids)),
    account: new DataLoader((ids) => loadAccounts(bank, head, ids)),
    wallets: new DataLoader((ids) => loadMemberWallets(bank, head, ids)),
    household: new DataLoader((ids) => loadHouseholds(bank, head, ids)),
    householdWallets: new DataLoader((ids) => loadHouseholdWallets(bank, head, ids)),
    rule: new DataLoader((ids) => loadRuleVersions(bank, head, ids)),
    transaction: new DataLoader((ids) => loadTransactions(bank, head, ids)),
    merchant: new DataLoader((ids) => loadMerchants(bank, head, ids)),
    catalogItem: new DataLoader((ids) => loadCatalogItems(bank, head, ids)),
    redemption: new DataLoader((ids) => loadRedemptions(bank, head, ids)),
    pool: new DataLoader((ids) => loadPools(bank, head, ids)),
    noticeBoard: new DataLoader((ids) => loadNoticeBoardFlags(bank, ids)),
  };
}
