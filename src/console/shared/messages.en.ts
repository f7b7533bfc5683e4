// The English message catalogue: the same keys as messages.zh-CN.ts (tsc checks it).
import type { MessageKey } from './messages.zh-CN.js';

export const en: Record<MessageKey, string> = {
  // — common —
  'app.name': 'Civility Bank',
  'lang.switch': '中文',
  'lang.label': 'Language',
  'common.loading': 'Loading…',
  'common.retry': 'Retry',
  'common.cancel': 'Cancel',
  'common.save': 'Save',
  'common.search': 'Search',
  'common.confirm': 'Confirm',
  'common.back': 'Back',
  'common.none': 'Nothing here yet',
  'common.more': 'Load more',
  'common.required': '{field} is required',
  'common.signOut': 'Sign out',
  'common.signedInAs': 'Signed in as {name}',
  'common.home': 'Home',
  'error.network': 'Network problem: check the connection and try again',
  'error.UNAUTHENTICATED': 'Your session has ended; sign in again',
  'error.FORBIDDEN': 'You may not do this',
  'error.NOT_FOUND': 'Not found',
  'error.BAD_USER_INPUT': 'Check the input',
  'error.INSUFFICIENT_FUNDS': 'Not enough points',
  'error.CAP_EXCEEDED': 'Over the rule\'s cap',
  'error.OUT_OF_STOCK': 'Out of stock',
  'error.LIMIT_EXCEEDED': 'Over the limit',
  'error.IDEMPOTENCY_CONFLICT': 'That request key was already used for something else',
  'error.INVALID_STATE': 'Not possible in the current state',
  'error.RATE_LIMITED': 'Too many requests; try again shortly',
  'error.UNAVAILABLE': 'The service is briefly unavailable; try again',
  'error.INTERNAL': 'Internal error',

  // — sign-in —
  'signIn.title': 'Staff sign-in',
  'signIn.username': 'Username',
  'signIn.password': 'Password',
  'signIn.submit': 'Sign in',
  'signIn.submitting': 'Signing in…',
  'signIn.expired': 'Your session expired; sign in again',
  'signIn.ended': 'Your session has ended; sign in again',
  'signIn.signedOut': 'You have signed out',
  'signIn.wrongRole.console': 'This account is not a branch admin; use the merchant counter',
  'signIn.wrongRole.counter': 'This account is not merchant staff; use the branch console',
  'signIn.toCounter': 'Merchant staff? Go to the counter',
  'signIn.toConsole': 'Branch admin? Go to the console',

  // — console —
  'console.title': 'Branch console',
  'console.skipToContent': 'Skip to content',
  'console.menu': 'Main menu',
  'console.breadcrumbs': 'You are here',
  'console.menu.dashboard': 'Dashboard',

  // — counter —
  'counter.title': 'Merchant counter',

  // — board —
  'board.title': 'Notice board',
};
