// Refunding a fulfilled voucher (refundRedemption): the confirmation step before the points go back
// to the member by a reversal. One idempotency key per opening of this screen, so a double tap or a
// retry after a network failure refunds once.
import { useState } from 'preact/hooks';
import { gql, newKey } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { formatAmount, formatDateTime } from '../shared/format.js';
import { Alert, errorText, useAction } from '../shared/ui.js';
import { refundMutation, type Voucher } from './queries.js';
import { displayCode } from './voucherCode.js';

/** The API keeps a reason up to this long (src/redemption/vouchers.ts refundReasonLengthMax). */
const reasonLengthMax = 500;

export function RefundSheet({ voucher, onCancel, onDone }: { voucher: Voucher; onCancel: () => void; onDone: (voucher: Voucher) => void }) {
  const [key] = useState(() => newKey('counter-refund'));
  const [reason, setReason] = useState('');
  const [restock, setRestock] = useState(true);
  const refund = useAction(async () => {
    const { refundRedemption } = await gql<{ refundRedemption: { redemption: Voucher } }>(refundMutation, {
      input: { idempotencyKey: key, code: voucher.code, restock, reason: reason.trim() || null },
    });
    onDone(refundRedemption.redemption);
  });
  return (
    <section class="sheet" data-testid="refund" aria-labelledby="refund-title">
      <h2 id="refund-title">{t('counter.refund.title')}</h2>
      <Alert kind="warning">{t('counter.refund.warning', { amount: formatAmount(voucher.cost) })}</Alert>
      <dl class="voucher-lines">
        <div><dt>{t('counter.voucher.item')}</dt><dd>{voucher.item.title}{voucher.quantity > 1 ? ` × ${voucher.quantity}` : ''}</dd></div>
        <div><dt>{t('counter.voucher.code')}</dt><dd class="mono">{displayCode(voucher.code)}</dd></div>
        <div><dt>{t('counter.voucher.fulfilledAt')}</dt><dd>{formatDateTime(voucher.fulfilledAt)}</dd></div>
      </dl>
      <div class="field">
        <label for="refund-reason">{t('counter.refund.reason')}</label>
        <input id="refund-reason" class="input input-lg" value={reason} maxLength={reasonLengthMax} placeholder={t('counter.refund.reasonHint')}
          onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      </div>
      <label class="check">
        <input type="checkbox" checked={restock} onChange={(e) => setRestock((e.target as HTMLInputElement).checked)} />
        <span>{t('counter.refund.restock')}</span>
      </label>
      {refund.error ? <Alert kind="error">{errorText(refund.error)}</Alert> : null}
      <div class="bottom-actions">
        <button type="button" class="btn btn-danger-solid btn-xl btn-block" data-testid="refund-confirm" disabled={refund.busy} onClick={() => void refund.run()}>
          {refund.busy ? t('counter.refund.busy') : t('counter.refund.confirm', { amount: formatAmount(voucher.cost) })}
        </button>
        <button type="button" class="btn btn-xl btn-block" disabled={refund.busy} onClick={onCancel}>{t('common.cancel')}</button>
      </div>
    </section>
  );
}
