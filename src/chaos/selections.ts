// Selections (评选) in the fault harness, seeded: besides those the workload opens and publishes through
// the API (selectionsWorkload.ts, ending at the bank's midnight), a few selections of the chaos bank are
// put on notice at set-up, as publishSelection leaves them (with their history), with periods that end
// at several moments of the run (10% to 50% in, by the services' clock), so the services' awarding
// rounds pay their winners at more than one moment while processes are killed and PostgreSQL restarts;
// one is held by an objection that the harness resolves through the API mid-run. selectionsCheck.ts
// checks them with the rest: each winner paid exactly once, none due left unpaid.
import type { Knex } from 'knex';

/** Selections put on notice, and the winners of each (members of the chaos bank). */
export const chaosSelections = 4;
export const chaosWinnersPerSelection = 8;
/** The rule that pays them (1.00 POINTS a winner, no cap). */
export const chaosSelectionRule = 'chaos.selection';

export interface ChaosSelectionPlan { ids: string[]; held: { objectionId: string; resolveAt: number } }

/**
 * Inserts the rule and the selections (as publishSelection leaves them, with short periods a real
 * bank never has: periods end between 10% and 50% of the run), and one open objection on the first.
 * start and resolveAt are instants of the services' clock.
 */
export async function seedChaosSelections(knex: Knex, headId: string, branchId: string, memberIds: string[], start: number, runMs: number): Promise<ChaosSelectionPlan> {
  await knex('rules').insert({
    head_id: headId, branch_id: headId, code: chaosSelectionRule, version: 1, name: 'Chaos selection', category: 'selection',
    outputs: JSON.stringify([{ asset: 'POINTS', amountPerUnit: '1.00', direction: 'CREDIT' }]), caps: '[]', requires_approval: false,
    allowed_clients: [], created_by: 'chaos',
  });
  const at = new Date(start);
  let objectionId = '';
  const ids: string[] = [];
  const history = (selection: string, act: string, details: object) => ({ head_id: headId, selection_id: selection, act, actor: 'chaos', at, details: JSON.stringify(details) });
  for (let i = 0; i < chaosSelections; i++) {
    const [s] = await knex('selections').insert({
      head_id: headId, branch_id: branchId, title: `Chaos selection ${i + 1}`, quota: chaosWinnersPerSelection, rule_code: chaosSelectionRule,
      notice_days: 1, status: 'PUBLISHED', opened_by: 'chaos', opened_at: at, published_at: at,
      period_ends_at: new Date(start + runMs * (0.1 + (0.4 * i) / chaosSelections)),
    }).returning('id');
    ids.push(String(s.id));
    const winners = Array.from({ length: Math.min(chaosWinnersPerSelection, memberIds.length) }, (_, j) => memberIds[(i * 3 + j) % memberIds.length]!);
    const candidates = await knex('selection_candidates').insert(winners.map((m) => ({
      head_id: headId, selection_id: s.id, kind: 'MEMBER', member_id: m, reason: 'chaos', status: 'NOMINATED', nominated_by: 'chaos', nominated_at: at,
    }))).returning('id');
    await knex('selection_history').insert([
      history(s.id, 'OPENED', { seeded: true }),
      ...candidates.map((c: any) => history(s.id, 'NOMINATED', { candidateId: String(c.id) })),
      history(s.id, 'PUBLISHED', { seeded: true }),
    ]);
    if (i === 0) {
      const [o] = await knex('selection_objections').insert({
        head_id: headId, selection_id: s.id, candidate_id: candidates[0].id, member_id: winners[1] ?? winners[0], filed_by: 'chaos', filed_at: at, reason: 'chaos', status: 'OPEN',
      }).returning('id');
      objectionId = String(o.id);
      await knex('selection_history').insert(history(s.id, 'OBJECTED', { objectionId, candidateId: String(candidates[0].id) }));
    }
  }
  return { ids, held: { objectionId, resolveAt: start + runMs * 0.3 } };
}
