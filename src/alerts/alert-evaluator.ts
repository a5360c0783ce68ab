import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { enqueueDelivery } from './webhook-outbox.ts';
import { alertRule, evaluateRule, FLEET_ROLES, FLEET_RULE_KINDS, type Firing } from './alert-rules.ts';

export interface EvaluationDeps { db: Db; logger: Pick<Logger, 'info' | 'warn' | 'error'> }

/** Rules whose condition can change without their own BA's hours landing (late data, tomorrow's forecast). */
const TIME_DRIVEN = ['data_late', 'clean_window_tomorrow', 'devices_offline'];

/** The JSON body a webhook receives (stored in the outbox as sent, so a retry sends the same bytes). */
export interface AlertPayload {
  type: 'alert.fired';
  alert: { id: string; name: string };
  rule: unknown;
  occurrence: string;
  summary: string;
  details: Record<string, unknown>;
  firedAt: string;
}

class InCooldown extends Error {}

/**
 * Records a firing once: the occurrence row (unique per alert) and the outbox row commit together, and only
 * when the alert is outside its cool-down (checked and stamped by one UPDATE, so two workers evaluating at
 * once cannot both fire). Returns 'fired', 'repeat' (this occurrence already fired) or 'cooldown'.
 */
export async function recordFiring(db: Db, alert: { id: string; name: string; rule: unknown }, firing: Firing, now: Date): Promise<'fired' | 'repeat' | 'cooldown'> {
  try {
    return await db.transaction(async (tx) => {
      const inserted = await tx.query('INSERT INTO alert_occurrences (alert_id, occurrence, fired_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING occurrence',
        [alert.id, firing.occurrence, now]);
      if (inserted.length === 0) return 'repeat' as const;
      const stamped = await tx.query(
        `UPDATE alerts SET last_fired_at = $2 WHERE id = $1 AND status = 'active'
            AND (last_fired_at IS NULL OR last_fired_at <= $2::timestamptz - make_interval(mins => cooldown_minutes)) RETURNING id`, [alert.id, now]);
      if (stamped.length === 0) throw new InCooldown(); // rolls the occurrence back: it may fire once the cool-down ends
      const payload: AlertPayload = {
        type: 'alert.fired', alert: { id: alert.id, name: alert.name }, rule: alert.rule,
        occurrence: firing.occurrence, summary: firing.summary, details: firing.details, firedAt: now.toISOString(),
      };
      await enqueueDelivery(tx, { kind: 'alert', alertId: alert.id, occurrence: firing.occurrence, payload: JSON.stringify(payload), at: now });
      return 'fired' as const;
    });
  } catch (err) {
    if (err instanceof InCooldown) return 'cooldown';
    throw err;
  }
}

/**
 * Evaluates the active alerts concerned by a change: those on `bas` (the BAs whose hours just landed, from
 * the change event) plus every time-driven rule; with `kinds`, the alerts of those rule kinds (the fleet's
 * offline check); with neither, every active alert (the periodic pass). Fleet rules count only while their
 * owner is an active operator or administrator. A rule that fails to evaluate is logged and skipped; the others still run.
 */
export async function evaluateAlerts(deps: EvaluationDeps, opts: { bas?: readonly string[]; kinds?: readonly string[]; now?: Date } = {}): Promise<{ evaluated: number; fired: number; repeats: number; cooldown: number }> {
  const now = opts.now ?? new Date();
  const allowed = `(NOT (a.rule->>'kind' = ANY ($1::text[])) OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.owner_id AND u.status = 'active' AND u.role = ANY ($2::text[])))`;
  const base = [[...FLEET_RULE_KINDS], [...FLEET_ROLES]];
  const rows = await deps.db.query<{ id: string; name: string; rule: unknown }>(
    opts.bas
      ? `SELECT a.id, a.name, a.rule FROM alerts a WHERE a.status = 'active' AND ${allowed} AND (a.ba_code = ANY ($3::text[]) OR a.rule->>'kind' = ANY ($4::text[])) ORDER BY a.id`
      : opts.kinds
        ? `SELECT a.id, a.name, a.rule FROM alerts a WHERE a.status = 'active' AND ${allowed} AND a.rule->>'kind' = ANY ($3::text[]) ORDER BY a.id`
        : `SELECT a.id, a.name, a.rule FROM alerts a WHERE a.status = 'active' AND ${allowed} ORDER BY a.id`,
    opts.bas ? [...base, [...opts.bas], TIME_DRIVEN] : opts.kinds ? [...base, [...opts.kinds]] : base);
  const counts = { evaluated: 0, fired: 0, repeats: 0, cooldown: 0 };
  // many users watch the same condition: a pass judges each distinct rule once
  const judged = new Map<string, Promise<Firing | undefined>>();
  for (const row of rows) {
    try {
      const rule = alertRule.parse(row.rule);
      counts.evaluated++;
      const key = JSON.stringify(rule);
      let judging = judged.get(key);
      if (!judging) judged.set(key, (judging = evaluateRule(deps.db, rule, now)));
      const firing = await judging;
      if (!firing) continue;
      const outcome = await recordFiring(deps.db, { id: row.id, name: row.name, rule }, firing, now);
      if (outcome === 'fired') {
        counts.fired++;
        deps.logger.info({ alertId: row.id, occurrence: firing.occurrence }, 'alert fired');
      } else if (outcome === 'repeat') counts.repeats++;
      else counts.cooldown++;
    } catch (err) {
      deps.logger.error({ err, alertId: row.id }, 'alert evaluation failed');
    }
  }
  return counts;
}
