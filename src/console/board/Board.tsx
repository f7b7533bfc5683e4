// The board of one branch.
import { t } from '../shared/i18n.js';

export function Board({ code }: { code: string; kiosk: boolean }) {
  return <main class="board"><h1>{t('board.title')}</h1><p>{code}</p></main>;
}
