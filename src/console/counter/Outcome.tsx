// The full-screen outcome of a voucher at the till: success is green with a check; "already
// fulfilled" is amber with a warning sign and the time it was fulfilled; a refusal is red with a
// cross. Each says why in words, so colour is never the only signal (and a colour-blind cashier or a
// glance from across the counter still cannot mistake one for another).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { t } from '../shared/i18n.js';
import { formatAmount, formatDateTime, formatTime } from '../shared/format.js';
import type { Voucher } from './queries.js';
import { displayCode } from './voucherCode.js';

/** What happened to the code the cashier typed or scanned. */
export type Outcome =
  | { kind: 'success'; voucher: Voucher }
  | { kind: 'already'; voucher: Voucher }
  | { kind: 'unusable'; voucher: Voucher }
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'notFound'; code: string }
  | { kind: 'refunded'; voucher: Voucher };

type Tone = 'success' | 'warning' | 'danger' | 'info';
const tones: Record<Outcome['kind'], Tone> = { success: 'success', already: 'warning', unusable: 'danger', refused: 'danger', notFound: 'danger', refunded: 'info' };

function Icon({ tone }: { tone: Tone }) {
  // Drawn, not a font glyph: no tofu on a phone without the symbol in its fonts.
  const path = tone === 'success' ? 'M14 27 L22 35 L38 17'
    : tone === 'warning' ? 'M26 13 L26 30 M26 37 L26 39'
    : tone === 'info' ? 'M16 26 L36 26 M28 18 L36 26 L28 34'
    : 'M17 17 L35 35 M35 17 L17 35';
  return (
    <svg class="outcome-icon" viewBox="0 0 52 52" width="96" height="96" aria-hidden="true">
      <circle cx="26" cy="26" r="24" fill="none" stroke="currentColor" stroke-width="3" />
      <path d={path} fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

function unusableReason(v: Voucher): { title: string; reason: string } {
  switch (v.status) {
    case 'EXPIRED': return { title: t('counter.outcome.expired'), reason: t('counter.outcome.expiredReason', { time: formatDateTime(v.expiresAt) }) };
    case 'CANCELLED': return { title: t('counter.outcome.cancelled'), reason: t('counter.outcome.cancelledReason', { time: formatDateTime(v.releasedAt) }) };
    case 'REFUNDED': return { title: t('counter.outcome.refundedBefore'), reason: t('counter.outcome.refundedBeforeReason', { time: formatDateTime(v.refundedAt) }) };
    default: return { title: t('counter.outcome.notUsable'), reason: v.status };
  }
}

function VoucherLines({ voucher }: { voucher: Voucher }) {
  return (
    <dl class="outcome-lines">
      <div><dt>{t('counter.voucher.item')}</dt><dd>{voucher.item.title}{voucher.quantity > 1 ? ` × ${voucher.quantity}` : ''}</dd></div>
      <div><dt>{t('counter.voucher.cost')}</dt><dd>{t('counter.points', { amount: formatAmount(voucher.cost) })}</dd></div>
      <div><dt>{t('counter.voucher.code')}</dt><dd class="mono">{displayCode(voucher.code)}</dd></div>
    </dl>
  );
}

export function OutcomeScreen({ outcome, onNext, extra, nextLabel }: { outcome: Outcome; onNext: () => void; extra?: ComponentChildren; nextLabel?: string }) {
  const tone = tones[outcome.kind];
  const next = useRef<HTMLButtonElement>(null);
  // The next voucher is one tap (or Enter) away: focus the button the cashier needs.
  useEffect(() => next.current?.focus(), []);
  let title: string;
  let reason: string;
  switch (outcome.kind) {
    case 'success':
      title = t('counter.outcome.success');
      reason = t('counter.outcome.successReason', { time: formatTime(outcome.voucher.fulfilledAt) });
      break;
    case 'already':
      title = t('counter.outcome.already', { time: formatTime(outcome.voucher.fulfilledAt) });
      reason = t('counter.outcome.alreadyReason', { time: formatDateTime(outcome.voucher.fulfilledAt) });
      break;
    case 'unusable':
      ({ title, reason } = unusableReason(outcome.voucher));
      break;
    case 'refused':
      title = t('counter.outcome.refused');
      reason = outcome.message;
      break;
    case 'notFound':
      title = t('counter.outcome.notFound');
      reason = t('counter.outcome.notFoundReason', { code: outcome.code });
      break;
    case 'refunded':
      title = t('counter.outcome.refunded');
      reason = t('counter.outcome.refundedReason', { amount: formatAmount(outcome.voucher.cost) });
      break;
  }
  const voucher = 'voucher' in outcome ? outcome.voucher : null;
  return (
    <section class={`outcome outcome-${tone}`} data-testid="outcome" data-outcome={outcome.kind}
      role={tone === 'danger' || tone === 'warning' ? 'alert' : 'status'} aria-live="assertive">
      <div class="outcome-body">
        <Icon tone={tone} />
        <h2 class="outcome-title" data-testid="outcome-title">{title}</h2>
        <p class="outcome-reason" data-testid="outcome-reason">{reason}</p>
        {voucher && <VoucherLines voucher={voucher} />}
      </div>
      <div class="outcome-actions">
        <button type="button" ref={next} class="btn btn-xl outcome-next" onClick={onNext}>{nextLabel ?? t('counter.next')}</button>
        {extra}
      </div>
    </section>
  );
}
