// The public notice board (公示栏): no sign-in; /board/<branch code> shows a branch that switched its
// board on. ?kiosk=1 is the lobby screen: large type, refreshing by itself.
import { render } from 'preact';
import '../shared/styles.css';
import './board.css';
import { t, useLanguage } from '../shared/i18n.js';
import { Board } from './Board.js';

function App() {
  useLanguage();
  const code = decodeURIComponent(location.pathname.replace(/^\/board\/?/, '').split('/')[0] ?? '');
  return <Board code={code} kiosk={new URLSearchParams(location.search).has('kiosk')} />;
}

document.title = `${t('app.name')} · ${t('board.title')}`;
render(<App />, document.getElementById('app')!);
