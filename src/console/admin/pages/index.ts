// The console's pages: route pattern, menu title, and whether it appears in the side menu.
// The first entry is the home page (#/).
import type { FunctionComponent } from 'preact';
import type { MessageKey } from '../../shared/i18n.js';
import type { Session } from '../../shared/session.js';
import { DashboardPage } from './Dashboard.js';

export interface PageProps { params: Record<string, string>; session: Session }
export interface PageEntry { path: string; title: MessageKey; menu: boolean; component: FunctionComponent<PageProps> }

export const pages: PageEntry[] = [
  { path: '/', title: 'console.menu.dashboard', menu: true, component: DashboardPage },
];
