import type { Db } from '../platform/db.ts';
import { HEARTBEAT_STALE_MS } from './device-repository.ts';

/**
 * The fleet at a glance (GET /api/v1/fleet/summary): devices by status, stored energy, power, command success over 24 h.
 * Status, three ways that add up to `devices`: online (said so and heard from within HEARTBEAT_STALE_MS), never seen
 * (provisioned, never heard from), offline (seen, and not online: what GET /api/v1/fleet/offline lists).
 */
export async function fleetSummary(db: Db, nowMs = Date.now()) {
  const [d] = await db.query<{ devices: number; online: number; never_seen: number; stored: number | null; cap_reported: number | null; capacity: number | null; power: number | null }>(
    `SELECT count(*)::int AS devices,
            count(*) FILTER (WHERE online AND last_seen_at >= $1)::int AS online,
            count(*) FILTER (WHERE last_seen_at IS NULL)::int AS never_seen,
            sum(soc_pct / 100 * capacity_kwh) AS stored, sum(capacity_kwh) FILTER (WHERE soc_pct IS NOT NULL) AS cap_reported,
            sum(capacity_kwh) AS capacity, sum(power_kw) AS power
     FROM devices WHERE revoked_at IS NULL`, [new Date(nowMs - HEARTBEAT_STALE_MS)]);
  const [v] = await db.query<{ issued: number; succeeded: number; failed: number; timed_out: number }>(
    `SELECT count(*)::int AS issued, count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE state = 'failed')::int AS failed, count(*) FILTER (WHERE state = 'timed-out')::int AS timed_out
     FROM schedule_versions WHERE issued_at >= $1`, [new Date(nowMs - 86_400_000)]);
  const [r] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM rollouts WHERE status = 'running'`);
  const devices = Number(d!.devices);
  const online = Number(d!.online);
  const neverSeen = Number(d!.never_seen);
  const stored = Number(d!.stored ?? 0);
  const capReported = Number(d!.cap_reported ?? 0);
  const finished = Number(v!.succeeded) + Number(v!.failed) + Number(v!.timed_out);
  return {
    devices, online, offline: devices - online - neverSeen, neverSeen,
    socPct: capReported > 0 ? Math.round((stored / capReported) * 1000) / 10 : null,
    storedKwh: Math.round(stored * 1000) / 1000, capacityKwh: Number(d!.capacity ?? 0), powerKw: Math.round(Number(d!.power ?? 0) * 1000) / 1000,
    versions24h: {
      issued: Number(v!.issued), succeeded: Number(v!.succeeded), failed: Number(v!.failed), timedOut: Number(v!.timed_out), finished,
      successPct: finished ? Math.round((Number(v!.succeeded) / finished) * 1000) / 10 : null,
    },
    rolloutsRunning: Number(r!.n),
  };
}
