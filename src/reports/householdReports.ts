// Household reports (户, issue 16 §1): the household leaderboard of a branch subtree and period, the
// households of branchStats, and party members' households (党员包户) as context beside their scores.
// All read household_rollups plus the journal's unfolded tail in one statement (sql/households.ts):
// exact at every instant. Read by admins of the branch or above; the party context never changes a score.
import type { Bank } from '../bank.js';
import type { Principal } from '../auth/principal.js';
import { badInput } from '../errors.js';
import { formatAmount } from '../ledger/amounts.js';
import { toHousehold, type Household } from '../households/households.js';
import { checkPeriod, type Period, type PeriodInput } from './period.js';
import { leaderboardSizeMax, reportScope, type ReportScope } from './reports.js';
import { householdBranchStatsSql, householdLeaderboardSql, partyHouseholdContextSql } from './sql/households.js';

export interface HouseholdLeaderboardRow { household: Household; total: string; rank: number }

const householdBindings = (scope: ReportScope, period: Period) =>
  ({ head: scope.branch.headId, branches: scope.branchIds, from: period.from, to: period.to });

/** Households of a branch subtree by their net amount of an asset in a period, highest first (admins). */
export async function householdLeaderboard(
  bank: Bank, principal: Principal, args: { branch?: string | null; asset: string; period: PeriodInput; first?: number | null },
): Promise<HouseholdLeaderboardRow[]> {
  const scope = await reportScope(bank, principal, args.branch);
  const asset = bank.assets.get(args.asset);
  const period = checkPeriod(args.period);
  const size = args.first ?? 20;
  if (!Number.isInteger(size) || size < 1 || size > leaderboardSizeMax) throw badInput('first', `must be between 1 and ${leaderboardSizeMax}`);
  const { rows } = await bank.knex.raw(householdLeaderboardSql, { ...householdBindings(scope, period), asset: asset.code, limit: size });
  return rows.map((r: any) => ({
    household: toHousehold({ ...r.household, created_at: new Date(r.household.created_at), updated_at: new Date(r.household.updated_at) }),
    total: formatAmount(r.total, asset.scale), rank: Number(r.rank),
  }));
}

export interface HouseholdAssetStats { asset: string; earned: string; net: string; activeHouseholds: number }
export interface HouseholdBranchStats { households: number; activeHouseholds: number; assets: HouseholdAssetStats[] }

/** The households of a branch subtree now, and their movements in the period (branchStats.households). */
export async function householdBranchStats(bank: Bank, scope: ReportScope, period: Period): Promise<HouseholdBranchStats> {
  const { rows } = await bank.knex.raw(householdBranchStatsSql, householdBindings(scope, period));
  const total = rows.find((r: any) => r.whole);
  const byAsset = new Map(rows.filter((r: any) => !r.whole).map((r: any) => [r.asset_code, r]));
  return {
    households: Number(total?.households ?? 0), activeHouseholds: Number(total?.active ?? 0),
    assets: bank.assets.all().map((a) => {
      const r: any = byAsset.get(a.code);
      return { asset: a.code, earned: formatAmount(r?.earned ?? '0', a.scale), net: formatAmount(r?.net ?? '0', a.scale), activeHouseholds: Number(r?.active ?? 0) };
    }),
  };
}

/** What a party member's households (包户) did in a period, beside the member's score. */
export interface PartyHouseholdContext { asset: string; linked: number; active: number; amount: string }

/**
 * Per party member (ids of one head bank), the households linked to them now and those households'
 * net amount of an asset in the period. The caller has checked the scope (partyScores did).
 */
export async function partyHouseholdContext(bank: Bank, headId: string, memberIds: string[], period: Period, assetCode: string): Promise<Map<string, PartyHouseholdContext>> {
  const asset = bank.assets.get(assetCode);
  const { rows } = await bank.knex.raw(partyHouseholdContextSql, { head: headId, members: memberIds, from: period.from, to: period.to, asset: asset.code });
  return new Map(rows.map((r: any) => [r.member_id, { asset: asset.code, linked: Number(r.linked), active: Number(r.active), amount: formatAmount(r.amount, asset.scale) }]));
}

/**
 * The context of one page of party scores, read once per asset asked for, for the whole page (the
 * rows' PartyScore.households fields share it): (memberId, asset) → the member's context.
 */
export function partyHouseholdContextLoader(bank: Bank, headId: string, memberIds: string[], period: Period) {
  const byAsset = new Map<string, Promise<Map<string, PartyHouseholdContext>>>();
  return async (memberId: string, assetCode: string): Promise<PartyHouseholdContext> => {
    const asset = bank.assets.get(assetCode);
    let page = byAsset.get(asset.code);
    if (!page) byAsset.set(asset.code, page = partyHouseholdContext(bank, headId, memberIds, period, asset.code));
    return (await page).get(memberId) ?? { asset: asset.code, linked: 0, active: 0, amount: formatAmount('0', asset.scale) };
  };
}
