// The merchant counter (商户核销台): a phone page for shop staff at the till. Sign in, then type or
// scan a voucher, see what it is for, fulfil with one tap, and see an unmistakable outcome.
import { render } from 'preact';
import '../shared/styles.css';
import './counter.css';
import { t, useLanguage } from '../shared/i18n.js';
import { useSession } from '../shared/useSession.js';
import { SignIn } from '../shared/SignIn.js';
import { Counter } from './Counter.js';

function App() {
  useLanguage();
  const session = useSession();
  if (!session || session.operator.role !== 'merchant') return <SignIn role="merchant" />;
  return <Counter session={session} />;
}

document.title = `${t('app.name')} · ${t('counter.title')}`;
render(<App />, document.getElementById('app')!);
