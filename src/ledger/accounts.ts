// Account balances: member wallets are read by primary key; system (hot) accounts add their
// unsettled deltas. The trial balance and the balance check are invariants 1 and 2 made visible.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { requireRole, visibleOrNull, type Principal } from '../auth/principal.js';
import { isWithin } from '../directory/branches.js';
import { checkId } from '../directory/members.js';
import { BankError } from '../errors.js';
import { formatAmount } from './amounts.js';

export interface AccountRecord {
  id: string;
  headId: string;
  branchId: string;
  ownerType: 'MEMBER' | 'HOUSEHOLD' | 'MERCHANT' | 'POOL' | 'SYSTEM';
  ownerId: string;
  purpose: string;
  asset: string;
  /** Posted balance (for system accounts, including deltas not yet settled). */
  balance: string;
  held: string;
  available: string;
}

const accountColumns = `a.head_id, a.id, a.branch_id, a.owner_type, a.owner_id, a.purpose, a.asset_code, a.held,
  a.balance + CASE WHEN a.deferred_balance
    THEN coalesce((SELECT sum(d.amount) FROM account_deltas d WHERE d.head_id = a.head_id AND d.account_id = a.id), 0)
    ELSE 0 END AS balance`;

function toAccount(bank: Bank, r: Record<string, any>): AccountRecord {
  const { scale } = bank.assets.get(r.asset_code);
  const balance = new Decimal(r.balance);
  return {
    id: String(r.id), headId: String(r.head_id), branchId: String(r.branch_id), ownerType: r.owner_type, ownerId: String(r.owner_id),
    purpose: r.purpose, asset: r.asset_code, balance: formatAmount(balance, scale), held: formatAmount(r.held, scale),
    available: formatAmount(balance.minus(r.held), scale),
  };
}

/** Accounts by id, in one query (the dataloader's batch function). */
export async function loadAccounts(bank: Bank, headId: string, ids: readonly string[]): Promise<(AccountRecord | null)[]> {
  const { rows } = await bank.knex.raw(`SELECT ${accountColumns} FROM accounts a WHERE a.head_id = ? AND a.id = ANY(?::bigint[])`, [headId, ids as string[]]);
  const byId = new Map<string, AccountRecord>(rows.map((r: any) => [String(r.id), toAccount(bank, r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Wallets of members by member id, in one query. */
export async function loadMemberWallets(bank: Bank, headId: string, memberIds: readonly string[]): Promise<AccountRecord[][]> {
  return loadWallets(bank, headId, 'MEMBER', memberIds);
}

/** Wallets of households (户, migration 072) by household id, in one query. */
export async function loadHouseholdWallets(bank: Bank, headId: string, householdIds: readonly string[]): Promise<AccountRecord[][]> {
  return loadWallets(bank, headId, 'HOUSEHOLD', householdIds);
}

async function loadWallets(bank: Bank, headId: string, ownerType: 'MEMBER' | 'HOUSEHOLD', ownerIds: readonly string[]): Promise<AccountRecord[][]> {
  const { rows } = await bank.knex.raw(
    `SELECT ${accountColumns} FROM accounts a WHERE a.head_id = ? AND a.owner_type = ? AND a.owner_id = ANY(?::bigint[]) ORDER BY a.asset_code`,
    [headId, ownerType, ownerIds as string[]]);
  const byOwner = new Map<string, AccountRecord[]>();
  for (const r of rows) {
    const list = byOwner.get(String(r.owner_id)) ?? [];
    list.push(toAccount(bank, r));
    byOwner.set(String(r.owner_id), list);
  }
  return ownerIds.map((id) => byOwner.get(id) ?? []);
}

export async function requireAccountVisible(bank: Bank, principal: Principal, account: AccountRecord): Promise<void> {
  if (account.headId === principal.headId) {
    if (principal.role === 'member' && account.ownerType === 'MEMBER' && account.ownerId === principal.memberId) return;
    // A member reads the wallets of the household it is in now (户, migration 072).
    if (principal.role === 'member' && account.ownerType === 'HOUSEHOLD'
        && await bank.knex('household_members').where({ head_id: account.headId, household_id: account.ownerId, member_id: principal.memberId })
          .whereNull('left_at').first('id')) return;
    if (principal.role === 'merchant' && account.ownerType === 'MERCHANT' && account.ownerId === principal.merchantId) return;
    // An awarding client reads the wallets and branch accounts of its scope (what its awards touch),
    // not merchants' or pools' accounts; an admin reads every account of its scope.
    const clientMay = account.ownerType === 'MEMBER' || account.ownerType === 'HOUSEHOLD' || account.ownerType === 'SYSTEM';
    if (principal.role === 'admin' || (principal.role === 'client' && clientMay)) {
      if (isWithin(await bank.branches.requireById(account.branchId), principal.branch)) return;
    }
  }
  throw new BankError('FORBIDDEN', `account ${account.id} is outside your scope`);
}

export async function getAccount(bank: Bank, principal: Principal, id: string): Promise<AccountRecord | null> {
  const [account] = await loadAccounts(bank, principal.headId, [checkId(id, 'id')]);
  if (!account) return null;
  // outside the caller's view reads like an unknown id
  return visibleOrNull(account, (a) => requireAccountVisible(bank, principal, a));
}

export interface TrialBalanceLine { asset: string; total: string; balanced: boolean; accounts: number }

/** Invariant 1: per asset, the balances of all accounts of the head bank sum to zero. */
export async function trialBalance(bank: Bank, principal: Principal): Promise<TrialBalanceLine[]> {
  requireRole(principal, 'admin');
  return computeTrialBalance(bank, principal.headId);
}

export async function computeTrialBalance(bank: Bank, headId: string): Promise<TrialBalanceLine[]> {
  const { rows } = await bank.knex.raw(`
    SELECT s.asset_code, sum(s.total) AS total, sum(s.accounts)::int AS accounts FROM (
      SELECT a.asset_code, sum(a.balance) AS total, count(*) AS accounts FROM accounts a WHERE a.head_id = ? GROUP BY a.asset_code
      UNION ALL
      SELECT a.asset_code, sum(d.amount), 0 FROM account_deltas d JOIN accounts a ON a.head_id = d.head_id AND a.id = d.account_id
       WHERE d.head_id = ? GROUP BY a.asset_code
    ) s GROUP BY s.asset_code ORDER BY s.asset_code`, [headId, headId]);
  return rows.map((r: any) => {
    const total = new Decimal(r.total);
    return { asset: r.asset_code, total: formatAmount(total, bank.assets.get(r.asset_code).scale), balanced: total.isZero(), accounts: r.accounts };
  });
}

export interface BalanceMismatch { accountId: string; recorded: string; fromPostings: string; held: string; pendingDebits: string }

/**
 * Invariant 2: every account's balance equals the sum of its postings of POSTED transactions, and
 * its held amount the sum of its pending debits. Returns the accounts where that fails.
 */
export async function findBalanceMismatches(bank: Bank, headId: string): Promise<BalanceMismatch[]> {
  const { rows } = await bank.knex.raw(`
    WITH sums AS (
      SELECT p.account_id,
             coalesce(sum(p.amount) FILTER (WHERE t.status = 'POSTED'), 0) AS posted,
             coalesce(-sum(p.amount) FILTER (WHERE t.status = 'PENDING' AND p.amount < 0), 0) AS pending_debits
        FROM postings p JOIN transactions t ON t.head_id = p.head_id AND t.id = p.transaction_id
       WHERE p.head_id = ? GROUP BY p.account_id),
    deltas AS (SELECT account_id, sum(amount) AS amount FROM account_deltas WHERE head_id = ? GROUP BY account_id)
    SELECT a.id, a.balance + coalesce(d.amount, 0) AS recorded, coalesce(s.posted, 0) AS from_postings,
           a.held, coalesce(s.pending_debits, 0) AS pending_debits
      FROM accounts a LEFT JOIN sums s ON s.account_id = a.id LEFT JOIN deltas d ON d.account_id = a.id
     WHERE a.head_id = ?
       AND (a.balance + coalesce(d.amount, 0) <> coalesce(s.posted, 0) OR a.held <> coalesce(s.pending_debits, 0))`,
  [headId, headId, headId]);
  return rows.map((r: any) => ({ accountId: String(r.id), recorded: r.recorded, fromPostings: r.from_postings, held: r.held, pendingDebits: r.pending_debits }));
}
