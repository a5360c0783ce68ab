import type { Db } from '../platform/db.ts';
import { alertRule, ruleBaCode, type AlertRule } from './alert-rules.ts';
import { newWebhookSecret } from './webhook-signature.ts';

/** Whether an alert is evaluated: `disabled` is set by delivery failures (see webhook-outbox.ts), `paused` by its owner. */
export type AlertStatus = 'active' | 'paused' | 'disabled';

export interface Alert {
  id: string; ownerId: string; name: string; rule: AlertRule; webhookUrl: string; cooldownMinutes: number;
  status: AlertStatus; disabledReason: string | null; consecutiveFailures: number; lastFiredAt: string | null; createdAt: string;
}

export interface AlertInput { name: string; rule: AlertRule; webhookUrl: string; cooldownMinutes: number }

interface AlertRow {
  id: string; owner_id: string; name: string; rule: unknown; webhook_url: string; cooldown_minutes: number; status: AlertStatus;
  disabled_reason: string | null; consecutive_failures: number; last_fired_at: Date | string | null; created_at: Date | string;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

const COLUMNS = 'id, owner_id, name, rule, webhook_url, cooldown_minutes, status, disabled_reason, consecutive_failures, last_fired_at, created_at';

function toAlert(r: AlertRow): Alert {
  return {
    id: r.id, ownerId: r.owner_id, name: r.name, rule: alertRule.parse(r.rule), webhookUrl: r.webhook_url,
    cooldownMinutes: r.cooldown_minutes, status: r.status, disabledReason: r.disabled_reason, consecutiveFailures: r.consecutive_failures,
    lastFiredAt: iso(r.last_fired_at), createdAt: iso(r.created_at)!,
  };
}

/** Creates an alert with a new signing secret, returned here and never again. */
export async function createAlert(db: Db, ownerId: string, input: AlertInput): Promise<Alert & { secret: string }> {
  const secret = newWebhookSecret();
  const [row] = await db.query<AlertRow>(
    `INSERT INTO alerts (owner_id, name, rule, ba_code, webhook_url, secret, cooldown_minutes)
     VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [ownerId, input.name, JSON.stringify(input.rule), ruleBaCode(input.rule), input.webhookUrl, secret, input.cooldownMinutes]);
  return { ...toAlert(row!), secret };
}

export async function listAlerts(db: Db, ownerId: string): Promise<Alert[]> {
  const rows = await db.query<AlertRow>(`SELECT ${COLUMNS} FROM alerts WHERE owner_id = $1 ORDER BY created_at, id`, [ownerId]);
  return rows.map(toAlert);
}

/** The owner's alert; `undefined` for another user's id exactly as for an unknown one. */
export async function getAlert(db: Db, ownerId: string, id: string): Promise<Alert | undefined> {
  const [row] = await db.query<AlertRow>(`SELECT ${COLUMNS} FROM alerts WHERE id = $1 AND owner_id = $2`, [id, ownerId]);
  return row && toAlert(row);
}

/**
 * Replaces an alert's settings; `status: 'active'` re-enables a disabled alert (its failure count starts
 * again from 0). `undefined` when the owner has no such alert.
 */
export async function updateAlert(db: Db, ownerId: string, id: string, input: AlertInput & { status: 'active' | 'paused' }): Promise<Alert | undefined> {
  const [row] = await db.query<AlertRow>(
    `UPDATE alerts SET name = $3, rule = $4::text::jsonb, ba_code = $5, webhook_url = $6, cooldown_minutes = $7, status = $8,
            disabled_reason = CASE WHEN $8 = 'active' THEN NULL ELSE disabled_reason END,
            consecutive_failures = CASE WHEN status = 'disabled' AND $8 = 'active' THEN 0 ELSE consecutive_failures END
      WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
    [id, ownerId, input.name, JSON.stringify(input.rule), ruleBaCode(input.rule), input.webhookUrl, input.cooldownMinutes, input.status]);
  return row && toAlert(row);
}

export async function deleteAlert(db: Db, ownerId: string, id: string): Promise<boolean> {
  const rows = await db.query('DELETE FROM alerts WHERE id = $1 AND owner_id = $2 RETURNING id', [id, ownerId]);
  return rows.length > 0;
}

export interface DeliveryLogEntry {
  id: number; occurrence: string; status: 'pending' | 'delivered' | 'failed'; attempts: number; nextAttemptAt: string | null;
  lastStatusCode: number | null; lastError: string | null; createdAt: string; finishedAt: string | null;
  tries: Array<{ attempt: number; at: string; statusCode: number | null; error: string | null; durationMs: number }>;
}

/** The newest deliveries of the owner's alert with every attempt; `undefined` when the owner has no such alert. */
export async function listDeliveries(db: Db, ownerId: string, alertId: string, limit = 50): Promise<DeliveryLogEntry[] | undefined> {
  if (!(await getAlert(db, ownerId, alertId))) return undefined;
  const rows = await db.query<{
    id: string | number; occurrence: string; status: DeliveryLogEntry['status']; attempts: number; next_attempt_at: Date | string;
    last_status_code: number | null; last_error: string | null; created_at: Date | string; finished_at: Date | string | null; tries: DeliveryLogEntry['tries'];
  }>(
    `SELECT d.id, d.occurrence, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at,
            coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'statusCode', a.status_code, 'error', a.error, 'durationMs', a.duration_ms) ORDER BY a.attempt)
                        FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS tries
       FROM webhook_deliveries d WHERE d.alert_id = $1 ORDER BY d.id DESC LIMIT $2`, [alertId, limit]);
  return rows.map((r) => ({
    id: Number(r.id), occurrence: r.occurrence, status: r.status, attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null, lastStatusCode: r.last_status_code, lastError: r.last_error,
    createdAt: iso(r.created_at)!, finishedAt: iso(r.finished_at),
    tries: r.tries.map((t) => ({ ...t, at: new Date(t.at).toISOString() })),
  }));
}
