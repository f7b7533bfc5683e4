// Expiry policies (积分有效期, issue 16 §3): per head bank and asset, OFF (the default: no row), points
// expire N whole months after the month they were earned, or everything earned before a yearly reset
// date expires on it (年度清零), both in the bank's time zone. Set by an admin of the head bank; read by
// anyone of the bank. A policy turned on applies to the wallets' whole history: the sweeper folds their
// journal into lots from the start (expiry_policies.lots_folded_below starts at 0).
import type { Bank } from '../bank.js';
import { requireRole, type Principal } from '../auth/principal.js';
import { BankError, badInput } from '../errors.js';

export type ExpiryPolicyKind = 'OFF' | 'MONTHS_AFTER_EARNING' | 'YEARLY_RESET';

export interface ExpiryPolicy {
  asset: string;
  kind: ExpiryPolicyKind;
  months: number | null;
  resetMonth: number | null;
  resetDay: number | null;
  changedBy: string | null;
  changedAt: Date | null;
}

export interface ExpiryPolicyInput {
  asset: string;
  kind: string;
  months?: number | null;
  resetMonth?: number | null;
  resetDay?: number | null;
}

/** Ten years: a longer life is no expiry at all. */
export const expiryMonthsMax = 120;
/** Days of each month in a common year: a reset on 29 February would skip three years in four. */
const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const kinds: readonly ExpiryPolicyKind[] = ['OFF', 'MONTHS_AFTER_EARNING', 'YEARLY_RESET'];

function wholeNumber(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badInput(field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function absent(field: string, value: unknown, kind: string): void {
  if (value !== undefined && value !== null) throw badInput(field, `is not used by a ${kind} policy; leave it out`);
}

/** The policy's columns from the input, or BAD_USER_INPUT naming the field. */
function checkPolicy(input: ExpiryPolicyInput): { kind: ExpiryPolicyKind; months: number | null; reset_month: number | null; reset_day: number | null } {
  if (!kinds.includes(input.kind as ExpiryPolicyKind)) throw badInput('kind', `must be one of ${kinds.join(', ')}`);
  const kind = input.kind as ExpiryPolicyKind;
  if (kind === 'MONTHS_AFTER_EARNING') {
    absent('resetMonth', input.resetMonth, kind);
    absent('resetDay', input.resetDay, kind);
    return { kind, months: wholeNumber('months', input.months, 1, expiryMonthsMax), reset_month: null, reset_day: null };
  }
  absent('months', input.months, kind);
  if (kind === 'YEARLY_RESET') {
    const month = wholeNumber('resetMonth', input.resetMonth, 1, 12);
    return { kind, months: null, reset_month: month, reset_day: wholeNumber('resetDay', input.resetDay, 1, daysInMonth[month - 1]!) };
  }
  absent('resetMonth', input.resetMonth, kind);
  absent('resetDay', input.resetDay, kind);
  return { kind, months: null, reset_month: null, reset_day: null };
}

function toPolicy(asset: string, r: Record<string, any> | undefined): ExpiryPolicy {
  return {
    asset, kind: r?.kind ?? 'OFF', months: r?.months ?? null, resetMonth: r?.reset_month ?? null, resetDay: r?.reset_day ?? null,
    changedBy: r?.changed_by ?? null, changedAt: r?.changed_at ?? null,
  };
}

/** Sets the policy of an asset for the caller's head bank: admins of the head bank itself only. */
export async function setExpiryPolicy(bank: Bank, principal: Principal, input: ExpiryPolicyInput): Promise<ExpiryPolicy> {
  requireRole(principal, 'admin');
  if (principal.branch.parentId !== null) {
    throw new BankError('FORBIDDEN', `an expiry policy is set by an admin of the head bank; your token's scope is branch ${principal.branch.code}`);
  }
  const asset = bank.assets.get(input.asset);
  if (!asset.spendable) throw badInput('asset', `${asset.code} is not spendable: only spendable points expire`);
  const policy = checkPolicy(input);
  const row = { ...policy, changed_by: principal.sub.slice(0, 200), changed_at: bank.clock() };
  // lots_folded_below keeps its value: turning a policy off and on again resumes folding where it stopped.
  const [saved] = await bank.knex('expiry_policies')
    .insert({ head_id: principal.headId, asset_code: asset.code, ...row })
    .onConflict(['head_id', 'asset_code']).merge(Object.keys(row))
    .returning('*');
  return toPolicy(asset.code, saved);
}

/** The policy of an asset for the caller's head bank (OFF when none was ever set). */
export async function getExpiryPolicy(bank: Bank, principal: Principal, assetCode: string): Promise<ExpiryPolicy> {
  const asset = bank.assets.get(assetCode);
  const row = await bank.knex('expiry_policies').where({ head_id: principal.headId, asset_code: asset.code }).first();
  return toPolicy(asset.code, row);
}

/** Every spendable asset's policy for the caller's head bank. */
export async function listExpiryPolicies(bank: Bank, principal: Principal): Promise<ExpiryPolicy[]> {
  const rows = await bank.knex('expiry_policies').where({ head_id: principal.headId });
  return bank.assets.all().filter((a) => a.spendable).map((a) => toPolicy(a.code, rows.find((r: any) => r.asset_code === a.code)));
}
