// What must hold of selections (评选) after a run under faults and a final awarding round (run by the
// harness once the services are stopped, at the services' clock):
// - every AWARDED candidate has exactly one transaction, named by its key selection:<id>:<candidate>
//   under system:selections, to its member under the selection's rule;
// - no candidate of a WITHDRAWN selection, no STRUCK candidate and no candidate still NOMINATED is
//   paid (no key, no transaction names it);
// - no selection whose period ended with no open objection is left unpaid (PUBLISHED or AWARDING),
//   and an AWARDED selection has no candidate left unpaid;
// - the quota: a selection never has more candidates than its quota;
// - objections: an upheld one struck its candidate and every struck candidate has an upheld one;
//   none was filed outside the notice period or after awarding began;
// - the history: UPDATE and DELETE are refused, and it records each act the state shows, once
//   (opened, every nomination, publishing, extensions, withdrawal, every objection and resolution,
//   awarding, every winner paid, awarded).
import type { Bank } from '../bank.js';
import { awardingSubject } from '../selections/selections.js';

export interface SelectionsCheck { violations: string[]; figures: string; paid: number }

/** seeded: the selections put on notice at set-up (selections.ts), counted apart in the figures. */
export async function checkSelections(bank: Bank, headId: string, now: Date, seeded: string[] = []): Promise<SelectionsCheck> {
  const violations: string[] = [];
  const say = (rows: any[], sentence: (r: any) => string) => violations.push(...rows.map(sentence));

  // Candidates against the keys and transactions that name them.
  const { rows: candidates } = await bank.knex.raw(`
    WITH paid AS (
      SELECT (t.metadata->>'candidateId')::bigint AS candidate, count(*)::int AS n, min(t.id)::text AS txn, min(t.member_id)::text AS member,
             min(t.status) AS status, min(r.code) AS rule
        FROM transactions t JOIN rules r ON r.head_id = t.head_id AND r.id = t.rule_id
       WHERE t.head_id = :head AND t.principal_sub = :subject AND jsonb_exists(t.metadata, 'candidateId')
       GROUP BY 1),
    keys AS (
      SELECT k.key, k.transaction_id::text AS txn FROM idempotency_keys k WHERE k.head_id = :head AND k.subject = :subject)
    SELECT c.id::text AS id, c.selection_id::text AS selection, c.status, s.status AS selection_status, s.rule_code,
           c.member_id::text AS member, c.transaction_id::text AS txn, c.award_error,
           k.txn AS key_txn, p.n AS paid, p.txn AS paid_txn, p.member AS paid_member, p.status AS paid_status, p.rule AS paid_rule
      FROM selection_candidates c JOIN selections s ON s.head_id = c.head_id AND s.id = c.selection_id
      LEFT JOIN keys k ON k.key = 'selection:' || c.selection_id || ':' || c.id
      LEFT JOIN paid p ON p.candidate = c.id
     WHERE c.head_id = :head`, { head: headId, subject: awardingSubject });
  for (const c of candidates) {
    const who = `candidate ${c.id} of selection ${c.selection} (${c.selection_status})`;
    if (c.status === 'AWARDED') {
      if (c.paid !== 1) violations.push(`${who} is AWARDED with ${c.paid ?? 0} transactions naming it`);
      else if (c.key_txn !== c.txn || c.paid_txn !== c.txn) violations.push(`${who} is AWARDED by transaction ${c.txn}, its key names ${c.key_txn}, the transaction naming it is ${c.paid_txn}`);
      else if (c.paid_member !== c.member || c.paid_rule !== c.rule_code || c.paid_status !== 'POSTED') {
        violations.push(`${who}: its award went to member ${c.paid_member} under ${c.paid_rule} (${c.paid_status}), not member ${c.member} under ${c.rule_code}`);
      }
      if (c.selection_status !== 'AWARDING' && c.selection_status !== 'AWARDED') violations.push(`${who} is AWARDED though its selection is ${c.selection_status}`);
    } else if (c.key_txn || c.paid || c.txn) {
      violations.push(`${who} is ${c.status} but was paid: key → ${c.key_txn}, ${c.paid ?? 0} transactions name it`);
    }
  }
  const byStatus = (status: string) => candidates.filter((c: any) => c.status === status).length;

  // Due selections are paid; an AWARDED selection has no winner left.
  const { rows: unpaid } = await bank.knex.raw(`
    SELECT s.id, s.status, s.period_ends_at,
           (SELECT string_agg(DISTINCT c.award_error, '; ') FROM selection_candidates c WHERE c.head_id = s.head_id AND c.selection_id = s.id) AS errors
      FROM selections s
     WHERE s.head_id = ? AND ((s.status IN ('PUBLISHED', 'AWARDING') AND s.period_ends_at <= ?
             AND NOT EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = s.head_id AND o.selection_id = s.id AND o.status = 'OPEN'))
        OR (s.status = 'AWARDED' AND EXISTS (SELECT 1 FROM selection_candidates c WHERE c.head_id = s.head_id AND c.selection_id = s.id AND c.status = 'NOMINATED')))`,
  [headId, now]);
  say(unpaid, (s) => `selection ${s.id} is ${s.status} after the final round though its period ended at ${s.period_ends_at.toISOString()} with no open objection${s.errors ? ` (award errors: ${s.errors})` : ''}`);

  // The quota; objections against the candidates' state and the period.
  const { rows: overQuota } = await bank.knex.raw(`
    SELECT s.id, s.quota, count(c.*)::int AS n FROM selections s JOIN selection_candidates c ON c.head_id = s.head_id AND c.selection_id = s.id
     WHERE s.head_id = ? GROUP BY s.id, s.quota HAVING count(c.*) > s.quota`, [headId]);
  say(overQuota, (s) => `selection ${s.id} has ${s.n} candidates, over its quota of ${s.quota}`);
  const { rows: struck } = await bank.knex.raw(`
    SELECT c.id, c.status, (SELECT count(*) FROM selection_objections o WHERE o.head_id = c.head_id AND o.candidate_id = c.id AND o.status = 'UPHELD')::int AS upheld
      FROM selection_candidates c WHERE c.head_id = ?
       AND ((c.status = 'STRUCK') <> EXISTS (SELECT 1 FROM selection_objections o WHERE o.head_id = c.head_id AND o.candidate_id = c.id AND o.status = 'UPHELD'))`, [headId]);
  say(struck, (c) => `candidate ${c.id} is ${c.status} with ${c.upheld} upheld objections`);
  const { rows: late } = await bank.knex.raw(`
    SELECT o.id, o.selection_id, o.filed_at, s.published_at, s.period_ends_at FROM selection_objections o JOIN selections s ON s.head_id = o.head_id AND s.id = o.selection_id
     WHERE o.head_id = ? AND (s.published_at IS NULL OR o.filed_at < s.published_at OR o.filed_at >= s.period_ends_at
        OR EXISTS (SELECT 1 FROM selection_history h JOIN selection_history a ON a.head_id = h.head_id AND a.selection_id = h.selection_id AND a.act = 'AWARDING'
                    WHERE h.head_id = o.head_id AND h.selection_id = o.selection_id AND h.act = 'OBJECTED' AND h.details->>'objectionId' = o.id::text AND h.id > a.id))`, [headId]);
  say(late, (o) => `objection ${o.id} to selection ${o.selection_id} was filed at ${o.filed_at.toISOString()}, outside its notice period (${o.published_at?.toISOString()} to ${o.period_ends_at?.toISOString()}) or after awarding began`);

  // The history records every act once.
  const { rows: history } = await bank.knex.raw(`
    SELECT s.id, s.status, s.extended_days, s.published_at IS NOT NULL AS was_published, h.*, c.candidates, c.awarded, o.objections, o.upheld, o.dismissed
      FROM selections s
      CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE act = 'OPENED')::int AS opened, count(*) FILTER (WHERE act = 'NOMINATED')::int AS nominated,
                                 count(*) FILTER (WHERE act = 'PUBLISHED')::int AS published, count(*) FILTER (WHERE act = 'WITHDRAWN')::int AS withdrawn,
                                 coalesce(sum((details->>'days')::int) FILTER (WHERE act = 'EXTENDED'), 0)::int AS extended,
                                 count(*) FILTER (WHERE act = 'OBJECTED')::int AS objected, count(*) FILTER (WHERE act = 'UPHELD')::int AS upheld_acts,
                                 count(*) FILTER (WHERE act = 'DISMISSED')::int AS dismissed_acts, count(*) FILTER (WHERE act = 'AWARDING')::int AS awarding,
                                 count(*) FILTER (WHERE act = 'AWARDED_CANDIDATE')::int AS paid_acts,
                                 count(DISTINCT details->>'candidateId') FILTER (WHERE act = 'AWARDED_CANDIDATE')::int AS paid_candidates,
                                 count(*) FILTER (WHERE act = 'AWARDED')::int AS awarded_acts
                            FROM selection_history h WHERE h.head_id = s.head_id AND h.selection_id = s.id) h
      CROSS JOIN LATERAL (SELECT count(*)::int AS candidates, count(*) FILTER (WHERE status = 'AWARDED')::int AS awarded
                            FROM selection_candidates c WHERE c.head_id = s.head_id AND c.selection_id = s.id) c
      CROSS JOIN LATERAL (SELECT count(*)::int AS objections, count(*) FILTER (WHERE status = 'UPHELD')::int AS upheld, count(*) FILTER (WHERE status = 'DISMISSED')::int AS dismissed
                            FROM selection_objections o WHERE o.head_id = s.head_id AND o.selection_id = s.id) o
     WHERE s.head_id = ?`, [headId]);
  for (const s of history) {
    const expected: [string, number, number][] = [
      ['OPENED', s.opened, 1], ['NOMINATED', s.nominated, s.candidates], ['PUBLISHED', s.published, s.was_published ? 1 : 0],
      ['WITHDRAWN', s.withdrawn, s.status === 'WITHDRAWN' ? 1 : 0], ['EXTENDED (days)', s.extended, s.extended_days],
      ['OBJECTED', s.objected, s.objections], ['UPHELD', s.upheld_acts, s.upheld], ['DISMISSED', s.dismissed_acts, s.dismissed],
      ['AWARDING', s.awarding, s.status === 'AWARDING' || s.status === 'AWARDED' ? 1 : 0],
      ['AWARDED_CANDIDATE', s.paid_acts, s.awarded], ['AWARDED_CANDIDATE (distinct candidates)', s.paid_candidates, s.awarded],
      ['AWARDED', s.awarded_acts, s.status === 'AWARDED' ? 1 : 0],
    ];
    for (const [act, found, want] of expected) if (found !== want) violations.push(`selection ${s.id} (${s.status}): its history has ${found} ${act}, its state says ${want}`);
  }
  // Append-only: an UPDATE and a DELETE of a history row are refused (tried in a transaction rolled back either way).
  for (const statement of ['UPDATE selection_history SET actor = actor WHERE head_id = $1', 'DELETE FROM selection_history WHERE head_id = $1']) {
    const client = await bank.pool.connect();
    try {
      await client.query('BEGIN');
      const changed = await client.query(statement, [headId]).then((r) => r.rowCount ?? 0, () => 0);
      if (changed > 0) violations.push(`selection history is not append-only: ${statement.split(' ')[0]} changed ${changed} rows`);
    } finally {
      await client.query('ROLLBACK').finally(() => client.release());
    }
  }

  const { rows: [counts] } = await bank.knex.raw(`
    SELECT count(*)::int AS selections, count(*) FILTER (WHERE status = 'AWARDED')::int AS awarded, count(*) FILTER (WHERE status = 'WITHDRAWN')::int AS withdrawn,
           count(*) FILTER (WHERE status = 'PUBLISHED')::int AS published, count(*) FILTER (WHERE status = 'OPEN')::int AS open,
           count(*) FILTER (WHERE status = 'AWARDING')::int AS awarding, count(*) FILTER (WHERE extended_days > 0)::int AS extended,
           (SELECT count(*) FROM selection_objections o WHERE o.head_id = s.head_id)::int AS objections,
           (SELECT count(*) FROM selection_objections o WHERE o.head_id = s.head_id AND o.status = 'UPHELD')::int AS upheld,
           (SELECT count(*) FROM selection_objections o WHERE o.head_id = s.head_id AND o.status = 'OPEN')::int AS open_objections
      FROM selections s WHERE s.head_id = ? GROUP BY s.head_id`, [headId]);
  const { rows: [seededCounts] } = await bank.knex.raw(`SELECT count(*) FILTER (WHERE status = 'AWARDED')::int AS awarded FROM selections WHERE head_id = ? AND id = ANY(?::bigint[])`, [headId, seeded]);
  const c = counts ?? { selections: 0, awarded: 0, withdrawn: 0, published: 0, open: 0, awarding: 0, extended: 0, objections: 0, upheld: 0, open_objections: 0 };
  const figures = `${c.selections} selections (${seededCounts.awarded} of the ${seeded.length} seeded at set-up awarded; ${c.awarded} awarded in all, ${c.withdrawn} withdrawn, ${c.published} still on notice or held, ${c.awarding} awarding, ${c.open} open; `
    + `${c.extended} extended), candidates ${candidates.length} (${byStatus('AWARDED')} paid, ${byStatus('STRUCK')} struck, ${byStatus('NOMINATED')} not paid), `
    + `objections ${c.objections} (${c.upheld} upheld, ${c.open_objections} still open)`;
  return { violations, figures, paid: byStatus('AWARDED') };
}
