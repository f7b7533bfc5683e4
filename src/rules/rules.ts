// Earning rules (积分细则): versioned definitions of what an activity earns or costs. Each
// defineRule call makes a new version; postings record the version (transactions.rule_id) that
// produced them. A branch inherits the rules of the branches above it and may add or override
// its own; the deepest definition on a member's path applies (cb_award_batch).
import type { Bank } from '../bank.js';
import { requireRole, requireScope, type Principal } from '../auth/principal.js';
import { isWithin, type Branch } from '../directory/branches.js';
import { withRetry } from '../db/errors.js';
import { BankError, badInput } from '../errors.js';
import { parseAmount } from '../ledger/amounts.js';
import { checkName } from '../inputChecks.js';
import { checkIdempotencyKey, requestHash, runIdempotent } from '../ledger/idempotency.js';

export type CapWindow = 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';
export const capWindows: readonly CapWindow[] = ['DAY', 'WEEK', 'MONTH', 'YEAR'];

export interface RuleOutput { asset: string; amountPerUnit: string; direction: 'CREDIT' | 'DEDUCT' }
export interface RuleCap { window: CapWindow; maxCount: string | null; maxAmount: string | null }
/** Whom an award under the rule credits: the member, or the member's current household (户, migration 072). */
export type Beneficiary = 'MEMBER' | 'HOUSEHOLD';
export const beneficiaries: readonly Beneficiary[] = ['MEMBER', 'HOUSEHOLD'];

export interface Rule {
  id: string;
  branchId: string;
  code: string;
  version: number;
  name: string;
  category: string;
  description: string | null;
  outputs: RuleOutput[];
  caps: RuleCap[];
  requiresApproval: boolean;
  beneficiary: Beneficiary;
  allowedClients: string[];
  validFrom: Date | null;
  validTo: Date | null;
  createdBy: string;
  createdAt: Date;
}

const ruleCode = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
export const ruleCodeLengthMax = 100;
/** A rule has few outputs (points and hours, say); more is a mistake. */
export const ruleOutputsMax = 8;
export const ruleCapsMax = 4;
/** Client subjects listed on one rule. */
export const allowedClientsMax = 100;
/** Units per award or cap: a count of drops, shifts or hours; two decimals allow half hours. */
export const quantityScale = 2;
/**
 * The most one unit of a rule may credit or deduct. The richest rule of the programmes this models
 * pays tens of points per act (an hour of service: 10); a million is already a typo, and with at most
 * 1,000 units per award (awards.ts quantityMax) an award stays under 10^9, far inside the bound every
 * amount of the API has (amounts.ts amountDigitsMax, the bound of adjustBalance).
 */
export const amountPerUnitMax = '1000000';
/** A cap's count of units in one window: a hundred thousand drops a year is more than any resident makes. */
export const capCountMax = '100000';
/** A cap's amount in one window: a year of the largest awards a rule may make (amountPerUnitMax × capCountMax would be 10^11: one person never earns that). */
export const capAmountMax = '1000000000';

export function toRule(r: Record<string, any>): Rule {
  return {
    id: String(r.id), branchId: String(r.branch_id), code: r.code, version: r.version, name: r.name, category: r.category,
    description: r.description, outputs: r.outputs, caps: r.caps, requiresApproval: r.requires_approval,
    beneficiary: r.beneficiary, allowedClients: r.allowed_clients, validFrom: r.valid_from, validTo: r.valid_to, createdBy: r.created_by, createdAt: r.created_at,
  };
}

export function checkRuleCode(value: unknown, field = 'code'): string {
  if (typeof value !== 'string' || value.length > ruleCodeLengthMax || !ruleCode.test(value)) {
    throw badInput(field, 'lower-case words joined by dots, e.g. "garbage.sorted-drop" (at most 100 characters)');
  }
  return value;
}

export interface DefineRuleInput {
  idempotencyKey: string;
  branch?: string | null;
  code: string;
  name: string;
  category: string;
  description?: string | null;
  outputs: { asset: string; amountPerUnit: string; direction: 'CREDIT' | 'DEDUCT' }[];
  caps?: { window: CapWindow; maxCount?: string | null; maxAmount?: string | null }[] | null;
  requiresApproval?: boolean | null;
  beneficiary?: Beneficiary | null;
  allowedClients?: string[] | null;
  validFrom?: Date | null;
  validTo?: Date | null;
}

function text(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max) throw badInput(field, `must be 1 to ${max} characters`);
  return value;
}

export async function defineRule(bank: Bank, principal: Principal, input: DefineRuleInput): Promise<{ rule: Rule; replayed: boolean }> {
  requireRole(principal, 'admin');
  const key = checkIdempotencyKey(input.idempotencyKey);
  const branch = input.branch ? await bank.branches.require(input.branch) : principal.branch;
  requireScope(principal, branch, 'branch');
  const code = checkRuleCode(input.code);
  const name = checkName('name', input.name, 200)!;
  const category = checkName('category', input.category, 100)!;
  const description = input.description == null ? null : text('description', input.description, 2000);
  if (!Array.isArray(input.outputs) || input.outputs.length === 0 || input.outputs.length > ruleOutputsMax) {
    throw badInput('outputs', `give 1 to ${ruleOutputsMax} outputs`);
  }
  const outputs: RuleOutput[] = input.outputs.map((o, i) => {
    const asset = bank.assets.get(o.asset, `outputs[${i}].asset`);
    const amount = parseAmount(`outputs[${i}].amountPerUnit`, o.amountPerUnit, { scale: asset.scale, sign: 'positive' });
    if (amount.gt(amountPerUnitMax)) throw badInput(`outputs[${i}].amountPerUnit`, `at most ${amountPerUnitMax} per unit`);
    if (o.direction !== 'CREDIT' && o.direction !== 'DEDUCT') throw badInput(`outputs[${i}].direction`, 'must be CREDIT or DEDUCT');
    return { asset: asset.code, amountPerUnit: amount.toFixed(asset.scale), direction: o.direction };
  });
  if (new Set(outputs.map((o) => o.asset)).size !== outputs.length) throw badInput('outputs', 'name each asset once');
  const primary = bank.assets.get(outputs[0]!.asset);
  const caps: RuleCap[] = (input.caps ?? []).map((c, i) => {
    if (!capWindows.includes(c.window)) throw badInput(`caps[${i}].window`, `must be one of ${capWindows.join(', ')}`);
    const maxCount = c.maxCount == null ? null : parseAmount(`caps[${i}].maxCount`, c.maxCount, { scale: quantityScale, sign: 'positive' });
    if (maxCount?.gt(capCountMax)) throw badInput(`caps[${i}].maxCount`, `at most ${capCountMax}`);
    const maxAmount = c.maxAmount == null ? null : parseAmount(`caps[${i}].maxAmount`, c.maxAmount, { scale: primary.scale, sign: 'positive' });
    if (maxAmount?.gt(capAmountMax)) throw badInput(`caps[${i}].maxAmount`, `at most ${capAmountMax}`);
    if (maxCount === null && maxAmount === null) throw badInput(`caps[${i}]`, 'give maxCount, maxAmount or both');
    return { window: c.window, maxCount: maxCount?.toString() ?? null, maxAmount: maxAmount?.toFixed(primary.scale) ?? null };
  });
  if (caps.length > ruleCapsMax || new Set(caps.map((c) => c.window)).size !== caps.length) {
    throw badInput('caps', 'at most one cap per window (DAY, WEEK, MONTH, YEAR)');
  }
  // Stored in a fixed window order, so that equal definitions hash equal and read alike.
  caps.sort((a, b) => capWindows.indexOf(a.window) - capWindows.indexOf(b.window));
  const allowedClients = input.allowedClients ?? [];
  if (allowedClients.length > allowedClientsMax || allowedClients.some((c) => typeof c !== 'string' || c.length === 0 || c.length > 200)) {
    throw badInput('allowedClients', `at most ${allowedClientsMax} client subjects of 1 to 200 characters`);
  }
  const validFrom = input.validFrom ?? null;
  const validTo = input.validTo ?? null;
  if (validFrom && validTo && validFrom >= validTo) throw badInput('validTo', 'must be after validFrom');
  const beneficiary = input.beneficiary ?? 'MEMBER';
  if (!beneficiaries.includes(beneficiary)) throw badInput('beneficiary', `must be one of ${beneficiaries.join(', ')}`);
  const normalized = {
    branch: branch.code, code, name, category, description, outputs, caps, requiresApproval: input.requiresApproval ?? false,
    allowedClients, validFrom: validFrom?.toISOString() ?? null, validTo: validTo?.toISOString() ?? null,
    // Only a household rule names its beneficiary in the hash: a member rule's key hashes as it always did.
    ...(beneficiary === 'HOUSEHOLD' ? { beneficiary } : {}),
  };
  const hash = requestHash('defineRule', normalized);
  const { result, replayed } = await withRetry(() => bank.knex.transaction((trx) =>
    runIdempotent(trx, principal, key, 'defineRule', hash, async () => {
      // Versions of one code on one branch are numbered in order: serialize their definition.
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`rule:${branch.id}:${code}`]);
      const { max } = (await trx('rules').where({ head_id: branch.headId, branch_id: branch.id, code }).max('version as max').first()) ?? {};
      const [row] = await trx('rules').insert({
        head_id: branch.headId, branch_id: branch.id, code, version: (max ?? 0) + 1, name, category, description,
        outputs: JSON.stringify(outputs), caps: JSON.stringify(caps), requires_approval: normalized.requiresApproval, beneficiary,
        allowed_clients: allowedClients, valid_from: validFrom, valid_to: validTo, created_by: principal.sub,
      }).returning('id');
      return { id: String(row.id) };
    })));
  const rule = await getRuleVersion(bank, branch.headId, String(result.id));
  return { rule: rule!, replayed };
}

export async function getRuleVersion(bank: Bank, headId: string, id: string): Promise<Rule | null> {
  const row = await bank.knex('rules').where({ head_id: headId, id }).first();
  return row ? toRule(row) : null;
}

/**
 * The rules in force for a branch: for each code, the latest version of the deepest definition on
 * the branch's path (what cb_award_batch applies). With history, every version of every code instead.
 */
export async function listRules(bank: Bank, principal: Principal, branchCode: string | null, options: { code?: string | null; history?: boolean }): Promise<Rule[]> {
  const branch = branchCode ? await bank.branches.require(branchCode) : principal.branch;
  if (branch.headId !== principal.headId) throw new BankError('FORBIDDEN', `branch ${branch.code} belongs to another bank`);
  if ((principal.role === 'admin' || principal.role === 'client') && !isWithin(branch, principal.branch) && !isWithin(principal.branch, branch)) {
    throw new BankError('FORBIDDEN', `branch ${branch.code} is outside your scope (${principal.branch.code})`);
  }
  const ancestorIds = branch.path.split('/').filter(Boolean);
  const query = bank.knex('rules as r').join('branches as b', 'b.id', 'r.branch_id')
    .where('r.head_id', branch.headId).whereIn('r.branch_id', ancestorIds)
    .select('r.*', 'b.depth');
  if (options.code) query.andWhere('r.code', checkRuleCode(options.code));
  const rows = await query.orderBy([{ column: 'r.code' }, { column: 'b.depth', order: 'desc' }, { column: 'r.version', order: 'desc' }]);
  if (options.history) return rows.map(toRule);
  const seen = new Set<string>();
  return rows.filter((r) => (seen.has(r.code) ? false : (seen.add(r.code), true))).map(toRule);
}

export type { Branch };

/** Rule versions by id, in one query (the dataloader's batch function). */
export async function loadRuleVersions(bank: Bank, headId: string, ids: readonly string[]): Promise<(Rule | null)[]> {
  const rows = await bank.knex('rules').where({ head_id: headId }).whereIn('id', ids as string[]);
  const byId = new Map(rows.map((r) => [String(r.id), toRule(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}
