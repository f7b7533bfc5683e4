// The counter's home once signed in.
import type { Session } from '../shared/session.js';
import { t } from '../shared/i18n.js';

export function Counter({ session }: { session: Session }) {
  return <main class="counter"><h1>{t('counter.title')}</h1><p>{session.operator.merchant?.name}</p></main>;
}
