// The console's pages: route pattern, menu title, and whether it appears in the side menu.
// The first entry is the home page (#/). Detail pages (a member, a rule, a merchant) sit under
// their list's path, so the menu and the breadcrumbs show where they belong.
import type { FunctionComponent } from 'preact';
import type { MessageKey } from '../../shared/i18n.js';
import type { Session } from '../../shared/session.js';
import { DashboardPage } from './Dashboard.js';
import { ClaimsPage } from './Claims.js';
import { MemberPage, MembersPage } from './Members.js';
import { HouseholdPage, HouseholdsPage } from './Households.js';
import { PartyScoresPage } from './PartyScores.js';
import { RulePage, RulesPage } from './Rules.js';
import { MerchantPage, MerchantsPage, PoolsPage } from './Merchants.js';
import { OperatorsPage } from './Operators.js';
import { NoticeBoardPage } from './NoticeBoard.js';
import { WebhooksPage } from './Webhooks.js';
import { SelectionPage, SelectionsPage } from './Selections.js';

export interface PageProps { params: Record<string, string>; session: Session }
export interface PageEntry { path: string; title: MessageKey; menu: boolean; component: FunctionComponent<PageProps> }

export const pages: PageEntry[] = [
  { path: '/', title: 'console.menu.dashboard', menu: true, component: DashboardPage },
  { path: '/claims', title: 'console.menu.claims', menu: true, component: ClaimsPage },
  { path: '/members', title: 'console.menu.members', menu: true, component: MembersPage },
  { path: '/members/:id', title: 'console.members.detail', menu: false, component: MemberPage },
  { path: '/households', title: 'console.menu.households', menu: true, component: HouseholdsPage },
  { path: '/households/:externalId', title: 'console.households.detail', menu: false, component: HouseholdPage },
  { path: '/scores', title: 'console.menu.scores', menu: true, component: PartyScoresPage },
  { path: '/rules', title: 'console.menu.rules', menu: true, component: RulesPage },
  { path: '/rules/:code', title: 'console.rules.detail', menu: false, component: RulePage },
  { path: '/merchants', title: 'console.menu.merchants', menu: true, component: MerchantsPage },
  { path: '/merchants/:id', title: 'console.merchants.detail', menu: false, component: MerchantPage },
  { path: '/pools', title: 'console.menu.pools', menu: true, component: PoolsPage },
  { path: '/operators', title: 'console.menu.operators', menu: true, component: OperatorsPage },
  { path: '/selections', title: 'console.menu.selections', menu: true, component: SelectionsPage },
  { path: '/selections/:id', title: 'console.selections.detail', menu: false, component: SelectionPage },
  { path: '/board', title: 'console.menu.board', menu: true, component: NoticeBoardPage },
  { path: '/webhooks', title: 'console.menu.webhooks', menu: true, component: WebhooksPage },
];
