// The journal as the digest chain sees it: transactions with their postings, every field as exact
// text (timestamps as whole microseconds since 1970, numbers as PostgreSQL prints them), read by the
// sealer and the verifier alike so that both hash the very same bytes.
import type pg from 'pg';
import type { TransactionRecord } from '../transactions.js';

export interface ChainPosting { line: number; accountId: string; asset: string; scale: number; amount: string; balanceAfter: string | null }

/** A transaction as sealed: the record's identifying fields, and every instant and number as exact text. */
export interface ChainEntry extends Pick<TransactionRecord,
  'id' | 'headId' | 'kind' | 'status' | 'branchId' | 'memberId' | 'ruleId' | 'principalSub' | 'principalRole' | 'memo' | 'reason' | 'reversesId' | 'forced'> {
  occurredAtUs: string;
  recordedAtUs: string;
  /** jsonb as PostgreSQL prints it (keys in its fixed order). */
  metadata: string | null;
  postings: ChainPosting[];
}

const entryColumns = `
  t.head_id::text AS "headId", t.id::text AS id, t.kind, t.status, t.branch_id::text AS "branchId",
  t.member_id::text AS "memberId", t.rule_id::text AS "ruleId", t.principal_sub AS "principalSub",
  t.principal_role AS "principalRole",
  (extract(epoch FROM t.occurred_at) * 1000000)::bigint::text AS "occurredAtUs",
  (extract(epoch FROM t.recorded_at) * 1000000)::bigint::text AS "recordedAtUs",
  t.memo, t.metadata::text AS metadata, t.reason, t.reverses_id::text AS "reversesId", t.forced,
  -- every posting of the transaction, whatever partition it sits in (a row slipped into another
  -- month must show up too), in line order
  coalesce((SELECT json_agg(json_build_object('line', p.line, 'accountId', p.account_id::text, 'asset', p.asset_code,
                    'scale', p.asset_scale, 'amount', p.amount::text, 'balanceAfter', p.balance_after::text) ORDER BY p.line, p.account_id)
              FROM postings p WHERE p.head_id = t.head_id AND p.transaction_id = t.id), '[]'::json) AS postings`;

/** The given transactions of one head bank, in the order of ids (missing ones are left out). */
export async function readChainEntries(client: pg.ClientBase | pg.Pool, headId: string, ids: string[]): Promise<ChainEntry[]> {
  const { rows } = await client.query({
    name: 'cb_chain_entries',
    text: `SELECT ${entryColumns} FROM unnest($2::bigint[]) WITH ORDINALITY x (id, ord)
             JOIN transactions t ON t.head_id = $1 AND t.id = x.id ORDER BY x.ord`,
    values: [headId, ids],
  });
  return rows;
}

export interface SealRow { sequence: string; digest: Buffer; transactionId: string }

/** A page of a head bank's seals after sequence `after`, in chain order. */
export async function readSealPage(pool: pg.Pool, headId: string, after: string, limit: number): Promise<SealRow[]> {
  const { rows } = await pool.query({
    name: 'cb_chain_seal_page',
    text: `SELECT s.sequence::text AS sequence, s.digest, s.transaction_id::text AS "transactionId"
             FROM journal_seals s WHERE s.head_id = $1 AND s.sequence > $2 ORDER BY s.sequence LIMIT $3`,
    values: [headId, after, limit],
  });
  return rows;
}
