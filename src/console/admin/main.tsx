// The branch console (分行后台) for admins: sign-in, then a side menu of pages, each an API client
// scoped exactly as the operator's token. Hash routes: #/claims, #/members/12 …
import { render } from 'preact';
import '../shared/styles.css';
import './console.css';
import { useLanguage, t, type MessageKey } from '../shared/i18n.js';
import { useRoute, match } from '../shared/router.js';
import { useSession } from '../shared/useSession.js';
import { SignIn } from '../shared/SignIn.js';
import { LanguageSwitch } from '../shared/ui.js';
import { signOut } from '../shared/signOut.js';
import type { Session } from '../shared/session.js';
import { pages, type PageProps } from './pages/index.js';

function Layout({ session }: { session: Session }) {
  useLanguage();
  const path = useRoute();
  const found = pages.map((page) => ({ page, params: match(page.path, path) })).find((m) => m.params !== null) ?? { page: pages[0]!, params: {} };
  const Page = found.page.component as (props: PageProps) => preact.JSX.Element;
  const menuPages = pages.filter((p) => p.menu);
  const active = menuPages.find((p) => path === p.path || path.startsWith(`${p.path}/`)) ?? (found.page.menu ? found.page : undefined);
  return (
    <div class="layout">
      <a class="skip-link" href="#main">{t('console.skipToContent')}</a>
      <header class="topbar">
        <div class="brand">{t('app.name')} · {t('console.title')}</div>
        <div class="topbar-scope">{session.operator.branch.name}</div>
        <div class="topbar-right">
          <span class="topbar-user">{t('common.signedInAs', { name: session.operator.displayName || session.operator.username })}</span>
          <LanguageSwitch />
          <button type="button" class="btn btn-link" onClick={() => void signOut()}>{t('common.signOut')}</button>
        </div>
      </header>
      <nav class="sidemenu" aria-label={t('console.menu')}>
        <ul>
          {menuPages.map((p) => (
            <li key={p.path}><a href={`#${p.path}`} aria-current={active === p ? 'page' : undefined}>{t(p.title)}</a></li>
          ))}
        </ul>
      </nav>
      <main class="content" id="main" tabIndex={-1}>
        <nav class="breadcrumbs" aria-label={t('console.breadcrumbs')}>
          <a href="#/">{t('common.home')}</a>
          {active && active.path !== '/' && <> / <a href={`#${active.path}`}>{t(active.title)}</a></>}
          {found.page !== active && found.page.path !== '/' && <> / <span>{t(found.page.title)}</span></>}
        </nav>
        <Page params={found.params ?? {}} session={session} />
      </main>
    </div>
  );
}

function App() {
  useLanguage();
  const session = useSession();
  if (!session || session.operator.role !== 'admin') return <SignIn role="admin" />;
  return <Layout session={session} />;
}

document.title = `${t('app.name')} · ${t('console.title')}`;
render(<App />, document.getElementById('app')!);

export type { MessageKey };
