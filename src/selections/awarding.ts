// The awarding round (评选发放): pays the winners of every selection whose notice period has ended with
// no open objection, each winner exactly once, as an ordinary award under the selection's rule with the
// idempotency key selection:<id>:<candidate>. Safe with any number of service processes and after a
// crash at any point: each step is one database transaction that acts only from the row state it
// finds under a row lock (sql/begin_selection_awarding.sql, award_selection_candidate.sql,
// finish_selection_awarding.sql), and a winner's award and its AWARDED mark commit together.
// The clock is the bank's (injectable): a period ends by the service's clock, as it was computed.
import type { Bank } from '../bank.js';
import type { LineLog } from '../logger.js';
import { runEvery } from '../ledger/background.js';
import { awardingSubject } from './selections.js';

/** Selections taken per round trip of the due list; a round walks every page. */
export const awardingPageRows = 100;

export interface AwardingRound { selections: number; awarded: number; refused: number }

/** Hooks for tests: called after each winner's award has committed (a crash test stops the process there). */
export interface AwardingHooks { afterCandidate?: (candidateId: string) => Promise<void> | void }

/**
 * One round at the instant now: every due selection is begun, its winners paid, and finished when none
 * is left. headId limits the round to one head bank (tests, which share a database); null: every bank.
 */
export async function awardDueSelections(bank: Bank, now: Date = bank.clock(), hooks: AwardingHooks = {}, headId: string | null = null): Promise<AwardingRound> {
  const round: AwardingRound = { selections: 0, awarded: 0, refused: 0 };
  let after = { endsAt: new Date(0), headId: '0', id: '0' };
  for (;;) {
    const { rows } = await bank.pool.query({
      name: 'cb_list_due_selections',
      text: `SELECT s.head_id, s.id, s.period_ends_at FROM selections s
              WHERE s.status IN ('PUBLISHED', 'AWARDING') AND s.period_ends_at <= $1 AND (s.period_ends_at, s.head_id, s.id) > ($2, $3, $4) AND ($6::bigint IS NULL OR s.head_id = $6)
                AND NOT EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = s.head_id AND o.selection_id = s.id AND o.status = 'OPEN')
              ORDER BY s.period_ends_at, s.head_id, s.id LIMIT $5`,
      values: [now, after.endsAt, after.headId, after.id, awardingPageRows, headId],
    });
    for (const row of rows) {
      const head = String(row.head_id);
      const id = String(row.id);
      const { rows: [begun] } = await bank.pool.query('SELECT cb_begin_selection_awarding($1, $2, $3, $4) AS ok', [head, id, awardingSubject, now]);
      if (!begun.ok) continue;
      round.selections++;
      const { rows: candidates } = await bank.pool.query(
        `SELECT id FROM selection_candidates WHERE head_id = $1 AND selection_id = $2 AND status = 'NOMINATED' ORDER BY id`, [head, id]);
      for (const candidate of candidates) {
        const { rows: [paid] } = await bank.pool.query('SELECT cb_award_selection_candidate($1, $2, $3, $4) AS r', [head, candidate.id, awardingSubject, now]);
        if (paid.r.error) round.refused++;
        else if (!paid.r.skipped) round.awarded++;
        await hooks.afterCandidate?.(String(candidate.id));
      }
      await bank.pool.query('SELECT cb_finish_selection_awarding($1, $2, $3, $4)', [head, id, awardingSubject, now]);
    }
    if (rows.length < awardingPageRows) break;
    const last = rows.at(-1);
    after = { endsAt: last.period_ends_at, headId: String(last.head_id), id: String(last.id) };
  }
  return round;
}

/** Runs the awarding round every intervalMs until stopped. */
export function startSelectionAwarder(bank: Bank, intervalMs: number, log: LineLog): () => Promise<void> {
  return runEvery('selections', intervalMs, async () => {
    const round = await awardDueSelections(bank);
    if (round.awarded || round.refused) log(`selections: paid ${round.awarded} winner(s) of ${round.selections} selection(s), ${round.refused} refused`);
  }, log);
}
