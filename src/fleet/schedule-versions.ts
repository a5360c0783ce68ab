import type { Db } from '../platform/db.ts';
import type { DeliveryState } from './contract.ts';
import { canonicalInterval, type ScheduleInterval, type ScheduleMessage } from './messages.ts';
import { checkSchedule, socAssumption, type DeviceLimits, type ScheduleProblem, type SkipReason } from './schedule-check.ts';

export { SKIP_REASONS, type SkipReason } from './schedule-check.ts';
import { notifyFleet, notifyScheduleWaiters } from './fleet-events.ts';
import { DEVICE_LIMIT_COLUMNS, toDeviceLimits, type DeviceLimitsRow } from './device-repository.ts';

/**
 * Schedule versions: every accepted schedule becomes, for each device it targets, a new version numbered one
 * above the device's last (1, 2, 3, … per device, never reused), holding the device's whole desired schedule.
 *
 * Conflicts, by priority: a new schedule supersedes the device's unfinished version (queued … executing, not yet
 * ended) when its priority is at least that version's — it becomes `superseded` and the device executes only the new
 * one; it is REJECTED (409, field `priority`) when that version has a higher priority. The unfinished version is the
 * device's desired one: each accepted version supersedes the one before. An older version that timed out and was
 * then revived by the device's late acknowledgement is history, not a conflict (the agent runs only its newest
 * version); the timeout sweep closes it after its end (ledger.ts).
 */

const ACTIVE = `('queued', 'sent', 'acknowledged', 'executing')`;

export interface IssueRequest {
  deviceIds: readonly string[];
  intervals: readonly ScheduleInterval[];
  priority: number;
  rolloutId?: string | null | undefined;
  /** the clock (ms); default Date.now() */
  now?: number;
  /** first re-publish if the device has not acknowledged by then, ms */
  republishMs: number;
}

export interface Refusal { deviceId: string; problem: ScheduleProblem | { field: string; detail: string; kind: 'conflict' | 'unknown' }; reason: SkipReason }
export interface IssueResult {
  messages: ScheduleMessage[]; superseded: Array<{ deviceId: string; version: number }>; refused: Refusal[];
  /** accepted devices that never reported a SoC, with what the check assumed of them (schedule-check.ts socAssumption) */
  assumed?: Array<{ deviceId: string; assumption: string }>;
}

/**
 * Validates and stores new versions for these devices in the caller's transaction (their rows are locked FOR NO KEY
 * UPDATE, in id order, before any ledger row: the lock order of every writer of devices and schedule_versions —
 * ledger.ts lockDevices — so issuers, publishers and the gateway's ack batches never deadlock, and versions never
 * repeat; NO KEY, so inserts referencing the devices are not held up). Devices whose schedule is infeasible,
 * conflicts with a higher priority, or that do not exist (or are revoked) are refused and get nothing; with
 * `allOrNothing` the first refusal is returned alone and nothing is stored; `dryRun` only checks (without locking:
 * a 10,000-device fleet's check locked 10,000 rows for nothing, as the runner checks each device again when it issues). Set-based: one statement per step
 * for any number of devices. The returned messages are to be published after commit (publishVersions).
 */
export async function issueVersions(tx: Db, issue: IssueRequest, opts: { allOrNothing?: boolean; dryRun?: boolean } = {}): Promise<IssueResult> {
  // every issuer's instants (operators', the optimizer's, market dispatch's) stored and sent in one canonical UTC form
  const req = { ...issue, intervals: issue.intervals.map(canonicalInterval) };
  const now = req.now ?? Date.now();
  const ids = [...new Set(req.deviceIds)].sort();
  // Only what the check needs (timestamps and names are not parsed for 10,000 devices), with the device's one
  // unfinished version that blocks this priority. A device has at most one unfinished version, its desired one:
  // every accepted version supersedes all older unfinished ones in its own transaction (below), and a refused
  // one stores nothing. So the conflict and the supersede look at version = desired_version, a primary-key probe,
  // never at all of a device's versions (the optimizer re-plans every 5 minutes: 288 versions a day per device).
  // A dry run stores nothing and locks nothing: who issues later checks again under the lock (rollouts: the runner, per chunk).
  const rows = await tx.query<IssueRow>(
    `SELECT d.id, ${DEVICE_LIMIT_COLUMNS.split(',').map((c) => `d.${c.trim()}`).join(', ')}, d.soc_pct, d.desired_version, v.priority AS blocking_priority
     FROM devices d LEFT JOIN schedule_versions v ON v.device_id = d.id AND v.version = d.desired_version
       AND v.state IN ${ACTIVE} AND v.ends_at > $2 AND v.priority > $3
     WHERE d.id = ANY($1::text[]) AND d.revoked_at IS NULL ORDER BY d.id${opts.dryRun ? '' : ' FOR NO KEY UPDATE OF d'}`,
    [ids, new Date(now), req.priority]);
  const found = new Map(rows.map((r) => [r.id, r]));
  const refused: Refusal[] = [];
  const accepted: Array<{ id: string; version: number; fallback: string; socPct: number | null; limits: DeviceLimits }> = [];
  for (const id of ids) {
    const r = found.get(id);
    if (!r) { refused.push({ deviceId: id, problem: { field: 'deviceId', detail: `deviceId: no active device ${id}`, kind: 'unknown' }, reason: 'not-active' }); continue; }
    const version = Number(r.desired_version);
    if (r.blocking_priority !== null) {
      const p = Number(r.blocking_priority);
      refused.push({ deviceId: id, problem: { field: 'priority', kind: 'conflict', detail: `priority: device ${id} has version ${version} of priority ${p} not yet finished; a schedule of priority ${req.priority} does not supersede it (send priority ≥ ${p})` }, reason: 'priority-conflict' });
      continue;
    }
    const limits = toDeviceLimits(r);
    const socPct = r.soc_pct === null ? null : Number(r.soc_pct);
    const problem = checkSchedule(req.intervals, limits, socPct, now);
    if (problem) {
      const reason: SkipReason = problem.cause !== 'soc' ? 'beyond-limits' : socPct === null ? 'no-reported-soc' : 'soc-infeasible';
      refused.push({ deviceId: id, problem, reason });
      continue;
    }
    accepted.push({ id, version: version + 1, fallback: r.fallback, socPct, limits });
  }
  if (opts.allOrNothing && refused.length) return { messages: [], superseded: [], refused: refused.slice(0, 1) };
  if (accepted.length === 0 || opts.dryRun) return { messages: [], superseded: [], refused };
  const issuedAt = new Date(now);
  const devIds = accepted.map((a) => a.id);
  // supersede (the one unfinished version, the previous desired one), insert and point the devices at the new
  // versions: one statement for any number of devices
  const superseded = await tx.query<{ device_id: string; version: number }>(
    `WITH n AS (SELECT * FROM unnest($1::text[], $2::int[], $10::text[]) AS n(device_id, version, fallback)),
     ins AS (INSERT INTO schedule_versions (device_id, version, priority, intervals, fallback, starts_at, ends_at, issued_at, rollout_id, state, state_at, next_publish_at)
             SELECT n.device_id, n.version, $3, $4::text::jsonb, n.fallback, $5, $6, $7, $8, 'queued', $7, $9 FROM n),
     dev AS (UPDATE devices d SET desired_version = n.version, updated_at = $7 FROM n WHERE d.id = n.device_id)
     UPDATE schedule_versions v SET state = 'superseded', state_at = $7, superseded_by = n.version, next_publish_at = 'infinity'
     FROM n WHERE v.device_id = n.device_id AND v.version = n.version - 1 AND v.state IN ${ACTIVE}
     RETURNING v.device_id, v.version`,
    [devIds, accepted.map((a) => a.version), req.priority, JSON.stringify(req.intervals), req.intervals[0]!.start, req.intervals.at(-1)!.end, issuedAt,
      req.rolloutId ?? null, new Date(now + req.republishMs), accepted.map((a) => a.fallback)]);
  await notifyScheduleWaiters(tx, devIds);
  await notifyFleet(tx, 'ledger', devIds.length);
  const messages = accepted.map((a): ScheduleMessage => ({
    schema: 'gridpulse.schedule/1', deviceId: a.id, version: a.version, issuedAt: issuedAt.toISOString(), intervals: req.intervals.map((iv) => ({ ...iv })),
    fallback: a.fallback as ScheduleMessage['fallback'], ...(req.rolloutId ? { rolloutId: req.rolloutId } : {}),
  }));
  const assumed = accepted.filter((a) => a.socPct === null).map((a) => ({ deviceId: a.id, assumption: socAssumption(a.limits) }));
  return { messages, superseded: superseded.map((r) => ({ deviceId: r.device_id, version: Number(r.version) })), refused, assumed };
}

/** What issueVersions reads of a device: its limits, its reported SoC, its desired version and the priority of that version when it blocks. */
interface IssueRow extends DeviceLimitsRow { id: string; soc_pct: number | null; desired_version: number; blocking_priority: number | null }

interface VersionRow {
  device_id: string; version: number; priority: number; intervals: ScheduleInterval[]; fallback: string; starts_at: Date | string; ends_at: Date | string;
  issued_at: Date | string; rollout_id: string | null; state: DeliveryState; state_at: Date | string; sent_at: Date | string | null;
  acknowledged_at: Date | string | null; executing_at: Date | string | null; finished_at: Date | string | null; publish_count: number;
  reason: string | null; superseded_by: number | null;
}
const VERSION_COLUMNS = `device_id, version, priority, intervals, fallback, starts_at, ends_at, issued_at, rollout_id, state, state_at, sent_at,
  acknowledged_at, executing_at, finished_at, publish_count, reason, superseded_by`;

export interface ScheduleVersion {
  deviceId: string; version: number; priority: number; intervals: ScheduleInterval[]; fallback: string; startsAt: string; endsAt: string;
  issuedAt: string; rolloutId: string | null; state: DeliveryState; stateAt: string; sentAt: string | null; acknowledgedAt: string | null;
  executingAt: string | null; finishedAt: string | null; publishCount: number; reason: string | null; supersededBy: number | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export const toVersion = (r: VersionRow): ScheduleVersion => ({
  deviceId: r.device_id, version: Number(r.version), priority: Number(r.priority), intervals: r.intervals, fallback: r.fallback,
  startsAt: iso(r.starts_at)!, endsAt: iso(r.ends_at)!, issuedAt: iso(r.issued_at)!, rolloutId: r.rollout_id, state: r.state, stateAt: iso(r.state_at)!,
  sentAt: iso(r.sent_at), acknowledgedAt: iso(r.acknowledged_at), executingAt: iso(r.executing_at), finishedAt: iso(r.finished_at),
  publishCount: Number(r.publish_count), reason: r.reason, supersededBy: r.superseded_by === null ? null : Number(r.superseded_by),
});

/** The message of a stored version (what the bus publishes and GET …/schedule answers). */
export const messageOf = (v: ScheduleVersion): ScheduleMessage => ({
  schema: 'gridpulse.schedule/1', deviceId: v.deviceId, version: v.version, issuedAt: v.issuedAt, intervals: v.intervals,
  fallback: v.fallback as ScheduleMessage['fallback'], ...(v.rolloutId ? { rolloutId: v.rolloutId } : {}),
});

export async function getVersion(db: Db, deviceId: string, version: number): Promise<ScheduleVersion | undefined> {
  const [row] = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM schedule_versions WHERE device_id = $1 AND version = $2`, [deviceId, version]);
  return row ? toVersion(row) : undefined;
}

/** A device's versions, newest first (its delivery history). */
export async function listVersions(db: Db, deviceId: string, limit = 20): Promise<ScheduleVersion[]> {
  const rows = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM schedule_versions WHERE device_id = $1 ORDER BY version DESC LIMIT $2`, [deviceId, limit]);
  return rows.map(toVersion);
}

/** Versions by key, in one query (the re-publisher's and the HTTP poll's reads). */
export async function getVersions(db: Db, keys: ReadonlyArray<{ deviceId: string; version: number }>): Promise<ScheduleVersion[]> {
  if (keys.length === 0) return [];
  const rows = await db.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS.split(',').map((c) => `v.${c.trim()}`).join(', ')} FROM schedule_versions v
     JOIN unnest($1::text[], $2::int[]) AS k(device_id, version) ON v.device_id = k.device_id AND v.version = k.version`,
    [keys.map((k) => k.deviceId), keys.map((k) => k.version)]);
  return rows.map(toVersion);
}
