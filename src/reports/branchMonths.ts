// The console dashboard's figures (issue 12 §2): a branch subtree's issued, redeemed and outstanding
// per asset and month, and its active members per month (branchMonths, from the monthly rollups);
// the rules most applied in a period (topRules). Admins of the branch or above, as every report.
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { badInput } from '../errors.js';
import { formatAmount } from '../ledger/amounts.js';
import { checkPeriod, type PeriodInput } from './period.js';
import { reportScope, type AssetStats } from './reports.js';
import { balancesNowSql, branchMonthsSql, monthsSince } from './sql/branchMonths.js';
import { rangeBindings } from './sql/scope.js';
import { topRulesSql } from './sql/topRules.js';

export interface BranchMonth { month: string; activeMembers: number; assets: AssetStats[] }

/** Every month of the period, oldest first, each with every asset (zeros where nothing moved). */
export async function branchMonths(bank: Bank, principal: Principal, args: { branch?: string | null; period: PeriodInput }): Promise<BranchMonth[]> {
  const scope = await reportScope(bank, principal, args.branch);
  const period = checkPeriod(args.period);
  const wholeBank = scope.branchIds === null;
  const assets = bank.assets.all();
  const range = monthsSince(period.from);
  const bindings = { head: scope.branch.headId, branches: scope.branchIds, assets: assets.map((a) => a.code), ...rangeBindings(range) };
  const [flows, balances] = await bank.knex.transaction(async (trx) => Promise.all([
    trx.raw(branchMonthsSql(wholeBank, range), bindings),
    trx.raw(balancesNowSql(wholeBank), bindings),
  ]), { readOnly: true });
  const byMonth = new Map<string, { active: number; assets: Map<string, any> }>();
  for (const r of flows.rows) {
    const month = (r.month as string).slice(0, 7);
    let m = byMonth.get(month);
    if (!m) byMonth.set(month, m = { active: 0, assets: new Map() });
    if (r.any_asset) m.active = r.active_members;
    else m.assets.set(r.asset_code, r);
  }
  const months: string[] = [];
  for (let d = period.from; d < period.to; d = nextMonth(d)) months.push(d.slice(0, 7));
  // What members hold at the end of a month: today's balances less the net movements of every later month.
  const held = new Map(assets.map((a) => [a.code, new Decimal(balances.rows.find((b: any) => b.asset_code === a.code)?.amount ?? 0)]));
  const laterMonths = [...byMonth.keys()].filter((m) => m > months.at(-1)!);
  for (const m of laterMonths) for (const [asset, r] of byMonth.get(m)!.assets) held.set(asset, held.get(asset)!.minus(r.net));
  const out: BranchMonth[] = [];
  for (const month of [...months].reverse()) {
    const m = byMonth.get(month);
    out.push({
      month, activeMembers: m?.active ?? 0,
      assets: assets.map((a) => {
        const r = m?.assets.get(a.code);
        const line: AssetStats = {
          asset: a.code, issued: formatAmount(r?.issued ?? 0, a.scale), deducted: formatAmount(r?.deducted ?? 0, a.scale),
          redeemed: formatAmount(r?.redeemed ?? 0, a.scale), reversed: formatAmount(r?.reversed ?? 0, a.scale),
          outstanding: formatAmount(held.get(a.code)!, a.scale), activeMembers: r?.active_members ?? 0,
        };
        if (r) held.set(a.code, held.get(a.code)!.minus(r.net));
        return line;
      }),
    });
  }
  return out.reverse();
}

function nextMonth(day: string): string {
  const [y, m] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  return m === 12 ? `${String(y + 1).padStart(4, '0')}-01-01` : `${day.slice(0, 4)}-${String(m + 1).padStart(2, '0')}-01`;
}

/** Top rules read the period's transactions (rollups do not keep the rule): at most a year of them. */
export const topRulesMonthsMax = 12;
/** The list is a dashboard's panel, not a report. */
export const topRulesSizeMax = 50;

export interface RuleActivity { code: string; name: string; category: string; awards: number; members: number }

/** The rules applied most in a branch subtree in the period: awards and deductions posted and not reversed, and the members who got them. */
export async function topRules(bank: Bank, principal: Principal, args: { branch?: string | null; period: PeriodInput; first?: number | null }): Promise<RuleActivity[]> {
  const scope = await reportScope(bank, principal, args.branch);
  const period = checkPeriod(args.period);
  const months = (Number(period.to.slice(0, 4)) - Number(period.from.slice(0, 4))) * 12 + Number(period.to.slice(5, 7)) - Number(period.from.slice(5, 7));
  if (months > topRulesMonthsMax) throw badInput('period', `spans at most ${topRulesMonthsMax} months for top rules`);
  const size = args.first ?? 10;
  if (!Number.isInteger(size) || size < 1 || size > topRulesSizeMax) throw badInput('first', `must be between 1 and ${topRulesSizeMax}`);
  const { rows } = await bank.knex.raw(topRulesSql, {
    head: scope.branch.headId, branches: scope.branchIds, from: period.from, to: period.to, timeZone: scope.branch.timeZone, limit: size,
  });
  return rows.map((r: any) => ({ code: r.code, name: r.name, category: r.category, awards: r.awards, members: r.members }));
}
