import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { checkWebhookUrl, guardedLookup, type TargetPolicy } from './webhook-target.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.ts';

/**
 * Webhook delivery from one durable outbox (webhook_deliveries, migration 0040) for alerts' firings and OpenADR
 * subscription callbacks: the change commits its delivery row (enqueueDelivery), and this loop sends due rows,
 * so a delivery outlives a restart of the worker. Retries are
 * scheduled in the row (next_attempt_at) with exponential backoff and jitter, not held in memory: that is
 * why p-retry's in-process loop is not used here. Each try is logged with its status code; a delivery
 * gives up after `maxAttempts`, and an alert whose webhook failed `disableAfter` tries in a row is disabled
 * (status `disabled`, reason shown to its owner) with its pending deliveries closed as failed. The loop that
 * runs the passes is the alert worker's (alert-worker.ts).
 */
export interface OutboxOptions {
  policy: TargetPolicy;
  /** first retry delay; try n waits min(maxDelayMs, baseDelayMs × 2^(n−1)) × a jitter factor in [0.5, 1) */
  baseDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  disableAfter: number;
  timeoutMs: number;
  /** deliveries claimed per pass */
  batch: number;
  random: () => number;
}

export const DEFAULT_OUTBOX: Omit<OutboxOptions, 'policy'> = {
  baseDelayMs: 30_000, maxDelayMs: 3_600_000, maxAttempts: 8, disableAfter: 10, timeoutMs: 10_000, batch: 20, random: Math.random,
};

/** Delay before try n+1 after try n failed (n ≥ 1), ms. */
export function backoffMs(failedAttempts: number, o: Pick<OutboxOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.min(failedAttempts - 1, 30));
  return Math.round(ceiling * (0.5 + o.random() / 2));
}

/** A claim is held this long: a worker that dies mid-delivery leaves the row to be retried after it. */
const CLAIM_LEASE_MS = 120_000;
const MAX_ERROR_LENGTH = 300;

export interface DeliveryResult { statusCode: number | null; error: string | null; durationMs: number }

/**
 * POSTs one body, signed with `secret` (null: unsigned, e.g. OpenADR callbacks, which carry the subscriber's bearer
 * token in `headers` instead); never throws (a refused target, a timeout or a connection error is an error result).
 */
export async function postWebhook(url: string, body: string, secret: string | null, deliveryId: number, o: Pick<OutboxOptions, 'policy' | 'timeoutMs'>,
  headers: Record<string, string> = {}): Promise<DeliveryResult> {
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null) => ({ statusCode, error: error?.slice(0, MAX_ERROR_LENGTH) ?? null, durationMs: Math.round(performance.now() - started) });
  let target: URL;
  try {
    target = await checkWebhookUrl(url, o.policy); // literal addresses; names are checked again as they are resolved to connect
  } catch (err) {
    return done(null, `refused target: ${(err as Error).message}`);
  }
  const timestamp = Math.floor(Date.now() / 1000);
  return new Promise((resolve) => {
    const request = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST',
      lookup: guardedLookup(o.policy) as never,
      timeout: o.timeoutMs,
      headers: {
        ...headers, 'content-type': 'application/json', 'user-agent': 'GridPulse-Webhooks/1', [DELIVERY_HEADER]: String(deliveryId),
        ...(secret === null ? {} : { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body) }),
      },
    }, (res) => {
      res.resume(); // the answer's body is not used; redirects are not followed (a 3xx is a failed try)
      res.on('end', () => resolve(done(res.statusCode ?? null, res.statusCode && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`)));
      res.on('error', (err) => resolve(done(res.statusCode ?? null, err.message)));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    request.on('error', (err) => resolve(done(null, err.message)));
    request.end(body);
  });
}

/** What a delivery is for: an alert's firing, or an OpenADR subscription's callback of a VTN change. */
export type DeliveryKind = 'alert' | 'openadr_subscription';

/** A delivery to queue: committed by the caller's transaction with the change that caused it (the outbox's point). */
export type NewDelivery =
  | { kind: 'alert'; alertId: string; occurrence: string; payload: string; at: Date }
  | { kind: 'openadr_subscription'; subscriptionId: string; callbackUrl: string; bearerToken: string | null; payload: string };

/** Queues one delivery in webhook_deliveries (migration 0040); it is sent from `at` (default: now) on. */
export async function enqueueDelivery(db: Db, d: NewDelivery): Promise<void> {
  if (d.kind === 'alert') {
    await db.query(`INSERT INTO webhook_deliveries (kind, alert_id, occurrence, payload, next_attempt_at) VALUES ('alert', $1, $2, $3, $4)`,
      [d.alertId, d.occurrence, d.payload, d.at]);
  } else {
    await db.query(`INSERT INTO webhook_deliveries (kind, subscription_id, callback_url, bearer_token, payload) VALUES ('openadr_subscription', $1, $2, $3, $4)`,
      [d.subscriptionId, d.callbackUrl, d.bearerToken, d.payload]);
  }
}

interface Claimed {
  id: string | number; kind: DeliveryKind; alert_id: string | null; subscription_id: string | null; payload: string; attempts: number;
  url: string; secret: string | null; bearer_token: string | null;
}

/**
 * One pass of the outbox (webhook_deliveries, both kinds): claims up to `batch` due deliveries (SKIP LOCKED, so
 * several workers share the work; an alert's only while the alert is active, a paused alert's wait), sends them,
 * and records each try in webhook_delivery_attempts. An alert's delivery goes to the alert's current URL, signed
 * with its secret; an OpenADR callback goes to the subscription's callbackUrl, unsigned, with
 * `Authorization: Bearer <bearerToken>` when the subscription gave one. Failures back off alike; only alerts
 * count failures in a row and are disabled (OpenADR subscriptions have no state to disable). Returns what happened.
 */
export async function deliverDue(deps: { db: Db; logger: Pick<Logger, 'info' | 'warn'> }, options: OutboxOptions, now = new Date()):
  Promise<{ delivered: number; failedAttempts: number; gaveUp: number; disabledAlerts: number }> {
  const { db } = deps;
  const passStarted = Date.now();
  const claimed = await db.query<Claimed>(
    `WITH claimed AS (
       UPDATE webhook_deliveries d SET next_attempt_at = $2::timestamptz + make_interval(secs => $3)
        WHERE d.id IN (SELECT d2.id FROM webhook_deliveries d2 LEFT JOIN alerts a2 ON a2.id = d2.alert_id
                        WHERE d2.status = 'pending' AND d2.next_attempt_at <= $2 AND (d2.kind <> 'alert' OR a2.status = 'active')
                        ORDER BY d2.next_attempt_at, d2.id LIMIT $1 FOR UPDATE OF d2 SKIP LOCKED)
       RETURNING d.id, d.kind, d.alert_id, d.subscription_id, d.callback_url, d.bearer_token, d.payload, d.attempts)
     SELECT c.id, c.kind, c.alert_id, c.subscription_id, c.payload, c.attempts, coalesce(a.webhook_url, c.callback_url) AS url, a.secret, c.bearer_token
       FROM claimed c LEFT JOIN alerts a ON a.id = c.alert_id AND c.kind = 'alert' ORDER BY c.id`,
    [options.batch, now, CLAIM_LEASE_MS / 1000]);
  const out = { delivered: 0, failedAttempts: 0, gaveUp: 0, disabledAlerts: 0 };
  for (const d of claimed) {
    const id = Number(d.id);
    const about = d.kind === 'alert' ? { alertId: d.alert_id } : { subscriptionId: d.subscription_id };
    const result = d.kind === 'alert'
      ? await postWebhook(d.url, d.payload, d.secret, id, options)
      : await postWebhook(d.url, d.payload, null, id, options, d.bearer_token ? { authorization: `Bearer ${d.bearer_token}` } : {});
    const attempt = d.attempts + 1;
    const ok = result.error === null;
    const after = new Date(now.getTime() + (Date.now() - passStarted)); // the pass's clock, moved on by the time spent sending
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, attempt, after, result.statusCode, result.error, result.durationMs]);
      if (ok) {
        await tx.query(`UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, last_error = NULL, finished_at = $4 WHERE id = $1`,
          [id, attempt, result.statusCode, after]);
        if (d.kind === 'alert') await tx.query('UPDATE alerts SET consecutive_failures = 0 WHERE id = $1', [d.alert_id]);
        return;
      }
      const giveUp = attempt >= options.maxAttempts;
      await tx.query(
        `UPDATE webhook_deliveries SET attempts = $2, last_status_code = $3, last_error = $4,
                status = CASE WHEN $5 THEN 'failed' ELSE 'pending' END, finished_at = CASE WHEN $5 THEN $6::timestamptz END,
                next_attempt_at = $6::timestamptz + make_interval(secs => $7) WHERE id = $1`,
        [id, attempt, result.statusCode, result.error, giveUp, after, backoffMs(attempt, options) / 1000]);
      if (giveUp) out.gaveUp++;
      const failures = d.kind === 'alert' ? await disableIfFailing(tx, d.alert_id!, result.error, after, options) : undefined;
      if (failures !== undefined) {
        out.disabledAlerts++;
        deps.logger.warn({ alertId: d.alert_id, deliveryId: id, failures }, 'alert disabled after repeated webhook failures');
      }
    });
    if (ok) out.delivered++;
    else {
      out.failedAttempts++;
      deps.logger.warn({ deliveryId: id, kind: d.kind, ...about, attempt, statusCode: result.statusCode, error: result.error }, 'webhook delivery failed');
    }
  }
  return out;
}

/**
 * Counts an alert's failed try; at `disableAfter` in a row the alert is disabled with the reason shown to its
 * owner, and its pending deliveries are closed as failed. Returns the failures in a row when it was disabled now.
 */
async function disableIfFailing(tx: Db, alertId: string, error: string | null, at: Date, options: Pick<OutboxOptions, 'disableAfter'>): Promise<number | undefined> {
  const [alert] = await tx.query<{ consecutive_failures: number }>(
    'UPDATE alerts SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures', [alertId]);
  if (!alert || alert.consecutive_failures < options.disableAfter) return undefined;
  await tx.query(`UPDATE alerts SET status = 'disabled', disabled_reason = $2 WHERE id = $1 AND status = 'active'`,
    [alertId, `disabled after ${alert.consecutive_failures} failed deliveries in a row (last: ${error})`.slice(0, 500)]);
  await tx.query(`UPDATE webhook_deliveries SET status = 'failed', finished_at = $2, last_error = coalesce(last_error, 'alert disabled')
                   WHERE alert_id = $1 AND status = 'pending'`, [alertId, at]);
  return alert.consecutive_failures;
}
