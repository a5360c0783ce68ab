import type { Db } from '../../platform/db.ts';
import { HEARTBEAT_STALE_MS } from '../device-repository.ts';

/**
 * What the fleet pages and the offline-devices alert read beyond fleet-core's API (devices, summary, rollouts):
 * the offline devices with the time each went offline, and the fleet's SoC and power over time from the
 * gateway's telemetry. Units: SoC in percent of usable capacity, power kW (+ charging, − discharging), instants ISO 8601 UTC.
 */

/** A device is online while it said so and was heard from within this long (fleet-core's rule). */
export const STALE_AFTER_MS = HEARTBEAT_STALE_MS;

const iso = (v: Date | string | null | undefined) => (v === null || v === undefined ? null : new Date(v).toISOString());

export interface OfflineDevice { id: string; name: string; baCode: string | null; lastSeenAt: string | null; offlineSince: string | null }

/**
 * The devices offline at `now` (seen at least once, and not online: their last status said offline, or they fell
 * silent for more than STALE_AFTER_MS), longest offline first; of one BA with `ba`, offline since `offlineBefore` or
 * earlier with it. `offlineSince`: the time of their offline status (Last Will), or their last sign of life when they
 * fell silent without one.
 */
export async function offlineDevices(db: Db, now: Date, opts: { ba?: string | null; limit?: number; offlineBefore?: Date } = {}): Promise<OfflineDevice[]> {
  const rows = await db.query<{ id: string; name: string; ba_code: string | null; last_seen_at: Date | string | null; offline_since: Date | string | null }>(
    `SELECT * FROM (
       SELECT d.id, d.name, d.ba_code, d.last_seen_at,
              CASE WHEN d.online THEN d.last_seen_at ELSE coalesce(d.status_at, d.last_seen_at) END AS offline_since
         FROM devices d
        WHERE d.revoked_at IS NULL AND d.last_seen_at IS NOT NULL
          AND NOT (d.online AND d.last_seen_at >= $1::timestamptz - make_interval(secs => $5))
          AND ($2::text IS NULL OR d.ba_code = $2)) o
      WHERE $4::timestamptz IS NULL OR o.offline_since <= $4::timestamptz
      ORDER BY o.offline_since, o.id LIMIT $3`, [now, opts.ba ?? null, opts.limit ?? 1_000, opts.offlineBefore ?? null, STALE_AFTER_MS / 1000]);
  return rows.map((d) => ({ id: d.id, name: d.name, baCode: d.ba_code, lastSeenAt: iso(d.last_seen_at), offlineSince: iso(d.offline_since) }));
}

/** One bucket of the fleet over time: capacity-weighted SoC (%), summed power (kW, + charging) and how many devices reported. */
export interface FleetHistoryPoint { ts: string; socPct: number | null; powerKw: number | null; devices: number }

/**
 * The fleet's SoC and power over [from, to) in buckets of `bucketMinutes`, from the devices' telemetry
 * (device_telemetry): per device the mean of its samples in the bucket, then across devices SoC weighted by
 * usable capacity (Σ SoC × capacity / Σ capacity) and power summed. A bucket no device reported in is absent.
 * Implausible readings (telemetry-check.ts, flagged when stored) are left out: power a device cannot deliver is no fact.
 */
export async function fleetHistory(db: Db, from: Date, to: Date, bucketMinutes: number): Promise<FleetHistoryPoint[]> {
  const rows = await db.query<{ ts: Date | string; soc: number | string | null; power: number | string | null; devices: number }>(
    `WITH per AS (
       SELECT date_bin(make_interval(mins => $3), t.at, $1::timestamptz) AS ts, t.device_id, avg(t.soc_pct) AS soc, avg(t.power_kw) AS power
         FROM device_telemetry t WHERE t.at >= $1 AND t.at < $2 AND t.implausible IS NULL GROUP BY 1, 2)
     SELECT per.ts, sum(per.soc * d.capacity_kwh) / nullif(sum(d.capacity_kwh), 0) AS soc, sum(per.power) AS power, count(*)::int AS devices
       FROM per JOIN devices d ON d.id = per.device_id
      GROUP BY per.ts ORDER BY per.ts`, [from, to, bucketMinutes]);
  const round = (v: number | string | null, k: number) => (v === null ? null : Math.round(Number(v) * k) / k);
  return rows.map((r) => ({ ts: iso(r.ts)!, socPct: round(r.soc, 10), powerKw: round(r.power, 100), devices: Number(r.devices) }));
}

/** One bucket of a device's telemetry: mean SoC (%) and power (kW, + charging), the mode and schedule version it last reported in it. */
export interface DevicePoint { ts: string; socPct: number; powerKw: number; mode: string; scheduleVersion: number; samples: number }

/**
 * What a device reported executing over [from, to), in buckets of `bucketMinutes` (from device_telemetry); empty buckets
 * are absent. Its implausible readings (telemetry-check.ts) are left out, as in fleetHistory: they are counted and logged.
 */
export async function deviceTelemetry(db: Db, deviceId: string, from: Date, to: Date, bucketMinutes: number): Promise<DevicePoint[]> {
  const rows = await db.query<{ ts: Date | string; soc: number | string; power: number | string; mode: string; version: number; samples: number }>(
    `SELECT date_bin(make_interval(mins => $4), t.at, $2::timestamptz) AS ts, avg(t.soc_pct) AS soc, avg(t.power_kw) AS power,
            (array_agg(t.mode ORDER BY t.at DESC, t.seq DESC))[1] AS mode, (array_agg(t.schedule_version ORDER BY t.at DESC, t.seq DESC))[1] AS version,
            count(*)::int AS samples
       FROM device_telemetry t WHERE t.device_id = $1 AND t.at >= $2 AND t.at < $3 AND t.implausible IS NULL GROUP BY 1 ORDER BY 1`, [deviceId, from, to, bucketMinutes]);
  return rows.map((r) => ({
    ts: iso(r.ts)!, socPct: Math.round(Number(r.soc) * 10) / 10, powerKw: Math.round(Number(r.power) * 100) / 100,
    mode: r.mode, scheduleVersion: Number(r.version), samples: Number(r.samples),
  }));
}
