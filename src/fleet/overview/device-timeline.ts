import type { Db } from '../../platform/db.ts';
import type { ScheduleInterval } from '../messages.ts';
import type { DeliveryState } from '../contract.ts';

/** One schedule version of a device as the delivery ledger holds it: what was planned and each delivery step's time. */
export interface VersionHistory {
  version: number; state: DeliveryState; priority: number; fallback: string; rolloutId: string | null;
  startsAt: string; endsAt: string; issuedAt: string; stateAt: string; sentAt: string | null; acknowledgedAt: string | null;
  executingAt: string | null; finishedAt: string | null; publishCount: number; reason: string | null; supersededBy: number | null;
  intervals: ScheduleInterval[];
}


const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const jsonOf = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

/** The device's newest `limit` versions, newest first; `undefined` for an unknown device. */
export async function versionHistory(db: Db, deviceId: string, limit = 50): Promise<VersionHistory[] | undefined> {
  const [known] = await db.query('SELECT 1 FROM devices WHERE id = $1', [deviceId]);
  if (!known) return undefined;
  const rows = await db.query<Record<string, unknown>>(
    `SELECT version, state, priority, fallback, rollout_id, starts_at, ends_at, issued_at, state_at, sent_at, acknowledged_at,
            executing_at, finished_at, publish_count, reason, superseded_by, intervals
       FROM schedule_versions WHERE device_id = $1 ORDER BY version DESC LIMIT $2`, [deviceId, limit]);
  return rows.map((r) => ({
    version: Number(r.version), state: r.state as DeliveryState, priority: Number(r.priority), fallback: String(r.fallback),
    rolloutId: r.rollout_id === null ? null : String(r.rollout_id),
    startsAt: iso(r.starts_at)!, endsAt: iso(r.ends_at)!, issuedAt: iso(r.issued_at)!, stateAt: iso(r.state_at)!, sentAt: iso(r.sent_at),
    acknowledgedAt: iso(r.acknowledged_at), executingAt: iso(r.executing_at), finishedAt: iso(r.finished_at),
    publishCount: Number(r.publish_count), reason: (r.reason as string | null) ?? null, supersededBy: r.superseded_by === null ? null : Number(r.superseded_by),
    intervals: jsonOf(r.intervals) as ScheduleInterval[],
  }));
}
