// The counter once signed in: the shop's name on top, one screen at a time in the middle, and a tab
// bar at the bottom within a thumb's reach (核销 verify, 今日 today, 商品 catalog), as in antd-mobile
// and Vant. Tabs are hash routes (#/today), so the phone's back button works.
import { t, useLanguage, type MessageKey } from '../shared/i18n.js';
import { navigate, useRoute } from '../shared/router.js';
import type { Session } from '../shared/session.js';
import { LanguageSwitch } from '../shared/ui.js';
import { signOut } from '../shared/signOut.js';
import { Verify } from './Verify.js';
import { Today } from './Today.js';
import { Catalog } from './Catalog.js';

const tabs: { path: string; label: MessageKey; icon: string }[] = [
  { path: '/', label: 'counter.tab.verify', icon: 'M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5M8 12h8' },
  { path: '/today', label: 'counter.tab.today', icon: 'M4 6h16v14H4zM4 10h16M9 3v5M15 3v5' },
  { path: '/catalog', label: 'counter.tab.catalog', icon: 'M5 7h14l-1 13H6zM9 7a3 3 0 0 1 6 0' },
];

export function Counter({ session }: { session: Session }) {
  useLanguage();
  const path = useRoute();
  const active = tabs.find((tab) => tab.path === path) ?? tabs[0]!;
  return (
    <div class="counter-app">
      <header class="counter-bar">
        <div class="counter-shop">
          <div class="counter-shop-name" data-testid="shop-name">{session.operator.merchant?.name ?? t('counter.title')}</div>
          <div class="counter-shop-sub">{t('counter.title')} · {session.operator.displayName || session.operator.username}</div>
        </div>
        <LanguageSwitch />
        <button type="button" class="btn btn-link" onClick={() => void signOut()}>{t('common.signOut')}</button>
      </header>
      <main class="counter" id="main">
        {active.path === '/today' ? <Today /> : active.path === '/catalog' ? <Catalog /> : <Verify session={session} />}
      </main>
      <nav class="tabbar" aria-label={t('counter.tabs')}>
        {tabs.map((tab) => (
          <a key={tab.path} href={`#${tab.path}`} class="tab" aria-current={tab === active ? 'page' : undefined}
            onClick={(e) => { e.preventDefault(); navigate(tab.path); }}>
            <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path d={tab.icon} fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round" /></svg>
            <span>{t(tab.label)}</span>
          </a>
        ))}
      </nav>
    </div>
  );
}
