// Which events a subscription hears: the types it names (from the feed's catalogue, src/events/feed.ts)
// and its scope. An admin's subscription hears events whose branch path lies in its subtree; a
// merchant's hears events whose data names the merchant (a voucher at its shop: `merchantId`,
// `merchant: {id}` or an account owner of type MERCHANT, searched a few levels deep) and transactions
// that post to one of its accounts (a redemption fulfilled, a disbursement to it: `postings[].accountId`).
import { badInput } from '../errors.js';
import { eventTypes, type BankEvent } from '../events/feed.js';

/** Types a subscription may name: the whole catalogue is ten. */
export const subscriptionTypesMax = 64;
/** How deep an event's data is searched for its merchant (a transaction's postings → account → owner is 3). */
const merchantSearchDepth = 4;

export function checkEventTypes(raw: unknown, field = 'eventTypes'): string[] {
  if (!Array.isArray(raw) || raw.length > subscriptionTypesMax) throw badInput(field, `must be a list of at most ${subscriptionTypesMax} event types (empty: every type)`);
  const known = new Set<string>(eventTypes);
  for (const type of raw) {
    if (typeof type !== 'string' || !known.has(type)) {
      throw badInput(field, `"${String(type).slice(0, 60)}" is not an event type; the types are ${eventTypes.join(', ')}`);
    }
  }
  return [...new Set(raw as string[])].sort();
}

function names(value: unknown, merchantId: string, depth: number): boolean {
  if (value === null || typeof value !== 'object' || depth < 0) return false;
  if (Array.isArray(value)) return value.some((v) => names(v, merchantId, depth - 1));
  const o = value as Record<string, unknown>;
  if (o.merchantId != null && String(o.merchantId) === merchantId) return true;
  if (o.merchant != null && (typeof o.merchant === 'object' ? String((o.merchant as { id?: unknown }).id) === merchantId : String(o.merchant) === merchantId)) return true;
  const ownerType = o.ownerType ?? o.owner_type;
  const ownerId = o.ownerId ?? o.owner_id;
  if (ownerType === 'MERCHANT' && ownerId != null && String(ownerId) === merchantId) return true;
  return Object.values(o).some((v) => typeof v === 'object' && names(v, merchantId, depth - 1));
}

function postsTo(data: unknown, accountIds: ReadonlySet<string>): boolean {
  const postings = (data as { postings?: unknown } | null)?.postings;
  return Array.isArray(postings) && postings.some((p) => accountIds.has(String((p as { accountId?: unknown })?.accountId)));
}

/** Whether an event concerns a merchant whose accounts are accountIds (a merchant subscription hears only these). */
export function concernsMerchant(event: BankEvent, merchantId: string, accountIds: ReadonlySet<string>): boolean {
  return postsTo(event.data, accountIds) || names(event.data, merchantId, merchantSearchDepth);
}
