import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { backoffMs, DEFAULT_OUTBOX, postWebhook, type OutboxOptions } from '../alerts/webhook-outbox.ts';
import type { TargetPolicy } from '../alerts/webhook-target.ts';

/** A claim is held this long: a worker that dies mid-delivery leaves the row to be retried after it. */
const CLAIM_LEASE_SECONDS = 120;

/**
 * One pass over the OpenADR subscription callbacks due (openadr_notifications, queued with each change by
 * openadr-repository.ts): each is POSTed as the definition's notification JSON with `Authorization: Bearer
 * <the subscription's bearerToken>` when it gave one, through the alerts' webhook sender (same SSRF rules:
 * webhook-target.ts), and retried with the same exponential backoff until `maxAttempts`.
 */
export async function deliverOpenadrNotifications(deps: { db: Db; logger: Pick<Logger, 'warn'> }, o: OutboxOptions, now = new Date()): Promise<{ delivered: number; failed: number }> {
  const claimed = await deps.db.query<{ id: string | number; callback_url: string; bearer_token: string | null; payload: string; attempts: number; subscription_id: string }>(
    `UPDATE openadr_notifications SET next_attempt_at = $2::timestamptz + make_interval(secs => $3)
      WHERE id IN (SELECT id FROM openadr_notifications WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING id, callback_url, bearer_token, payload, attempts, subscription_id`, [o.batch, now, CLAIM_LEASE_SECONDS]);
  const out = { delivered: 0, failed: 0 };
  for (const n of claimed) {
    const id = Number(n.id);
    const r = await postWebhook(n.callback_url, n.payload, null, id, o, n.bearer_token ? { authorization: `Bearer ${n.bearer_token}` } : {});
    const attempt = n.attempts + 1;
    if (r.error === null) {
      out.delivered++;
      await deps.db.query(`UPDATE openadr_notifications SET status = 'delivered', attempts = $2, last_status_code = $3, last_error = NULL, finished_at = now() WHERE id = $1`, [id, attempt, r.statusCode]);
      continue;
    }
    out.failed++;
    const giveUp = attempt >= o.maxAttempts;
    deps.logger.warn({ notificationId: id, subscriptionId: n.subscription_id, attempt, statusCode: r.statusCode, error: r.error }, 'OpenADR callback failed');
    await deps.db.query(
      `UPDATE openadr_notifications SET attempts = $2, last_status_code = $3, last_error = $4, status = CASE WHEN $5 THEN 'failed' ELSE 'pending' END,
              finished_at = CASE WHEN $5 THEN now() END, next_attempt_at = now() + make_interval(secs => $6) WHERE id = $1`,
      [id, attempt, r.statusCode, r.error, giveUp, backoffMs(attempt, o) / 1000]);
  }
  return out;
}

/** The worker's OpenADR callback loop: a pass every `everyMs` (one at a time; a failing pass is logged and the loop goes on). */
export function startOpenadrNotifier(db: Db, logger: Logger, policy: TargetPolicy, everyMs = 5_000): { stop(): Promise<void> } {
  const log = logger.child({ job: 'openadr-callbacks' });
  const options: OutboxOptions = { ...DEFAULT_OUTBOX, policy };
  let chain: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    chain = chain.then(() => deliverOpenadrNotifications({ db, logger: log }, options))
      .then((r) => { if (r.delivered || r.failed) log.info(r, 'OpenADR callbacks sent'); }, (err: unknown) => log.error({ err }, 'OpenADR callback pass failed'));
  }, everyMs);
  timer.unref();
  return { stop: async () => { clearInterval(timer); await chain; } };
}
