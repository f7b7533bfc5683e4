// The sealer: brings final transactions into their head bank's digest chain (invariant 8), off the
// write path. Writers only append to journal_seal_queue (a trigger, migration 020); every service
// process runs a sealer, and each block is sealed once and in order because a sealer first locks the
// chain's head row (journal_chains, FOR UPDATE SKIP LOCKED: a busy chain is left to the process
// sealing it), then takes the queue in order, links each transaction to the previous digest, and
// commits the seals, the new chain head and the queue deletion together.
import type { Bank } from '../bank.js';
import { inClientTransaction } from '../db/clientTransaction.js';
import { assertInvariant } from '../errors.js';
import { runEvery } from './background.js';
import { chainDigest, genesisDigest } from './chain.js';
import { readChainEntries } from './sql/chainEntries.js';

/** Transactions sealed per block: keeps each sealing transaction (and its row locks) short. */
export const sealBlockMax = 2_000;
/** Head banks looked at per round: bounds one round's work; the rest wait for the next round. */
const headBanksPerRoundMax = 1_000;

export interface SealedBlock { headId: string; fromSequence: string; toSequence: string; digest: string }

/** Seals at most one block of one head bank's queue; null when another process holds the chain or nothing is queued. */
export async function sealBlock(bank: Bank, headId: string): Promise<SealedBlock | null> {
  // The chain's head row exists before it is locked (a first block of a head bank creates it).
  await bank.pool.query({
    name: 'cb_chain_open',
    text: `INSERT INTO journal_chains (head_id, sequence, digest, sealed_at) VALUES ($1, 0, $2, now()) ON CONFLICT DO NOTHING`,
    values: [headId, genesisDigest],
  });
  // Nothing to seal (a busy chain, an empty queue) commits a transaction that wrote nothing.
  return inClientTransaction(bank.pool, async (client) => {
    const chain = await client.query({
      name: 'cb_chain_lock',
      text: `SELECT sequence::text AS sequence, digest FROM journal_chains WHERE head_id = $1 FOR UPDATE SKIP LOCKED`,
      values: [headId],
    });
    if (!chain.rowCount) return null;
    // ORDER BY q.id, the column: a bare "id" named the output column id::text, so the queue was taken in
    // text order ('10000' before '9999') and every block read and sorted the whole queue (15 ms a block
    // with 22,500 queued, against 0.5 ms in the primary key's order).
    const queued = await client.query({
      name: 'cb_chain_queued',
      text: `SELECT q.id::text AS id, q.transaction_id::text AS "transactionId" FROM journal_seal_queue q WHERE q.head_id = $1 ORDER BY q.id LIMIT $2`,
      values: [headId, sealBlockMax],
    });
    if (!queued.rowCount) return null;
    const entries = await readChainEntries(client, headId, queued.rows.map((r) => r.transactionId));
    assertInvariant(entries.length === queued.rowCount, `head bank ${headId}: a queued transaction cannot be read`);
    let sequence = BigInt(chain.rows[0].sequence);
    let digest: Buffer = chain.rows[0].digest;
    const fromSequence = String(sequence + 1n);
    const sequences: string[] = [];
    const digests: Buffer[] = [];
    for (const entry of entries) {
      // Only a final transaction is sealed: a PENDING one may still change status.
      assertInvariant(entry.status !== 'PENDING', `transaction ${entry.id} was queued for sealing while PENDING`);
      sequence += 1n;
      digest = chainDigest(digest, String(sequence), entry);
      sequences.push(String(sequence));
      digests.push(digest);
    }
    await client.query({
      name: 'cb_chain_seal',
      text: `WITH sealed AS (
               INSERT INTO journal_seals (head_id, sequence, transaction_id, digest, sealed_at)
               SELECT $1, s.sequence, s.transaction_id, s.digest, now()
                 FROM unnest($2::bigint[], $3::bigint[], $4::bytea[]) s (sequence, transaction_id, digest)),
             dequeued AS (DELETE FROM journal_seal_queue WHERE head_id = $1 AND id = ANY($5::bigint[]))
             UPDATE journal_chains SET sequence = $6, digest = $7, sealed_at = now() WHERE head_id = $1`,
      values: [headId, sequences, entries.map((e) => e.id), digests, queued.rows.map((r) => r.id), String(sequence), digest],
    });
    return { headId, fromSequence, toSequence: String(sequence), digest: digest.toString('hex') };
  });
}

/** Seals every queued transaction there is (block by block); returns how many were sealed. */
export async function sealJournal(bank: Bank, headId?: string): Promise<number> {
  let sealed = 0;
  for (;;) {
    const heads: string[] = headId ? [headId] : (await bank.pool.query({
      name: 'cb_chain_queued_heads',
      text: `SELECT DISTINCT head_id::text AS head FROM journal_seal_queue LIMIT $1`,
      values: [headBanksPerRoundMax],
    })).rows.map((r) => r.head);
    let full = false;
    for (const head of heads) {
      const block = await sealBlock(bank, head);
      if (!block) continue;
      const count = Number(BigInt(block.toSequence) - BigInt(block.fromSequence) + 1n);
      sealed += count;
      full ||= count === sealBlockMax;
    }
    if (!full) return sealed;
  }
}

/** Runs the sealer every intervalMs until stopped. */
export function startSealer(bank: Bank, intervalMs: number, log: (line: string) => void): () => Promise<void> {
  return runEvery('sealer', intervalMs, () => sealJournal(bank), log);
}
