import type { Db } from '../platform/db.ts';
import { splitByWindow, type AckMessage, type AckState, type StatusMessage, type TelemetryMessage } from './messages.ts';
import { FLEET_CHANNEL, notifyFleet } from './fleet-events.ts';
import { splitJudged, splitPlausible, type Implausible } from './telemetry-check.ts';

/**
 * The delivery ledger: what each device said about each schedule version. Only the device's own word (an ack
 * over MQTT through the gateway, or POST /api/v1/devices/{id}/acks) moves a version past `sent`; a broker's
 * PUBACK proves nothing about the device.
 *
 * States of a version (schedule_versions.state): queued → sent → acknowledged → executing → succeeded | failed;
 * timed-out when the device stays silent too long (loops.ts); superseded when a newer version replaced it first.
 * An ack only moves a version forward: a replayed or reordered older ack is `stale` and changes nothing.
 * A timed-out version still takes the device's later word (the verdict was the cloud's guess, the ack is a fact).
 * A device's `rejected` ack (it refuses to execute the version) is recorded as `failed` with the reason.
 *
 * Every function here is set-based (one statement per batch), for the gateway's batches (bench target
 * ≥ 20,000 acks/s); each accepts any batch, including duplicates, in any order. The columns they write are in no
 * index (migration 0038), so their updates are HOT; keep it so (src/fleet/hot-updates.test.ts checks it).
 *
 * Lock order (no "deadlock detected"): every writer of devices and schedule_versions locks the device rows first, in
 * id order, then the ledger rows of those devices — the issuer (schedule-versions.ts issueVersions, FOR NO KEY
 * UPDATE), the publisher (distribution.ts latestOf, FOR SHARE), and the functions here (lockDevices, FOR NO KEY
 * UPDATE; the gateway locks a whole batch's devices first, ingest-writer.ts storeBatch). Call them in a transaction:
 * outside one each statement commits on its own and the order holds per statement only.
 */

/**
 * Locks these devices' rows FOR NO KEY UPDATE, in id order, until the caller's transaction ends (ids unknown are
 * ignored, duplicates allowed). The first step of every ledger writer (see the lock order above). Returns the ids of
 * those that are revoked, as committed when the lock was granted (a revocation committing meanwhile is waited for and
 * seen): a revoked device's messages still in flight — queued in a gateway batch, an HTTP call let in before the
 * revocation — are dropped by whoever stores them, never applied.
 */
export async function lockDevices(db: Db, ids: Iterable<string>): Promise<Set<string>> {
  const list = [...new Set(ids)];
  if (list.length === 0) return new Set();
  // every row locked: the revoked ones are picked by an aggregate's FILTER, which the planner cannot push below the
  // LockRows (a WHERE on the outer query would be, and only the revoked rows would be locked)
  const [row] = await db.query<{ revoked: string[] | null }>(
    `SELECT array_agg(id) FILTER (WHERE revoked) AS revoked
     FROM (SELECT id, revoked_at IS NOT NULL AS revoked FROM devices WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE) AS locked`, [list]);
  return new Set(row?.revoked ?? []);
}

/** The messages of devices not in `revoked`, and how many were left out. */
function withoutRevoked<T extends { deviceId: string }>(msgs: readonly T[], revoked: ReadonlySet<string>): { kept: T[]; revoked: number } {
  if (revoked.size === 0) return { kept: [...msgs], revoked: 0 };
  const kept = msgs.filter((m) => !revoked.has(m.deviceId));
  return { kept, revoked: msgs.length - kept.length };
}

/** `revoked` of an ApplyResult: present only when the batch named a revoked device. */
const revokedPart = (n: number) => (n > 0 ? { revoked: n } : {});

const RANK: Readonly<Record<AckState, number>> = { acknowledged: 2, executing: 3, succeeded: 4, failed: 4, rejected: 4 };

/** The rank of a stored version's state in SQL (timed-out: half a step above what the device last said). */
const STORED_RANK = `CASE v.state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'acknowledged' THEN 2 WHEN 'executing' THEN 3
  WHEN 'timed-out' THEN (CASE WHEN v.executing_at IS NOT NULL THEN 3.5 WHEN v.acknowledged_at IS NOT NULL THEN 2.5 ELSE 1.5 END) ELSE 9 END`;
const INPUT_RANK = `CASE i.state WHEN 'acknowledged' THEN 2 WHEN 'executing' THEN 3 ELSE 4 END`;

export interface ApplyResult {
  /** messages that changed the ledger (or the device row) */
  applied: number;
  /** known devices/versions whose state was already at or past what the message says, or an older message */
  stale: number;
  /** messages naming a device (or a device's version) that does not exist */
  unknown: number;
  /** messages whose `at` lies outside the accepted window (messages.ts outOfWindow): refused, changed nothing */
  outOfWindow: number;
  /** messages of a revoked device (e.g. in flight when it was revoked): dropped, changed nothing; present only when > 0 */
  revoked?: number;
  /**
   * applyAcks: per version acknowledged for the first time by this batch, seconds from its publication (`sent_at`) to
   * `now` (the ack stored); versions never marked sent are left out. The gateway observes these
   * (gridpulse_fleet_ack_latency_seconds).
   */
  ackLatencySeconds?: number[];
}

interface Folded { deviceId: string; version: number; state: 'acknowledged' | 'executing' | 'succeeded' | 'failed'; at: string; seq: number; reason: string | null; ackAt: string; execAt: string | null; count: number }

const earlier = (a: string | null, b: string) => (a === null || Date.parse(b) < Date.parse(a) ? b : a);

/** One entry per (device, version): the furthest state said (the first said among equals, by seq), and when it was first acknowledged / executing. */
function fold(acks: readonly AckMessage[]): Folded[] {
  const byKey = new Map<string, Folded>();
  for (const a of acks) {
    const key = `${a.deviceId}\u0000${a.version}`;
    const state = a.state === 'rejected' ? 'failed' : a.state;
    const reason = a.state === 'rejected' ? `rejected by the device${a.reason ? `: ${a.reason}` : ''}` : a.reason ?? null;
    const f = byKey.get(key);
    if (!f) {
      byKey.set(key, { deviceId: a.deviceId, version: a.version, state, at: a.at, seq: a.seq, reason, ackAt: a.at, execAt: a.state === 'executing' ? a.at : null, count: 1 });
      continue;
    }
    f.count++;
    f.ackAt = earlier(f.ackAt, a.at);
    if (a.state === 'executing') f.execAt = earlier(f.execAt, a.at);
    const r = RANK[a.state];
    const fr = RANK[f.state];
    if (r > fr || (r === fr && a.seq < f.seq)) Object.assign(f, { state, at: a.at, seq: a.seq, reason });
  }
  return [...byKey.values()];
}

/**
 * Applies devices' acknowledgements (gridpulse.ack/1) to the ledger in one statement (a second one only when the
 * batch holds stale or unknown acks): each (device, version)
 * moves to the furthest state said, if that is past its stored state; the device's confirmed version becomes
 * the highest version it acknowledged; its last-seen time advances. Returns counts per message
 * (`applied` + `stale` + `unknown` + `outOfWindow` + `revoked` = acks.length; an `at` outside messages.ts's window at `now` is refused). Call it with a transaction's Db to commit it with other writes.
 */
export async function applyAcks(db: Db, all: readonly AckMessage[], now: Date = new Date()): Promise<ApplyResult> {
  const { inWindow, outOfWindow } = splitByWindow(all, now.getTime());
  if (inWindow.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow };
  const { kept: acks, revoked } = withoutRevoked(inWindow, await lockDevices(db, inWindow.map((a) => a.deviceId)));
  if (acks.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow, ...revokedPart(revoked) };
  const f = fold(acks);
  const params = [f.map((x) => x.deviceId), f.map((x) => x.version), f.map((x) => x.state), f.map((x) => x.at), f.map((x) => x.seq), f.map((x) => x.reason),
    f.map((x) => x.ackAt), f.map((x) => x.execAt), f.map((x) => x.count)];
  // the common batch (every entry news): ONE join of the batch with the ledger, by primary key — the versions that
  // move, the devices whose confirmed version rises (or last seen is a minute old), and the live pages' notice
  const [row] = await db.query<{ changed: number; entries: number; latencies: Array<number | string> | null }>(
    `WITH i AS (${UNNEST_ACKS}),
     upd AS (
       UPDATE schedule_versions v SET
         state = i.state, state_at = i.at,
         acknowledged_at = COALESCE(v.acknowledged_at, i.ack_at),
         executing_at = CASE WHEN i.state IN ('executing', 'succeeded') THEN COALESCE(v.executing_at, i.exec_at, i.at) ELSE v.executing_at END,
         finished_at = CASE WHEN i.state IN ('succeeded', 'failed') THEN i.at ELSE v.finished_at END,
         ack_seq = i.seq, reason = COALESCE(i.reason, v.reason),
         -- a timed-out version revived by the device's late word rejoins the sweep's live list (distribution.ts
         -- sweepTimeouts: unfinished after its end plus the grace, it times out again); any other row keeps its value,
         -- so the update stays HOT
         next_publish_at = CASE WHEN v.state = 'timed-out' AND i.state IN ('acknowledged', 'executing') THEN $11::timestamptz ELSE v.next_publish_at END
       FROM i WHERE v.device_id = i.device_id AND v.version = i.version AND ${INPUT_RANK} > ${STORED_RANK}
       RETURNING i.device_id, i.version, i.at, i.n,
         -- first acknowledgement: the stored acknowledged_at is this batch's (COALESCE kept none older)
         CASE WHEN v.sent_at IS NOT NULL AND v.acknowledged_at = i.ack_at THEN extract(epoch FROM $11::timestamptz - v.sent_at)::float8 END AS latency
     ), dev AS (${DEVICE_UPDATE('upd')}),
     counted AS (SELECT COALESCE(sum(n), 0)::int AS changed, count(*)::int AS entries, (SELECT count(*) FROM dev) AS devices,
                        COALESCE(array_agg(latency) FILTER (WHERE latency IS NOT NULL), '{}') AS latencies FROM upd)
     SELECT changed, entries, latencies, CASE WHEN changed > 0 THEN pg_notify($10, json_build_object('kind', 'ledger', 'count', changed)::text) END AS notified FROM counted`,
    [...params, FLEET_CHANNEL, now]);
  const applied = Number(row!.changed);
  const ackLatencySeconds = (row!.latencies ?? []).map(Number);
  if (Number(row!.entries) === f.length) return { applied, stale: 0, unknown: 0, outOfWindow, ...revokedPart(revoked), ackLatencySeconds };
  // some entries were stale or unknown: the device's word still counts for the known ones (its confirmed version
  // — e.g. an ack of a version already superseded — and its last-seen time), and the rest are counted
  const [rest] = await db.query<{ known: number }>(
    `WITH i AS (${UNNEST_ACKS}),
     known AS (SELECT i.device_id, i.version, i.at, i.n FROM i JOIN schedule_versions v ON v.device_id = i.device_id AND v.version = i.version),
     dev AS (${DEVICE_UPDATE('known')})
     SELECT (SELECT COALESCE(sum(n), 0) FROM known)::int AS known, (SELECT count(*) FROM dev) AS devices`, params);
  const known = Number(rest!.known);
  return { applied, stale: known - applied, unknown: acks.length - known, outOfWindow, ...revokedPart(revoked), ackLatencySeconds };
}

/** The batch of folded acks as rows ($1…$9). */
const UNNEST_ACKS = `SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::bigint[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::int[])
  AS t(device_id, version, state, at, seq, reason, ack_at, exec_at, n)`;

/**
 * The devices of the acks in `from` (device_id, version, at): confirmed version raised to the highest acknowledged,
 * last seen advanced. A device row is rewritten only for news: a higher confirmed version, or a last-seen a minute
 * newer (telemetry keeps it fresh anyway); most acks (executing, succeeded) then touch the ledger alone.
 */
const DEVICE_UPDATE = (from: string) => `UPDATE devices d SET confirmed_version = GREATEST(d.confirmed_version, m.version), last_seen_at = GREATEST(d.last_seen_at, m.at)
       FROM (SELECT device_id, max(version) AS version, max(at) AS at FROM ${from} GROUP BY device_id) m
       WHERE d.id = m.device_id AND (d.confirmed_version < m.version OR d.last_seen_at IS NULL OR d.last_seen_at < m.at - interval '1 minute')
       RETURNING 1`;

/**
 * Applies status messages (gridpulse.status/1; the Last Will has no `at` and counts as now): online/offline,
 * agent version, last seen. Per device the last message of the batch wins; one older than the stored status
 * is stale.
 */
export async function applyStatus(db: Db, all: readonly StatusMessage[], now: Date = new Date()): Promise<ApplyResult> {
  const { inWindow, outOfWindow } = splitByWindow(all, now.getTime());
  if (inWindow.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow };
  const { kept: statuses, revoked } = withoutRevoked(inWindow, await lockDevices(db, inWindow.map((m) => m.deviceId)));
  if (statuses.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow, ...revokedPart(revoked) };
  const last = new Map<string, StatusMessage>();
  for (const s of statuses) last.set(s.deviceId, s);
  const list = [...last.values()];
  const [row] = await db.query<{ applied: number; known: number }>(
    `WITH i AS (SELECT * FROM unnest($1::text[], $2::text[]::boolean[], $3::timestamptz[], $4::text[]) AS t(device_id, online, at, agent_version)),
     upd AS (
       UPDATE devices d SET online = i.online, status_at = i.at,
         last_seen_at = CASE WHEN i.online THEN GREATEST(d.last_seen_at, i.at) ELSE d.last_seen_at END,
         agent_version = COALESCE(i.agent_version, d.agent_version), updated_at = now()
       FROM i WHERE d.id = i.device_id AND (d.status_at IS NULL OR i.at >= d.status_at)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM upd)::int AS applied, (SELECT count(*) FROM i JOIN devices d ON d.id = i.device_id)::int AS known`,
    // booleans travel as text: postgres.js does not send a boolean array as one
    [list.map((s) => s.deviceId), list.map((s) => (s.online ? 't' : 'f')), list.map((s) => s.at ?? now.toISOString()), list.map((s) => s.agentVersion ?? null)]);
  const applied = Number(row!.applied);
  await notifyFleet(db, 'devices', applied);
  const unknown = Number(row!.known) === list.length ? 0 : await countUnknownMessages(db, statuses);
  return { applied, stale: statuses.length - applied - unknown, unknown, outOfWindow, ...revokedPart(revoked) };
}

/**
 * Keeps each device's latest telemetry (gridpulse.telemetry/1) on its row: SoC, power, the version it executes,
 * its mode, last seen. The newest message by `at` (then `seq`) wins; a replayed older one changes nothing. A reading
 * that breaks a plausibility rule (telemetry-check.ts: power beyond the device's limits, or a version never issued to
 * it; a SoC outside the operating window is the real state and applies) changes nothing either: it is returned in
 * `implausible` (the caller counts and logs it). `judged`: the verdicts already decided in this transaction (the
 * gateway's storeBatch decides before it stores the series, with the verdicts in it): used as they are, not decided again.
 * The time series itself is the gateway's (fleet-bus, migration 0032).
 */
export async function applyTelemetryLatest(db: Db, all: readonly TelemetryMessage[], now: Date = new Date(), judged?: readonly Implausible[]): Promise<TelemetryApplyResult> {
  const { inWindow, outOfWindow } = splitByWindow(all, now.getTime());
  if (inWindow.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow, implausible: [] };
  const { kept: telemetry, revoked } = withoutRevoked(inWindow, await lockDevices(db, inWindow.map((m) => m.deviceId)));
  if (telemetry.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow, implausible: [], ...revokedPart(revoked) };
  const { plausible, implausible } = judged ? splitJudged(telemetry, judged) : await splitPlausible(db, telemetry);
  if (plausible.length === 0) return { applied: 0, stale: 0, unknown: 0, outOfWindow, implausible, ...revokedPart(revoked) };
  const newest = new Map<string, TelemetryMessage>();
  for (const t of plausible) {
    const o = newest.get(t.deviceId);
    const d = o ? Date.parse(t.at) - Date.parse(o.at) : 1;
    if (!o || d > 0 || (d === 0 && t.seq > o.seq)) newest.set(t.deviceId, t);
  }
  const list = [...newest.values()];
  const [row] = await db.query<{ applied: number; known: number }>(
    `WITH i AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::float8[], $5::float8[], $6::int[], $7::text[])
                AS t(device_id, at, seq, soc, power, version, mode)),
     upd AS (
       UPDATE devices d SET soc_pct = i.soc, power_kw = i.power, telemetry_at = i.at, telemetry_seq = i.seq,
         reported_version = i.version, reported_mode = i.mode, last_seen_at = GREATEST(d.last_seen_at, i.at)
       FROM i WHERE d.id = i.device_id
         AND (d.telemetry_at IS NULL OR i.at > d.telemetry_at OR (i.at = d.telemetry_at AND i.seq > d.telemetry_seq))
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM upd)::int AS applied, (SELECT count(*) FROM i JOIN devices d ON d.id = i.device_id)::int AS known`,
    [list.map((t) => t.deviceId), list.map((t) => t.at), list.map((t) => t.seq), list.map((t) => t.socPct), list.map((t) => t.powerKw),
      list.map((t) => t.scheduleVersion), list.map((t) => t.mode)]);
  const applied = Number(row!.applied);
  await notifyFleet(db, 'devices', applied);
  const unknown = Number(row!.known) === list.length ? 0 : await countUnknownMessages(db, plausible);
  return { applied, stale: plausible.length - applied - unknown, unknown, outOfWindow, implausible, ...revokedPart(revoked) };
}

/** applyTelemetryLatest's result: also the readings that broke a plausibility rule (telemetry-check.ts), not applied. */
export interface TelemetryApplyResult extends ApplyResult { implausible: Implausible[] }

async function countUnknownMessages(db: Db, msgs: readonly { deviceId: string }[]): Promise<number> {
  const ids = [...new Set(msgs.map((m) => m.deviceId))];
  const rows = await db.query<{ id: string }>('SELECT id FROM devices WHERE id = ANY($1::text[])', [ids]);
  const known = new Set(rows.map((r) => r.id));
  return msgs.filter((m) => !known.has(m.deviceId)).length;
}
