// Showing amounts and dates. Amounts stay the API's exact decimal strings: grouped by thousands as
// text, never through a float. Dates are shown in the bank's time zone (Asia/Shanghai by default).
import { language } from './i18n.js';

export const bankTimeZone = 'Asia/Shanghai';

/** "1234567.50" → "1,234,567.50"; "-12.00" → "-12.00". Text in, text out. */
export function formatAmount(amount: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return '—';
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(amount);
  if (!match) return amount;
  const [, sign, whole, fraction = ''] = match;
  return `${sign}${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction}`;
}

function formatter(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(language() === 'zh-CN' ? 'zh-CN' : 'en-GB', { timeZone: bankTimeZone, hour12: false, ...options });
}

/** An instant as date and time in the bank's zone: 2026-12-02 14:05. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return formatter({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(date);
}

/** An instant's time of day in the bank's zone: 10:42. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return formatter({ hour: '2-digit', minute: '2-digit' }).format(date);
}

/** An instant's date in the bank's zone: 2026-12-02. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return formatter({ year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

/** Today's date in the bank's zone as YYYY-MM-DD, and the current year and month there. */
export function bankToday(): { date: string; year: number; month: number } {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: bankTimeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, year: Number(parts.year), month: Number(parts.month) };
}
