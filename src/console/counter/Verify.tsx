// 核销: the counter's main screen. One thing at a time: type (or scan) a code → see what the voucher
// is for → fulfil with one tap → a full-screen outcome → the next voucher. Fulfilling carries one
// idempotency key per voucher shown, reused if the cashier taps again after a network failure, so a
// double tap or a retry posts once (the API replays the first answer).
import { useRef, useState } from 'preact/hooks';
import { gql, newKey, ApiError } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { formatAmount, formatDateTime } from '../shared/format.js';
import { Alert, errorText, useAction } from '../shared/ui.js';
import type { Session } from '../shared/session.js';
import { fulfillMutation, redemptionQuery, type Voucher } from './queries.js';
import { OutcomeScreen, type Outcome } from './Outcome.js';
import { Scanner } from './Scanner.js';
import { RefundSheet } from './RefundSheet.js';
import { codeFromScan, displayCode } from './voucherCode.js';

type Screen =
  | { kind: 'enter' }
  | { kind: 'scan' }
  | { kind: 'voucher'; voucher: Voucher; key: string }
  | { kind: 'refund'; voucher: Voucher }
  | { kind: 'outcome'; outcome: Outcome };

/** What a voucher read from the API means at this till. */
export function outcomeOf(voucher: Voucher, merchantId: string | undefined): Outcome | null {
  if (merchantId && voucher.merchant.id !== merchantId) return { kind: 'refused', code: voucher.code, message: t('counter.outcome.otherShop') };
  if (voucher.status === 'PENDING') return null;
  if (voucher.status === 'FULFILLED') return { kind: 'already', voucher };
  return { kind: 'unusable', voucher };
}

export function Verify({ session }: { session: Session }) {
  const [screen, setScreen] = useState<Screen>({ kind: 'enter' });
  const [code, setCode] = useState('');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const merchantId = session.operator.merchant?.id;

  const restart = () => {
    setCode('');
    setFieldError(null);
    setScreen({ kind: 'enter' });
    setTimeout(() => input.current?.focus(), 0);
  };

  /** A refusal by the API as the cashier should see it: another shop's voucher, or the API's own words. */
  const refusal = (typed: string, error: ApiError): Outcome =>
    ({ kind: 'refused', code: typed, message: error.code === 'FORBIDDEN' ? t('counter.outcome.otherShop') : errorText(error) });

  const lookup = useAction(async (raw: string) => {
    // Only trimmed: the API forgives case, dashes, spaces, O/0 and I/L/1, and says what is wrong otherwise.
    const typed = raw.trim();
    setFieldError(null);
    if (!typed) {
      setFieldError(t('counter.enter.empty'));
      return;
    }
    try {
      const { redemption } = await gql<{ redemption: Voucher | null }>(redemptionQuery, { code: typed });
      if (!redemption) return setScreen({ kind: 'outcome', outcome: { kind: 'notFound', code: typed } });
      const outcome = outcomeOf(redemption, merchantId);
      setScreen(outcome ? { kind: 'outcome', outcome } : { kind: 'voucher', voucher: redemption, key: newKey('counter-fulfil') });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'BAD_USER_INPUT') return setFieldError(errorText(error));
      if (error instanceof ApiError && error.code === 'FORBIDDEN') return setScreen({ kind: 'outcome', outcome: refusal(typed, error) });
      throw error;
    }
  });

  const fulfil = useAction(async (voucher: Voucher, key: string) => {
    try {
      const { fulfillRedemption } = await gql<{ fulfillRedemption: { redemption: Voucher } }>(fulfillMutation, { input: { idempotencyKey: key, code: voucher.code } });
      setScreen({ kind: 'outcome', outcome: { kind: 'success', voucher: fulfillRedemption.redemption } });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === 'FORBIDDEN') return setScreen({ kind: 'outcome', outcome: refusal(voucher.code, error) });
      if (error.code === 'INVALID_STATE') {
        // Fulfilled on another till, expired or cancelled meanwhile: read it again and say which.
        const { redemption } = await gql<{ redemption: Voucher | null }>(redemptionQuery, { code: voucher.code });
        const outcome = redemption ? outcomeOf(redemption, merchantId) : null;
        if (outcome) return setScreen({ kind: 'outcome', outcome });
      }
      throw error;
    }
  });

  if (screen.kind === 'scan') {
    return <Scanner onCancel={restart} onCode={(text) => { const scanned = codeFromScan(text); setCode(scanned); setScreen({ kind: 'enter' }); void lookup.run(scanned); }} />;
  }

  if (screen.kind === 'outcome') {
    const o = screen.outcome;
    return (
      <OutcomeScreen outcome={o} onNext={restart}
        extra={o.kind === 'already' && (
          <button type="button" class="btn btn-link outcome-link" onClick={() => setScreen({ kind: 'refund', voucher: o.voucher })}>{t('counter.refund.open')}</button>
        )} />
    );
  }

  if (screen.kind === 'refund') {
    return <RefundSheet voucher={screen.voucher} onCancel={restart} onDone={(voucher) => setScreen({ kind: 'outcome', outcome: { kind: 'refunded', voucher } })} />;
  }

  if (screen.kind === 'voucher') {
    const v = screen.voucher;
    return (
      <section class="voucher" data-testid="voucher" aria-labelledby="voucher-title">
        <p class="voucher-label">{t('counter.voucher.title')}</p>
        <h2 id="voucher-title" class="voucher-item">{v.item.title}{v.quantity > 1 ? ` × ${v.quantity}` : ''}</h2>
        <p class="voucher-cost">{t('counter.points', { amount: formatAmount(v.cost) })}</p>
        <dl class="voucher-lines">
          <div><dt>{t('counter.voucher.code')}</dt><dd class="mono">{displayCode(v.code)}</dd></div>
          <div><dt>{t('counter.voucher.status')}</dt><dd><span class="tag tag-pending">{t('counter.status.PENDING')}</span></dd></div>
          <div><dt>{t('counter.voucher.expires')}</dt><dd>{formatDateTime(v.expiresAt)}</dd></div>
          <div><dt>{t('counter.voucher.member')}</dt><dd>{v.member?.name ?? t('counter.voucher.memberHidden')}</dd></div>
        </dl>
        {fulfil.error ? <Alert kind="error" testId="fulfil-error">{errorText(fulfil.error)}{(fulfil.error as ApiError).code === 'NETWORK' ? ` ${t('counter.voucher.retry')}` : ''}</Alert> : null}
        <div class="bottom-actions">
          <button type="button" class="btn btn-primary btn-xl btn-block" data-testid="fulfil" disabled={fulfil.busy} aria-busy={fulfil.busy ? 'true' : undefined}
            onClick={() => void fulfil.run(v, screen.key)}>
            {fulfil.busy ? t('counter.voucher.fulfilling') : t('counter.voucher.fulfil')}
          </button>
          <button type="button" class="btn btn-xl btn-block" disabled={fulfil.busy} onClick={restart}>{t('common.back')}</button>
        </div>
      </section>
    );
  }

  return (
    <section class="enter">
      <form class="enter-form" noValidate onSubmit={(e) => { e.preventDefault(); void lookup.run(code); }}>
        <label for="voucher-code" class="enter-label">{t('counter.enter.label')}</label>
        <input id="voucher-code" ref={input} name="code" class="input enter-input" value={code} autoFocus
          autoComplete="off" autoCorrect="off" autoCapitalize="characters" spellcheck={false} inputMode="text" enterKeyHint="search" maxLength={40}
          placeholder={t('counter.enter.placeholder')} aria-invalid={fieldError ? 'true' : undefined} aria-describedby={fieldError ? 'voucher-code-error' : 'voucher-code-hint'}
          onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
        {fieldError
          ? <div class="field-message" id="voucher-code-error" data-testid="code-error">{fieldError}</div>
          : <div class="field-hint" id="voucher-code-hint">{t('counter.enter.hint')}</div>}
        {lookup.error ? <Alert kind="error">{errorText(lookup.error)}</Alert> : null}
        <button type="submit" class="btn btn-primary btn-xl btn-block" data-testid="lookup" disabled={lookup.busy} aria-busy={lookup.busy ? 'true' : undefined}>
          {lookup.busy ? t('counter.enter.looking') : t('counter.enter.submit')}
        </button>
      </form>
      <div class="enter-or"><span>{t('counter.enter.or')}</span></div>
      <button type="button" class="btn btn-xl btn-block btn-scan" data-testid="scan" onClick={() => setScreen({ kind: 'scan' })}>
        <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" class="btn-icon"><path d="M3 8V3h5M16 3h5v5M21 16v5h-5M8 21H3v-5M7 12h10" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" /></svg>
        {t('counter.enter.scan')}
      </button>
    </section>
  );
}
