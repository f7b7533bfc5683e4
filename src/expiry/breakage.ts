// The breakage report (issue 16 §3): per month of a period, what a branch subtree's member wallets were
// issued (EARN), spent (REDEEM and DONATE) and lost to expiry (EXPIRE) of one asset, read from the
// monthly member rollups plus the journal's unfolded tail (exact at every instant, like every report).
// Admins of the branch or above. Transfers move points between members and are neither; reversals are
// listed apart (a refund gives spent points back, a reversed award takes issued ones back).
import { Decimal } from 'decimal.js';
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { formatAmount } from '../ledger/amounts.js';
import { checkPeriod, type PeriodInput } from '../reports/period.js';
import { reportScope } from '../reports/reports.js';
import { rangeBindings, scopedRollups, type RollupRange } from '../reports/sql/scope.js';

export interface BreakageFigures { issued: string; spent: string; expired: string; reversed: string }
export interface BreakageMonth extends BreakageFigures { month: string }
export interface ExpiryBreakage extends BreakageFigures { asset: string; from: string; to: string; months: BreakageMonth[] }

const breakageSql = (wholeBank: boolean, range: RollupRange) => `
  WITH rows AS (${scopedRollups(wholeBank, range, 'r.asset_code = :asset')})
  SELECT to_char(r.starts, 'YYYY-MM') AS month,
         coalesce(sum(r.amount) FILTER (WHERE r.kind = 'EARN'), 0)::text AS issued,
         coalesce(-sum(r.amount) FILTER (WHERE r.kind IN ('REDEEM', 'DONATE')), 0)::text AS spent,
         coalesce(-sum(r.amount) FILTER (WHERE r.kind = 'EXPIRE'), 0)::text AS expired,
         coalesce(sum(r.amount) FILTER (WHERE r.kind = 'REVERSAL'), 0)::text AS reversed
    FROM rows r GROUP BY 1`;

export async function expiryBreakage(
  bank: Bank, principal: Principal, args: { branch?: string | null; asset?: string | null; period: PeriodInput },
): Promise<ExpiryBreakage> {
  const scope = await reportScope(bank, principal, args.branch);
  const period = checkPeriod(args.period);
  const asset = bank.assets.get(args.asset ?? 'POINTS');
  const range: RollupRange = { name: 'breakage', slices: [{ grain: 'month', from: period.from, to: period.to }] };
  const { rows } = await bank.knex.raw(breakageSql(scope.branchIds === null, range), {
    head: scope.branch.headId, branches: scope.branchIds, asset: asset.code, ...rangeBindings(range),
  });
  const byMonth = new Map<string, Record<string, string>>(rows.map((r: any) => [r.month, r]));
  const figures = ['issued', 'spent', 'expired', 'reversed'] as const;
  const totals = Object.fromEntries(figures.map((f) => [f, new Decimal(0)])) as Record<(typeof figures)[number], Decimal>;
  const months: BreakageMonth[] = [];
  for (let month = period.from.slice(0, 7); month < period.to.slice(0, 7); month = nextMonth(month)) {
    const r = byMonth.get(month);
    const line = { month } as BreakageMonth;
    for (const f of figures) {
      totals[f] = totals[f].plus(r?.[f] ?? 0);
      line[f] = formatAmount(r?.[f] ?? '0', asset.scale);
    }
    months.push(line);
  }
  return {
    asset: asset.code, from: period.from, to: period.to, months,
    ...Object.fromEntries(figures.map((f) => [f, formatAmount(totals[f], asset.scale)])) as unknown as BreakageFigures,
  };
}

function nextMonth(month: string): string {
  const [y, m] = [Number(month.slice(0, 4)), Number(month.slice(5, 7))];
  return m === 12 ? `${String(y + 1).padStart(4, '0')}-01` : `${month.slice(0, 4)}-${String(m + 1).padStart(2, '0')}`;
}
