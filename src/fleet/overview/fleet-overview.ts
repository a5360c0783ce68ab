import type { Db } from '../../platform/db.ts';

/**
 * What the fleet pages show, read in a few set-based queries over fleet-core's tables (devices,
 * schedule_versions, rollouts, rollout_devices). Units: SoC in percent of usable capacity, energy kWh,
 * power kW (+ charging, − discharging), instants ISO 8601 UTC.
 */

/** How long after its last sign of life a device still counts as online although no Last Will arrived (heartbeats are ~1 a minute). */
export const STALE_AFTER_MS = 5 * 60_000;

/** The window of the command success rate. */
export const SUCCESS_WINDOW_HOURS = 24;

export type DeviceStatus = 'online' | 'offline' | 'never-seen';

export interface RolloutProgress {
  id: string; targetKind: 'device' | 'group' | 'fleet'; groupId: string | null; groupName: string | null;
  status: 'running' | 'completed' | 'aborted' | 'cancelled'; statusReason: string | null;
  total: number; issued: number;
  /** versions the device itself confirmed: acknowledged, executing or succeeded */
  confirmed: number; succeeded: number; failed: number; timedOut: number; superseded: number;
  /** devices not issued (refused at issue time, cancelled) */
  skipped: number;
  /** share of the target devices done with delivery (confirmed, failed, timed out, superseded or skipped), percent 0–100 */
  progressPct: number;
  abortFailurePct: number; createdAt: string; finishedAt: string | null;
}

export interface FleetOverview {
  at: string;
  devices: { total: number; online: number; offline: number; neverSeen: number };
  /** energy-weighted over online devices that reported a SoC: Σ(SoC × capacity) / Σ capacity */
  soc: { fleetPct: number | null; storedKwh: number | null; capacityKwh: number; reporting: number };
  /** Σ of the online devices' last reported power */
  power: { netKw: number; chargingKw: number; dischargingKw: number; reporting: number };
  /** versions that finished within the window: succeeded / (succeeded + failed + timed out); superseded ones do not count */
  commands: { windowHours: number; succeeded: number; failed: number; timedOut: number; pending: number; successRatePct: number | null };
  rollouts: RolloutProgress[];
  /** the offline devices, longest offline first (at most 50) */
  offline: OfflineDevice[];
}

const iso = (v: Date | string | null | undefined) => (v === null || v === undefined ? null : new Date(v).toISOString());
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * The SQL condition "this device counts as online" at `$1` (a timestamptz): its last status said online and it
 * showed a sign of life within STALE_AFTER_MS. Shared by the overview, the device list and the offline-devices alert.
 */
export const ONLINE_SQL = `(d.online AND d.last_seen_at IS NOT NULL AND d.last_seen_at > $1::timestamptz - interval '${STALE_AFTER_MS / 1000} seconds')`;

/** One device's status at `now` (same rule as ONLINE_SQL). */
export function deviceStatus(d: { online: boolean; lastSeenAt: string | null }, now: Date): DeviceStatus {
  if (!d.lastSeenAt) return 'never-seen';
  return d.online && Date.parse(d.lastSeenAt) > now.getTime() - STALE_AFTER_MS ? 'online' : 'offline';
}

export interface OfflineDevice { id: string; name: string; baCode: string | null; lastSeenAt: string | null; offlineSince: string | null }

/**
 * The devices offline at `now` (seen at least once, not online by ONLINE_SQL), longest offline first. `offlineSince`:
 * the time of their offline status (Last Will), or their last sign of life when they fell silent without one.
 */
export async function offlineDevices(db: Db, now: Date, opts: { ba?: string | null; limit?: number; offlineBefore?: Date } = {}): Promise<OfflineDevice[]> {
  const rows = await db.query<{ id: string; name: string; ba_code: string | null; last_seen_at: Date | string | null; offline_since: Date | string | null }>(
    `SELECT * FROM (
       SELECT d.id, d.name, d.ba_code, d.last_seen_at,
              CASE WHEN d.online THEN d.last_seen_at ELSE coalesce(d.status_at, d.last_seen_at) END AS offline_since
         FROM devices d
        WHERE d.revoked_at IS NULL AND d.last_seen_at IS NOT NULL AND NOT ${ONLINE_SQL} AND ($2::text IS NULL OR d.ba_code = $2)) o
      WHERE $4::timestamptz IS NULL OR o.offline_since <= $4::timestamptz
      ORDER BY o.offline_since, o.id LIMIT $3`, [now, opts.ba ?? null, opts.limit ?? 1_000, opts.offlineBefore ?? null]);
  return rows.map((d) => ({ id: d.id, name: d.name, baCode: d.ba_code, lastSeenAt: iso(d.last_seen_at), offlineSince: iso(d.offline_since) }));
}

/** Rollouts running now plus those finished in the last day, newest first (at most 20). */
export async function rolloutProgress(db: Db, now: Date, ids?: string[]): Promise<RolloutProgress[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT r.id, r.target_kind, r.group_id, g.name AS group_name, r.status, r.status_reason, r.total, r.issued, r.abort_failure_pct,
            r.created_at, r.finished_at,
            count(*) FILTER (WHERE v.state IN ('acknowledged', 'executing', 'succeeded'))::int AS confirmed,
            count(*) FILTER (WHERE v.state = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE v.state = 'failed')::int AS failed,
            count(*) FILTER (WHERE v.state = 'timed-out')::int AS timed_out,
            count(*) FILTER (WHERE v.state = 'superseded')::int AS superseded,
            count(*) FILTER (WHERE rd.skipped IS NOT NULL)::int AS skipped,
            count(rd.device_id)::int AS targets
       FROM rollouts r
       LEFT JOIN device_groups g ON g.id = r.group_id
       LEFT JOIN rollout_devices rd ON rd.rollout_id = r.id
       LEFT JOIN schedule_versions v ON v.device_id = rd.device_id AND v.version = rd.version
      WHERE ${ids ? 'r.id = ANY ($2::uuid[])' : `(r.status = 'running' OR r.finished_at > $1::timestamptz - interval '1 day')`}
      GROUP BY r.id, g.name
      ORDER BY r.created_at DESC
      LIMIT 20`, ids ? [now, ids] : [now]);
  return rows.map((r) => {
    const total = Math.max(Number(r.total), Number(r.targets));
    const confirmed = Number(r.confirmed); const failed = Number(r.failed); const timedOut = Number(r.timed_out);
    const superseded = Number(r.superseded); const skipped = Number(r.skipped);
    const done = confirmed + failed + timedOut + superseded + skipped;
    return {
      id: String(r.id), targetKind: r.target_kind as RolloutProgress['targetKind'], groupId: (r.group_id as string | null) ?? null,
      groupName: (r.group_name as string | null) ?? null, status: r.status as RolloutProgress['status'], statusReason: (r.status_reason as string | null) ?? null,
      total, issued: Number(r.issued), confirmed, succeeded: Number(r.succeeded), failed, timedOut, superseded, skipped,
      progressPct: total === 0 ? 100 : Math.min(100, Math.round((done / total) * 1000) / 10),
      abortFailurePct: Number(r.abort_failure_pct), createdAt: iso(r.created_at as Date)!, finishedAt: iso(r.finished_at as Date | null),
    };
  });
}

/** The fleet at `now`: devices by status, fleet SoC and power, command success rate, rollouts, offline devices. */
export async function fleetOverview(db: Db, now: Date): Promise<FleetOverview> {
  const [counts] = await db.query<Record<string, unknown>>(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE ${ONLINE_SQL})::int AS online,
            count(*) FILTER (WHERE d.last_seen_at IS NULL)::int AS never_seen,
            count(*) FILTER (WHERE ${ONLINE_SQL} AND d.soc_pct IS NOT NULL)::int AS soc_reporting,
            sum(d.capacity_kwh * d.soc_pct / 100) FILTER (WHERE ${ONLINE_SQL}) AS stored_kwh,
            sum(d.capacity_kwh) FILTER (WHERE ${ONLINE_SQL} AND d.soc_pct IS NOT NULL) AS soc_capacity_kwh,
            coalesce(sum(d.capacity_kwh), 0) AS capacity_kwh,
            count(*) FILTER (WHERE ${ONLINE_SQL} AND d.power_kw IS NOT NULL)::int AS power_reporting,
            coalesce(sum(d.power_kw) FILTER (WHERE ${ONLINE_SQL}), 0) AS net_kw,
            coalesce(sum(greatest(d.power_kw, 0)) FILTER (WHERE ${ONLINE_SQL}), 0) AS charging_kw,
            coalesce(sum(least(d.power_kw, 0)) FILTER (WHERE ${ONLINE_SQL}), 0) AS discharging_kw
       FROM devices d WHERE d.revoked_at IS NULL`, [now]);
  const [commands] = await db.query<Record<string, unknown>>(
    `SELECT count(*) FILTER (WHERE state = 'succeeded' AND finished_at > $1::timestamptz - make_interval(hours => $2))::int AS succeeded,
            count(*) FILTER (WHERE state = 'failed' AND finished_at > $1::timestamptz - make_interval(hours => $2))::int AS failed,
            count(*) FILTER (WHERE state = 'timed-out' AND state_at > $1::timestamptz - make_interval(hours => $2))::int AS timed_out,
            count(*) FILTER (WHERE state IN ('queued', 'sent', 'acknowledged', 'executing'))::int AS pending
       FROM schedule_versions`, [now, SUCCESS_WINDOW_HOURS]);
  const offline = await offlineDevices(db, now, { limit: 50 });
  const c = counts!;
  const total = Number(c.total); const online = Number(c.online); const neverSeen = Number(c.never_seen);
  const socCapacity = num(c.soc_capacity_kwh);
  const stored = num(c.stored_kwh);
  const done = { succeeded: Number(commands!.succeeded), failed: Number(commands!.failed), timedOut: Number(commands!.timed_out) };
  const finished = done.succeeded + done.failed + done.timedOut;
  const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
  return {
    at: now.toISOString(),
    devices: { total, online, offline: total - online - neverSeen, neverSeen },
    soc: {
      fleetPct: socCapacity && stored !== null ? round((stored / socCapacity) * 100) : null,
      storedKwh: stored === null ? null : round(stored), capacityKwh: round(Number(c.capacity_kwh)), reporting: Number(c.soc_reporting),
    },
    power: { netKw: round(Number(c.net_kw), 2), chargingKw: round(Number(c.charging_kw), 2), dischargingKw: round(Number(c.discharging_kw), 2), reporting: Number(c.power_reporting) },
    commands: { windowHours: SUCCESS_WINDOW_HOURS, ...done, pending: Number(commands!.pending), successRatePct: finished ? round((done.succeeded / finished) * 100) : null },
    rollouts: await rolloutProgress(db, now),
    offline,
  };
}

/** One bucket of the fleet over time: energy-weighted SoC (%), summed power (kW, + charging) and how many devices reported. */
export interface FleetHistoryPoint { ts: string; socPct: number | null; powerKw: number | null; devices: number }

/**
 * The fleet's SoC and power over [from, to) in buckets of `bucketMinutes`, from the devices' telemetry
 * (device_telemetry): per device the mean of its samples in the bucket, then across devices SoC weighted by
 * usable capacity (Σ SoC × capacity / Σ capacity) and power summed. A bucket no device reported in is absent.
 */
export async function fleetHistory(db: Db, from: Date, to: Date, bucketMinutes: number): Promise<FleetHistoryPoint[]> {
  const rows = await db.query<{ ts: Date | string; soc: number | string | null; power: number | string | null; devices: number }>(
    `WITH per AS (
       SELECT date_bin(make_interval(mins => $3), t.at, $1::timestamptz) AS ts, t.device_id, avg(t.soc_pct) AS soc, avg(t.power_kw) AS power
         FROM device_telemetry t WHERE t.at >= $1 AND t.at < $2 GROUP BY 1, 2)
     SELECT per.ts, sum(per.soc * d.capacity_kwh) / nullif(sum(d.capacity_kwh), 0) AS soc, sum(per.power) AS power, count(*)::int AS devices
       FROM per JOIN devices d ON d.id = per.device_id
      GROUP BY per.ts ORDER BY per.ts`, [from, to, bucketMinutes]);
  const round = (v: number | string | null, k: number) => (v === null ? null : Math.round(Number(v) * k) / k);
  return rows.map((r) => ({ ts: iso(r.ts)!, socPct: round(r.soc, 10), powerKw: round(r.power, 100), devices: Number(r.devices) }));
}
