// Backfill of the journal chain (migration 020): queues every transaction already in a final status,
// in id order, so that the sealer brings the existing history into the chain. Separate from the
// schema change, as every backfill is.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    INSERT INTO journal_seal_queue (head_id, transaction_id)
    SELECT t.head_id, t.id FROM transactions t
     WHERE t.status <> 'PENDING'
       AND NOT EXISTS (SELECT 1 FROM journal_seals s WHERE s.head_id = t.head_id AND s.transaction_id = t.id)
       AND NOT EXISTS (SELECT 1 FROM journal_seal_queue q WHERE q.head_id = t.head_id AND q.transaction_id = t.id)
     ORDER BY t.head_id, t.id`);
}

export async function down(): Promise<void> {
  // Nothing to undo: migration 020's down drops the queue.
}
