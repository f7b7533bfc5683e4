// Selections (评选) in the fault harness: a few selections of the chaos bank are put on notice at set-up
// with periods that end during the run, so the services' awarding rounds pay their winners while
// processes are killed and PostgreSQL restarts; one is held by an objection that the harness resolves
// through the API mid-run. Afterwards every selection must be AWARDED, every winner paid exactly once
// (one transaction, one key selection:<id>:<candidate>), and no struck candidate paid.
import type { Knex } from 'knex';
import type { Bank } from '../bank.js';
import { awardingSubject } from '../selections/selections.js';

/** Selections put on notice, and the winners of each (members of the chaos bank). */
export const chaosSelections = 4;
export const chaosWinnersPerSelection = 8;
/** The rule that pays them (1.00 POINTS a winner, no cap). */
export const chaosSelectionRule = 'chaos.selection';

export interface ChaosSelectionPlan { held: { objectionId: string; resolveAt: number } }

/**
 * Inserts the rule and the selections (as publishSelection leaves them, with short periods a real
 * bank never has: periods end between 10% and 50% of the run), and one open objection on the first.
 */
export async function seedChaosSelections(knex: Knex, headId: string, branchId: string, memberIds: string[], start: number, runMs: number): Promise<ChaosSelectionPlan> {
  await knex('rules').insert({
    head_id: headId, branch_id: headId, code: chaosSelectionRule, version: 1, name: 'Chaos selection', category: 'selection',
    outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }]), caps: '[]', requires_approval: false,
    allowed_clients: [], created_by: 'chaos',
  });
  const at = new Date(start);
  let objectionId = '';
  for (let i = 0; i < chaosSelections; i++) {
    const [s] = await knex('selections').insert({
      head_id: headId, branch_id: branchId, title: `Chaos selection ${i + 1}`, quota: chaosWinnersPerSelection, rule_code: chaosSelectionRule,
      notice_days: 1, status: 'PUBLISHED', opened_by: 'chaos', opened_at: at, published_at: at,
      period_ends_at: new Date(start + runMs * (0.1 + (0.4 * i) / chaosSelections)),
    }).returning('id');
    const winners = Array.from({ length: Math.min(chaosWinnersPerSelection, memberIds.length) }, (_, j) => memberIds[(i * 3 + j) % memberIds.length]!);
    const candidates = await knex('selection_candidates').insert(winners.map((m) => ({
      head_id: headId, selection_id: s.id, kind: 'MEMBER', member_id: m, reason: 'chaos', status: 'NOMINATED', nominated_by: 'chaos', nominated_at: at,
    }))).returning('id');
    if (i === 0) {
      const [o] = await knex('selection_objections').insert({
        head_id: headId, selection_id: s.id, candidate_id: candidates[0].id, member_id: winners[1] ?? winners[0], filed_by: 'chaos', filed_at: at, reason: 'chaos', status: 'OPEN',
      }).returning('id');
      objectionId = String(o.id);
    }
  }
  return { held: { objectionId, resolveAt: start + runMs * 0.3 } };
}

/** What must hold once the services are gone: every selection awarded, each winner paid once, no struck candidate paid. */
export async function checkSelections(bank: Bank, headId: string): Promise<{ violations: string[]; figures: string }> {
  const violations: string[] = [];
  const { rows: selections } = await bank.knex.raw(`SELECT id::text AS id, status FROM selections WHERE head_id = ? AND status <> 'AWARDED'`, [headId]);
  violations.push(...selections.map((s: any) => `selection ${s.id} is ${s.status} after the run; its period ended mid-run`));
  const { rows: candidates } = await bank.knex.raw(`
    SELECT c.id::text AS id, c.selection_id::text AS selection, c.status, c.transaction_id::text AS transaction_id,
           (SELECT count(*) FROM transactions t WHERE t.head_id = c.head_id AND t.metadata->>'candidateId' = c.id::text)::int AS transactions,
           (SELECT count(*) FROM idempotency_keys k WHERE k.head_id = c.head_id AND k.subject = ? AND k.key = 'selection:' || c.selection_id || ':' || c.id)::int AS keys
      FROM selection_candidates c WHERE c.head_id = ?`, [awardingSubject, headId]);
  for (const c of candidates) {
    const expected = c.status === 'STRUCK' ? 0 : 1;
    if (c.status === 'NOMINATED') violations.push(`candidate ${c.id} of selection ${c.selection} was never paid`);
    if (c.transactions !== expected || c.keys !== expected) {
      violations.push(`candidate ${c.id} of selection ${c.selection} (${c.status}) has ${c.transactions} award transactions and ${c.keys} keys; expected ${expected}`);
    }
  }
  const { rows: [figures] } = await bank.knex.raw(`SELECT (SELECT count(*) FROM selections WHERE head_id = :head AND status = 'AWARDED')::int AS awarded,
      (SELECT count(*) FROM selection_candidates WHERE head_id = :head AND status = 'AWARDED')::int AS paid,
      (SELECT count(*) FROM selection_history WHERE head_id = :head AND act = 'AWARDED_CANDIDATE')::int AS acts`, { head: headId });
  return { violations, figures: `${figures.awarded} of ${chaosSelections} selections awarded, ${figures.paid} winners paid (${figures.acts} payments recorded)` };
}
