// The public notice board (公示栏): no sign-in; /board/<branch code> shows a branch that switched its
// board on, /board asks for a code. ?kiosk=1 is the lobby screen: large type, no controls, refreshing
// by itself every minute (the API caches answers about that long); ?refresh=<seconds> (5 to 3600)
// changes the interval, for a screen that wants it slower, or a test that wants it quick.
import { render } from 'preact';
import '../shared/styles.css';
import './board.css';
import { t, useLanguage } from '../shared/i18n.js';
import { Board, BoardChooser } from './Board.js';

/** A lobby screen refreshes this often by default: the API's answers are reused for about a minute. */
const refreshDefaultSeconds = 60;
/** Bounds of ?refresh=: faster than 5 s only re-reads the API's cache; slower than an hour is stale. */
const refreshMinSeconds = 5;
const refreshMaxSeconds = 3600;

function refreshMs(params: URLSearchParams): number {
  const asked = Number(params.get('refresh'));
  const seconds = Number.isFinite(asked) && asked > 0 ? Math.min(refreshMaxSeconds, Math.max(refreshMinSeconds, asked)) : refreshDefaultSeconds;
  return seconds * 1000;
}

function App() {
  useLanguage();
  const code = decodeURIComponent(location.pathname.replace(/^\/board\/?/, '').split('/')[0] ?? '').trim();
  const params = new URLSearchParams(location.search);
  const kiosk = params.has('kiosk') && params.get('kiosk') !== '0';
  document.title = `${t('app.name')} · ${t('board.title')}`;
  if (!code) return <BoardChooser />;
  return <Board code={code} kiosk={kiosk} refreshMs={refreshMs(params)} />;
}

render(<App />, document.getElementById('app')!);
