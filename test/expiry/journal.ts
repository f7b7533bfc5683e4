// Writes for the expiry tests straight through cb_post_entry (the function transfers, adjustments and
// reversals use): earns dated when a test needs, spends, refunds, so that property tests run hundreds of
// sequences in seconds. Lots are then folded and expired by the real sweeper and functions.
import { Decimal } from 'decimal.js';
import type { Bank } from '../../src/bank.js';
import { callFunction } from '../../src/db/callFunction.js';
import { foldWalletLots } from '../../src/expiry/lots.js';

export interface Journal {
  wallet(memberId: string): Promise<string>;
  earn(memberId: string, amount: string, occurredAt: Date): Promise<string>;
  /** An EARN to any wallet (a household's), in the journal's branch. */
  earnTo(accountId: string, amount: string, occurredAt: Date): Promise<string>;
  /** Moves amount from the member's wallet to `to`'s (a TRANSFER); returns the transaction id. */
  spend(memberId: string, to: string, amount: string): Promise<string>;
  /** Reverses a transaction (every line negated), as reverseTransaction does. */
  reverse(transactionId: string): Promise<string>;
  /** The member's lots, oldest lot first, after folding its wallet (amounts without trailing zeros). */
  lots(memberId: string): Promise<{ id: string; transactionId: string; earnedAt: Date; amount: string; remaining: string }[]>;
}

export function journalOf(bank: Bank, headId: string, branchId: string, tag: string): Journal {
  let n = 0;
  const accountOf = async (ownerType: string, ownerId: string, purpose: string) => {
    const row = await bank.knex('accounts').where({ head_id: headId, owner_type: ownerType, owner_id: ownerId, asset_code: 'POINTS', purpose }).first('id');
    return String(row.id);
  };
  const wallet = (memberId: string) => accountOf('MEMBER', memberId, 'WALLET');
  const post = async (entry: Record<string, unknown>) => {
    const key = `${tag}-j${++n}`;
    const r = await callFunction(bank.pool, 'cb_post_entry', [headId, `journal-${tag}`, 'admin', key, 'test', key, JSON.stringify(entry)]);
    return String(r.transactionId);
  };
  return {
    wallet,
    async earn(memberId, amount, occurredAt) {
      return post({ kind: 'EARN', branchId, memberId, occurredAt: occurredAt.toISOString(), lines: [
        { accountId: await wallet(memberId), amount }, { accountId: await accountOf('SYSTEM', branchId, 'ISSUANCE'), amount: `-${amount}` }] });
    },
    async earnTo(accountId, amount, occurredAt) {
      return post({ kind: 'EARN', branchId, occurredAt: occurredAt.toISOString(), lines: [
        { accountId, amount }, { accountId: await accountOf('SYSTEM', branchId, 'ISSUANCE'), amount: `-${amount}` }] });
    },
    async spend(memberId, to, amount) {
      return post({ kind: 'TRANSFER', branchId, memberId, lines: [
        { accountId: await wallet(memberId), amount: `-${amount}` }, { accountId: await wallet(to), amount }] });
    },
    async reverse(transactionId) {
      const original = await bank.knex('transactions').where({ head_id: headId, id: transactionId }).first('branch_id', 'member_id');
      const lines = await bank.knex('postings').where({ head_id: headId, transaction_id: transactionId }).select('account_id', 'amount');
      return post({ kind: 'REVERSAL', branchId: String(original.branch_id), memberId: original.member_id ? String(original.member_id) : null,
        reversesId: transactionId, reason: 'test reversal',
        lines: lines.map((l) => ({ accountId: String(l.account_id), amount: new Decimal(l.amount).neg().toString() })) });
    },
    async lots(memberId) {
      await foldWalletLots(bank, headId, await wallet(memberId));
      const rows = await bank.knex('wallet_lots').where({ head_id: headId, account_id: await wallet(memberId) }).orderBy('id')
        .select('id', 'transaction_id', 'earned_at', 'amount', 'remaining');
      return rows.map((r) => ({ id: String(r.id), transactionId: String(r.transaction_id), earnedAt: r.earned_at, amount: new Decimal(r.amount).toString(), remaining: new Decimal(r.remaining).toString() }));
    },
  };
}

/** Sets a policy straight in the table (the GraphQL path has its own test). */
export async function setPolicy(bank: Bank, headId: string, policy: { kind: string; months?: number; resetMonth?: number; resetDay?: number }): Promise<void> {
  const row = { kind: policy.kind, months: policy.months ?? null, reset_month: policy.resetMonth ?? null, reset_day: policy.resetDay ?? null,
    changed_by: 'test', changed_at: new Date() };
  await bank.knex('expiry_policies').insert({ head_id: headId, asset_code: 'POINTS', ...row }).onConflict(['head_id', 'asset_code']).merge(Object.keys(row));
}
