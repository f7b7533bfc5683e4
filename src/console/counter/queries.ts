// What the counter asks the API, and the shapes it gets back. Only fields a merchant token may read;
// the member is asked for and shown only if the API gives it (it gives merchants null).
export type RedemptionStatus = 'PENDING' | 'FULFILLED' | 'CANCELLED' | 'EXPIRED' | 'REFUNDED';

export interface Voucher {
  code: string;
  status: RedemptionStatus;
  quantity: number;
  cost: string;
  expiresAt: string;
  createdAt: string;
  fulfilledAt: string | null;
  refundedAt: string | null;
  releasedAt: string | null;
  restocked: boolean;
  item: { id: string; code: string; title: string; cost: string };
  merchant: { id: string; name: string };
  member: { name: string } | null;
}

export interface Item {
  id: string;
  code: string;
  title: string;
  category: string;
  cost: string;
  stockLeft: number | null;
  activeFrom: string | null;
  activeTo: string | null;
  activeNow: boolean;
  voucherValidDays: number;
}

const voucherFields = `code status quantity cost expiresAt createdAt fulfilledAt refundedAt releasedAt restocked
  item { id code title cost } merchant { id name } member { name }`;

export const redemptionQuery = `query Voucher($code: String!) { redemption(code: $code) { ${voucherFields} } }`;

export const fulfillMutation = `mutation Fulfil($input: VoucherInput!) {
  fulfillRedemption(input: $input) { replayed redemption { ${voucherFields} } }
}`;

export const refundMutation = `mutation Refund($input: RefundRedemptionInput!) {
  refundRedemption(input: $input) { replayed redemption { ${voucherFields} } }
}`;

export const redemptionsQuery = `query Fulfilled($status: RedemptionStatus, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  redemptions(status: $status, from: $from, to: $to, first: $first, after: $after) {
    edges { node { ${voucherFields} } } pageInfo { hasNextPage endCursor }
  }
}`;

const itemFields = 'id code title category cost stockLeft activeFrom activeTo activeNow voucherValidDays';

export const catalogQuery = `query Catalog($after: String) {
  catalog(includeInactive: true, first: 100, after: $after) { edges { node { ${itemFields} } } pageInfo { hasNextPage endCursor } }
}`;

export const upsertItemMutation = `mutation Upsert($input: UpsertCatalogItemInput!) {
  upsertCatalogItem(input: $input) { item { ${itemFields} } }
}`;

export interface Connection<T> { edges: { node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
