// Journal entries as the API returns them, and the reads over them. Writes answer with a
// transaction id; every read of a transaction goes through one SQL function (cb_transactions_json),
// so a replay shows exactly what the first write wrote.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import { requireRole, visibleOrNull, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { BankError, badInput } from '../errors.js';
import { checkId } from '../directory/members.js';
import { formatAmount } from './amounts.js';

export interface PostingRecord {
  line: number;
  accountId: string;
  asset: string;
  amount: string;
  /** The account's posted balance right after this posting; null for system (hot) accounts. */
  balanceAfter: string | null;
}

export interface TransactionRecord {
  id: string;
  headId: string;
  kind: string;
  status: string;
  branchId: string;
  memberId: string | null;
  /** The household whose wallet it credits or debits (migration 072). */
  householdId: string | null;
  ruleId: string | null;
  principalSub: string;
  principalRole: string;
  occurredAt: Date;
  recordedAt: Date;
  memo: string | null;
  metadata: unknown;
  reason: string | null;
  reversesId: string | null;
  forced: boolean;
  postings: PostingRecord[];
}

/** What a ledger write answers: the transaction it wrote (or, on a replay, wrote first). */
export interface WriteResult {
  transactionId: string;
  replayed: boolean;
  /** The transaction itself, where the write read it back in its own round trip (cb_with_transaction). */
  transaction?: TransactionRecord;
}

export function transactionFromJson(bank: Bank, headId: string, json: any): TransactionRecord {
  const postings: PostingRecord[] = (json.postings ?? []).map((p: any) => {
    const { scale } = bank.assets.get(p.asset);
    return {
      line: p.line, accountId: p.accountId, asset: p.asset, amount: formatAmount(p.amount, scale),
      balanceAfter: p.balanceAfter == null ? null : formatAmount(p.balanceAfter, scale),
    };
  });
  // The pair of the check made in SQL before writing (cb_post_lines): what we read back balances too.
  const sums = new Map<string, Decimal>();
  for (const p of postings) sums.set(p.asset, (sums.get(p.asset) ?? new Decimal(0)).plus(p.amount));
  for (const [asset, sum] of sums) {
    if (!sum.isZero()) throw new Error(`invariant broken: transaction ${json.id} sums to ${sum} ${asset}`);
  }
  return {
    id: json.id, headId, kind: json.kind, status: json.status, branchId: json.branchId, memberId: json.memberId ?? null,
    householdId: json.householdId ?? null, ruleId: json.ruleId ?? null, principalSub: json.principalSub, principalRole: json.principalRole,
    occurredAt: new Date(json.occurredAt), recordedAt: new Date(json.recordedAt), memo: json.memo ?? null,
    metadata: json.metadata ?? null, reason: json.reason ?? null, reversesId: json.reversesId ?? null,
    forced: Boolean(json.forced), postings,
  };
}

export function writeResultFromJson(json: any): WriteResult {
  if (typeof json?.transactionId !== 'string') throw new Error('invariant broken: a write answered without a transaction id');
  return { transactionId: json.transactionId, replayed: Boolean(json.replayed) };
}

/** A write's answer that carries its transaction (cb_with_transaction). */
export function writeResultWithTransaction(bank: Bank, headId: string, json: any): WriteResult {
  const result = writeResultFromJson(json);
  if (json.transaction?.id !== result.transactionId) throw new Error(`invariant broken: written transaction ${result.transactionId} cannot be read`);
  return { ...result, transaction: transactionFromJson(bank, headId, json.transaction) };
}

/** Account ids of a member's wallets. */
async function walletIds(bank: Bank, headId: string, memberId: string): Promise<string[]> {
  const rows = await bank.knex('accounts').where({ head_id: headId, owner_type: 'MEMBER', owner_id: memberId }).select('id');
  return rows.map((r) => String(r.id));
}

/** Admins and clients see their subtree; a member sees transactions touching its own wallets. */
export async function requireTransactionVisible(bank: Bank, principal: Principal, txn: TransactionRecord): Promise<void> {
  if (principal.role === 'admin' || principal.role === 'client') {
    const branch = await bank.branches.requireById(txn.branchId);
    if (branch.headId === principal.headId && isWithin(branch, principal.branch)) return;
  } else if (principal.role === 'member' && principal.memberId) {
    const wallets = new Set(await walletIds(bank, principal.headId, principal.memberId));
    if (txn.postings.some((p) => wallets.has(p.accountId))) return;
  }
  throw new BankError('FORBIDDEN', `transaction ${txn.id} is outside your scope`);
}

/** The JSON of transactions by id (cb_transactions_json, what a single write answers with), in one query. */
export async function loadTransactionsJson(bank: Bank, headId: string, ids: readonly string[]): Promise<Map<string, any>> {
  const { rows } = await bank.pool.query({
    name: 'cb_transactions_json', text: 'SELECT id::text, j FROM cb_transactions_json($1, $2::bigint[])', values: [headId, ids],
  });
  return new Map<string, any>(rows.map((r: any) => [r.id, r.j]));
}

/** Transactions by id, in one query (also the dataloader's batch function). */
export async function loadTransactions(bank: Bank, headId: string, ids: readonly string[]): Promise<(TransactionRecord | null)[]> {
  const json = await loadTransactionsJson(bank, headId, ids);
  return ids.map((id) => (json.has(id) ? transactionFromJson(bank, headId, json.get(id)) : null));
}

export async function loadTransaction(bank: Bank, headId: string, id: string): Promise<TransactionRecord | null> {
  const [txn] = await loadTransactions(bank, headId, [id]);
  return txn ?? null;
}

export async function getTransaction(bank: Bank, principal: Principal, id: string): Promise<TransactionRecord | null> {
  // who may read transactions at all is refused as such; one outside the caller's view reads like an unknown id
  requireRole(principal, 'admin', 'client', 'member');
  const txn = await loadTransaction(bank, principal.headId, checkId(id, 'id'));
  if (!txn) return null;
  return visibleOrNull(txn, (t) => requireTransactionVisible(bank, principal, t));
}

/** Which transaction reversed this one, if any. */
export async function findReversal(bank: Bank, headId: string, id: string): Promise<string | null> {
  const row = await bank.knex('transactions').where({ head_id: headId, reverses_id: id }).first('id');
  return row ? String(row.id) : null;
}

export const transactionKinds = ['EARN', 'DEDUCT', 'TRANSFER', 'REDEEM', 'DONATE', 'DISBURSE', 'REVERSAL', 'EXPIRE', 'ADJUST'] as const;

export interface TransactionFilter {
  memberId?: string | null;
  memberExternalId?: string | null;
  accountId?: string | null;
  kind?: string | null;
  rule?: string | null;
  branch?: string | null;
  occurredFrom?: Date | null;
  occurredTo?: Date | null;
}

/** A page size larger than this is refused: pages are for people and sync jobs, not dumps. */
export const pageSizeMax = 200;

export function checkPageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > pageSizeMax) throw badInput('first', `must be between 1 and ${pageSizeMax}`);
  return size;
}

export function encodeCursor(id: string): string {
  return Buffer.from(`t:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined, field = 'after'): string | null {
  if (cursor == null) return null;
  const decoded = Buffer.from(cursor, 'base64url').toString();
  const match = /^t:(\d{1,18})$/.exec(decoded);
  if (!match) throw badInput(field, 'is not a cursor from this API');
  return match[1]!;
}

export interface TransactionPage {
  items: TransactionRecord[];
  hasNextPage: boolean;
}

/** Newest first, filtered, inside the principal's scope. */
export async function listTransactions(
  bank: Bank, principal: Principal, filter: TransactionFilter, first: number | null | undefined, after: string | null | undefined,
): Promise<TransactionPage> {
  const size = checkPageSize(first);
  const afterId = decodeCursor(after);
  const head = principal.headId;
  const q = bank.knex('transactions as t').where('t.head_id', head);
  // The branch subtree the transactions were recorded in: an admin's or client's scope (or a branch
  // inside it), or for a member the branch it names, if any, narrowing its own transactions.
  let subtree: Branch | null;
  if (principal.role === 'member') {
    const wallets = await walletIds(bank, head, principal.memberId!);
    q.whereExists(function () {
      this.select(bank.knex.raw('1')).from('postings as p')
        .whereRaw('p.head_id = t.head_id AND p.transaction_id = t.id AND p.recorded_at = t.recorded_at')
        .whereIn('p.account_id', wallets);
    });
    subtree = filter.branch ? await bank.branches.require(filter.branch, 'filter.branch') : null;
    if (subtree && subtree.headId !== head) throw new BankError('NOT_FOUND', `no branch ${filter.branch} in this bank`, 'filter.branch');
  } else if (principal.role === 'admin' || principal.role === 'client') {
    subtree = filter.branch ? await bank.branches.require(filter.branch, 'filter.branch') : principal.branch;
    if (!isWithin(subtree, principal.branch) || subtree.headId !== head) {
      throw new BankError('FORBIDDEN', `branch ${subtree.code} is outside your scope (${principal.branch.code})`);
    }
  } else {
    throw new BankError('FORBIDDEN', 'merchants list their redemptions, not the journal');
  }
  if (subtree) q.join('branches as b', 'b.id', 't.branch_id').whereLike('b.path', `${subtree.path}%`);
  if (filter.memberId != null) q.andWhere('t.member_id', checkId(filter.memberId, 'filter.memberId'));
  if (filter.memberExternalId != null) {
    q.whereIn('t.member_id', bank.knex('members').select('id').where({ head_id: head, external_id: filter.memberExternalId }));
  }
  if (filter.accountId != null) {
    const accountId = checkId(filter.accountId, 'filter.accountId');
    q.whereExists(function () {
      this.select(bank.knex.raw('1')).from('postings as pa')
        .whereRaw('pa.head_id = t.head_id AND pa.transaction_id = t.id AND pa.recorded_at = t.recorded_at AND pa.account_id = ?', [accountId]);
    });
  }
  if (filter.kind != null) {
    if (!(transactionKinds as readonly string[]).includes(filter.kind)) throw badInput('filter.kind', `must be one of ${transactionKinds.join(', ')}`);
    q.andWhere('t.kind', filter.kind);
  }
  if (filter.rule != null) {
    q.whereIn('t.rule_id', bank.knex('rules').select('id').where({ head_id: head, code: filter.rule }));
  }
  if (filter.occurredFrom) q.andWhere('t.occurred_at', '>=', filter.occurredFrom);
  if (filter.occurredTo) q.andWhere('t.occurred_at', '<', filter.occurredTo);
  if (afterId) q.andWhere('t.id', '<', afterId);
  // Ids first, then the page's transactions in one prepared statement (cb_transactions_json): called
  // per row, cb_transaction_json was planned afresh for every row of the page.
  const rows = await q.orderBy('t.id', 'desc').limit(size + 1).select('t.id');
  const page = await loadTransactions(bank, head, rows.slice(0, size).map((r) => String(r.id)));
  const items = page.map((txn, i) => {
    if (!txn) throw new Error(`invariant broken: transaction ${rows[i].id} was listed but cannot be read`);
    return txn;
  });
  return { items, hasNextPage: rows.length > size };
}
