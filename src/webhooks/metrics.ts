// Figures of webhook delivery for /metrics (issue 15 §4), one statement: the backlog (deliveries
// waiting, plus feed events not yet queued for active subscriptions), deliveries failing now (waiting
// for a retry after at least one failed attempt), and dead letters. Wire as gauges.
import type { Bank } from '../bank.js';

export interface WebhookFigures {
  /** Deliveries PENDING plus events of active subscriptions' feeds beyond their cursors. */
  backlog: number;
  /** PENDING deliveries whose last attempt failed (retrying). */
  failing: number;
  /** Dead-lettered deliveries (all time, until their subscription is deleted). */
  deadLetters: number;
  /** Failed attempts recorded in the last hour. */
  failedAttemptsLastHour: number;
}

export async function webhookFigures(bank: Bank): Promise<WebhookFigures> {
  const { rows } = await bank.knex.raw(`
    SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING')
         + (SELECT coalesce(sum(greatest(0, (SELECT coalesce(max(e.seq), 0) FROM events e WHERE e.head_id = s.head_id) - s.cursor_seq)), 0)
              FROM webhook_subscriptions s WHERE s.status = 'ACTIVE') AS backlog,
           (SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING' AND attempts > 0) AS failing,
           (SELECT count(*) FROM webhook_deliveries WHERE status = 'DEAD') AS dead_letters,
           (SELECT count(*) FROM webhook_attempts WHERE started_at > now() - interval '1 hour'
               AND (status_code IS NULL OR status_code NOT BETWEEN 200 AND 299)) AS failed_attempts`);
  const r = rows[0];
  return { backlog: Number(r.backlog), failing: Number(r.failing), deadLetters: Number(r.dead_letters), failedAttemptsLastHour: Number(r.failed_attempts) };
}
