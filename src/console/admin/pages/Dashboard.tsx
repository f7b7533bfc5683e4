// The dashboard (首页): a branch subtree in scope and a year at a glance. Issued, redeemed and
// outstanding per asset and month (a chart, with the same figures as a table for screen readers),
// active members, the rules most applied and the claims waiting. Chart.js loads only here.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { PageProps } from './index.js';
import { downloadWithToken, gql } from '../../shared/api.js';
import { t, useLanguage } from '../../shared/i18n.js';
import { bankToday, formatAmount } from '../../shared/format.js';
import { Alert, Button, Empty, ErrorAlert, useAction } from '../../shared/ui.js';
import { BranchSelect, Filters, Loaded, PageHeader, YearSelect, label, useLoad } from '../kit.js';

interface AssetFigures { asset: string; issued: string; redeemed: string; outstanding: string; activeMembers: number }
interface MonthFigures { month: string; activeMembers: number; assets: AssetFigures[] }
interface TopRule { code: string; name: string; awards: number; members: number }
interface DashboardData { months: MonthFigures[]; year: AssetFigures[]; activeMembers: number; topRules: TopRule[]; claimsWaiting: number }

const dashboardQuery = `query Dashboard($branch: String!, $period: ReportPeriod!) {
  branchMonths(branch: $branch, period: $period) { month activeMembers assets { asset issued redeemed outstanding activeMembers } }
  branchStats(branch: $branch, period: $period) { assets { asset issued redeemed outstanding activeMembers } }
  topRules(branch: $branch, period: $period, first: 5) { code name awards members }
  claimsWaiting: claims(branch: $branch, status: PENDING, first: 1) { totalCount }
}`;

/** Rules shown in the top list: enough to see what the branch does most. */
const topRulesShown = 5;

async function loadDashboard(branch: string, year: number): Promise<DashboardData> {
  const data = await gql<{ branchMonths: MonthFigures[]; branchStats: { assets: AssetFigures[] }; topRules: TopRule[]; claimsWaiting: { totalCount: number } }>(
    dashboardQuery, { branch, period: { year } });
  const today = bankToday();
  // Months after this one have no figures yet; the chart stops at the current month.
  const months = data.branchMonths.filter((m) => year < today.year || Number(m.month.slice(5, 7)) <= today.month);
  const yearMembers = Math.max(0, ...data.branchStats.assets.map((a) => a.activeMembers));
  return { months, year: data.branchStats.assets, activeMembers: yearMembers, topRules: data.topRules.slice(0, topRulesShown), claimsWaiting: data.claimsWaiting.totalCount };
}

function monthLabel(month: string): string {
  return t('console.dashboard.monthN', { month: Number(month.slice(5, 7)) });
}

/** The chart of one asset: issued and redeemed as bars, outstanding as a line. */
function MonthChart({ months, asset }: { months: MonthFigures[]; asset: string }) {
  const lang = useLanguage();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let chart: { destroy(): void } | undefined;
    let live = true;
    const series = (key: keyof AssetFigures) => months.map((m) => Number(m.assets.find((a) => a.asset === asset)?.[key] ?? 0));
    import('../chart.js').then(({ drawMonthChart }) => {
      if (!live || !canvas.current) return;
      chart = drawMonthChart(canvas.current, {
        labels: months.map((m) => monthLabel(m.month)),
        issued: { label: t('console.dashboard.issued'), data: series('issued') },
        redeemed: { label: t('console.dashboard.redeemed'), data: series('redeemed') },
        outstanding: { label: t('console.dashboard.outstanding'), data: series('outstanding') },
      });
    }, () => setFailed(true));
    return () => { live = false; chart?.destroy(); };
  }, [months, asset, lang]);
  if (failed) return <Alert kind="warning">{t('console.dashboard.chartFailed')}</Alert>;
  return <div class="chart-box"><canvas ref={canvas} data-testid="dashboard-chart" role="img" aria-label={t('console.dashboard.chartLabel', { asset: label('console.asset', asset) })} /></div>;
}

function Figures({ data, asset, setAsset }: { data: DashboardData; asset: string; setAsset(a: string): void }) {
  const assets = data.year.map((a) => a.asset);
  const yearOf = data.year.find((a) => a.asset === asset);
  return (
    <>
      <div class="stat-row">
        <div class="stat card"><div class="stat-title">{t('console.dashboard.activeMembers')}</div><div class="stat-value" data-testid="active-members">{data.activeMembers}</div></div>
        <div class="stat card"><div class="stat-title">{t('console.dashboard.issuedYear', { asset: label('console.asset', asset) })}</div><div class="stat-value">{formatAmount(yearOf?.issued)}</div></div>
        <div class="stat card"><div class="stat-title">{t('console.dashboard.outstanding')}</div><div class="stat-value">{formatAmount(yearOf?.outstanding)}</div></div>
        <div class="stat card">
          <div class="stat-title">{t('console.dashboard.claimsWaiting')}</div>
          <div class="stat-value" data-testid="claims-waiting">{data.claimsWaiting}</div>
          <a href="#/claims">{t('console.dashboard.toClaims')}</a>
        </div>
      </div>
      <section class="card">
        <div class="card-head">
          <h2>{t('console.dashboard.byMonth')}</h2>
          <div class="segmented" role="group" aria-label={t('console.asset')}>
            {assets.map((a) => <button key={a} type="button" class={`btn${a === asset ? ' btn-primary' : ''}`} aria-pressed={a === asset} onClick={() => setAsset(a)}>{label('console.asset', a)}</button>)}
          </div>
        </div>
        {data.months.length === 0 ? <Empty /> : <MonthChart months={data.months} asset={asset} />}
        <details class="chart-table">
          <summary>{t('console.dashboard.asTable')}</summary>
          <div class="table-wrap"><table class="table">
            <thead><tr><th>{t('console.dashboard.month')}</th><th class="num">{t('console.dashboard.issued')}</th><th class="num">{t('console.dashboard.redeemed')}</th><th class="num">{t('console.dashboard.outstanding')}</th><th class="num">{t('console.dashboard.activeMembers')}</th></tr></thead>
            <tbody>
              {data.months.map((m) => {
                const f = m.assets.find((a) => a.asset === asset);
                return <tr key={m.month}><td>{monthLabel(m.month)}</td><td class="num">{formatAmount(f?.issued)}</td><td class="num">{formatAmount(f?.redeemed)}</td><td class="num">{formatAmount(f?.outstanding)}</td><td class="num">{m.activeMembers}</td></tr>;
              })}
            </tbody>
          </table></div>
        </details>
      </section>
      <section class="card">
        <h2>{t('console.dashboard.topRules')}</h2>
        {data.topRules.length === 0 ? <Empty /> : (
          <div class="table-wrap"><table class="table" data-testid="top-rules">
            <thead><tr><th>#</th><th>{t('console.rules.name')}</th><th class="hide-phone">{t('console.rules.code')}</th><th class="num">{t('console.dashboard.awards')}</th><th class="num">{t('console.dashboard.members')}</th></tr></thead>
            <tbody>{data.topRules.map((r, i) => <tr key={r.code}><td>{i + 1}</td><td>{r.name}</td><td class="hide-phone"><code>{r.code}</code></td><td class="num">{r.awards}</td><td class="num">{r.members}</td></tr>)}</tbody>
          </table></div>
        )}
      </section>
    </>
  );
}

export function DashboardPage({ session }: PageProps) {
  useLanguage();
  const [branch, setBranch] = useState(session.operator.branch.code);
  const [year, setYear] = useState(bankToday().year);
  const [asset, setAsset] = useState('POINTS');
  const state = useLoad(() => loadDashboard(branch, year), [branch, year]);
  const download = useAction(() => downloadWithToken(`/exports/branch-stats.xlsx?branch=${encodeURIComponent(branch)}&year=${year}`, `branch-stats-${branch}-${year}.xlsx`));
  return (
    <>
      <PageHeader title={t('console.menu.dashboard')}>
        <Button onClick={() => void download.run()} busy={download.busy} data-testid="download-stats-xlsx">{t('console.dashboard.downloadXlsx')}</Button>
      </PageHeader>
      <ErrorAlert error={download.error} />
      <Filters>
        <BranchSelect session={session} value={branch} onChange={setBranch} />
        <YearSelect value={year} onChange={setYear} />
      </Filters>
      <Loaded state={state}>{(data) => <Figures data={data} asset={asset} setAsset={setAsset} />}</Loaded>
    </>
  );
}
