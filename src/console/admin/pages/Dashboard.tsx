// The dashboard (首页): the signed-in admin's branch at a glance.
import type { PageProps } from './index.js';
import { t } from '../../shared/i18n.js';

export function DashboardPage({ session }: PageProps) {
  return <section class="card"><h1>{t('console.menu.dashboard')}</h1><p>{session.operator.branch.name}</p></section>;
}
