import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { FleetBus, FleetLoopOptions } from './contract.ts';
import type { ScheduleMessage } from './messages.ts';
import { getVersions, messageOf } from './schedule-versions.ts';
import { countPublished, countRefused } from './fleet-metrics.ts';
import { PublishRefusedError, type RefusalReason } from './bus/publish-refusal.ts';
import { notifyFleet } from './fleet-events.ts';

/**
 * Distribution: publishing versions on the bus, re-publishing those the device has not acknowledged, and the
 * timeouts. Every step is safe with many copies running (web copies and gateways): work is claimed with
 * `FOR UPDATE SKIP LOCKED` and moved ahead (next_publish_at) in the claiming transaction, so two copies never
 * publish the same due version in the same round; state changes only move forward.
 */

export const LOOP_DEFAULTS: Required<Omit<FleetLoopOptions, 'now'>> = {
  tickMs: 1_000, republishMs: 30_000, maxRepublishMs: 300_000, ackTimeoutMs: 900_000, finishGraceMs: 600_000, batch: 500,
};
export type LoopSettings = Required<Omit<FleetLoopOptions, 'now'>> & { now: () => number };
export const loopSettings = (o: FleetLoopOptions = {}): LoopSettings => ({ ...LOOP_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)), now: o.now ?? Date.now });

/**
 * Records that versions reached the device's channel (published to the broker, or fetched over HTTP): queued
 * becomes sent (never backwards), the publish count grows and the next re-publish is scheduled: republishMs ·
 * 2^(publishes so far), at most maxRepublishMs, after now — except on a version's first send while the turn it was
 * given when issued (issue time + republishMs) is still ahead and no later than that: it is kept, so the re-publish
 * comes at most republishMs after the send (a first send follows its issue by the publish's own latency), and the
 * update changes no indexed column (next_publish_at is the live list's key, migration 0038): heap-only, like an
 * ack's, with no index entry written for the 10,000 versions of a fleet rollout.
 */
export async function markSent(db: Db, keys: ReadonlyArray<{ deviceId: string; version: number }>, s: LoopSettings): Promise<void> {
  if (keys.length === 0) return;
  const now = s.now();
  await db.query(
    `UPDATE schedule_versions v SET state = CASE WHEN v.state = 'queued' THEN 'sent' ELSE v.state END,
       state_at = CASE WHEN v.state = 'queued' THEN $3 ELSE v.state_at END,
       sent_at = COALESCE(v.sent_at, $3), publish_count = v.publish_count + 1,
       next_publish_at = CASE WHEN v.publish_count = 0 AND v.next_publish_at > $3::timestamptz
                                   AND v.next_publish_at <= $3::timestamptz + $4::float8 * interval '1 millisecond' THEN v.next_publish_at
                              ELSE $3::timestamptz + LEAST($5::float8, $4::float8 * 2 ^ LEAST(20, v.publish_count)) * interval '1 millisecond' END
     FROM unnest($1::text[], $2::int[]) AS k(device_id, version)
     WHERE v.device_id = k.device_id AND v.version = k.version`,
    [keys.map((k) => k.deviceId), keys.map((k) => k.version), new Date(now), s.republishMs, s.maxRepublishMs]);
  await notifyFleet(db, 'ledger', keys.length);
}

/**
 * Publishes messages with at most `concurrency` in flight; returns those the bus took, those it refused for good
 * (PublishRefusedError: never retried) and the count of the rest, which failed for a transient reason.
 */
export async function publishAll(bus: FleetBus, messages: readonly ScheduleMessage[], concurrency = 1_000): Promise<{ ok: ScheduleMessage[]; refused: Refused[]; failed: number; error?: string }> {
  const ok: ScheduleMessage[] = [];
  const refused: Refused[] = [];
  let failed = 0;
  let error: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      try {
        await bus.publishSchedule(m);
        ok.push(m);
      } catch (err) {
        if (err instanceof PublishRefusedError) refused.push({ deviceId: m.deviceId, version: m.version, reason: err.reason, detail: err.message });
        else { failed++; error ??= (err as Error).message; }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));
  return { ok, refused, failed, ...(error ? { error } : {}) };
}

/** A version the bus refused for good, and why (publish-refusal.ts). */
export interface Refused { deviceId: string; version: number; reason: RefusalReason; detail: string }

/**
 * Records versions the bus refused for good as `failed` with the reason "publish refused: …" (only from queued or
 * sent: a device's own later word is not overwritten), off the re-publisher's list; returns how many changed.
 * A rollout counts them as failed (rollouts.ts: its abort threshold sees them).
 */
export async function markRefused(db: Db, refused: readonly Refused[], s: LoopSettings): Promise<number> {
  if (refused.length === 0) return 0;
  const rows = await db.query<{ n: number }>(
    `WITH upd AS (
       UPDATE schedule_versions v SET state = 'failed', state_at = $4, finished_at = $4, reason = left('publish refused: ' || k.detail, 500), next_publish_at = 'infinity'
       FROM unnest($1::text[], $2::int[], $3::text[]) AS k(device_id, version, detail)
       WHERE v.device_id = k.device_id AND v.version = k.version AND v.state IN ('queued', 'sent')
       RETURNING 1)
     SELECT count(*)::int AS n FROM upd`,
    [refused.map((r) => r.deviceId), refused.map((r) => r.version), refused.map((r) => r.detail), new Date(s.now())]);
  const n = Number(rows[0]!.n);
  await notifyFleet(db, 'ledger', n);
  return n;
}

/** Versions published per transaction (publishVersions): the share locks of one chunk are held only while it is published. */
export const PUBLISH_CHUNK = 1_000;

/**
 * Publishes versions (newly issued ones after their transaction committed, and the re-publisher's) and records
 * them sent — ONLY a device's latest desired version that is still queued or sent. The check and the publish run
 * under one share lock of the device rows (`FOR SHARE`, in one statement that claims them, in id order): an issuer
 * (issueVersions locks the rows FOR NO KEY UPDATE) waits until the publish ended, and a version superseded before
 * the lock is left out, so a device's retained schedule topic never goes back to an older version. The messages
 * go in chunks of PUBLISH_CHUNK, each in a transaction of its own (all of a chunk in flight at once, the transaction
 * ending when the broker confirmed them), so a device's acknowledgement, which the gateway applies under the
 * device's row lock, waits for its own chunk only. A version the bus refuses stays queued: the re-publisher sends
 * it when due. Returns how many the bus took (counted, after each chunk's commit, in
 * gridpulse_fleet_versions_published_total of the registry attached to `db`).
 */
export async function publishVersions(db: Db, bus: FleetBus | undefined, messages: readonly ScheduleMessage[], s: LoopSettings, logger?: Logger): Promise<number> {
  if (!bus || messages.length === 0) return 0;
  let sent = 0;
  for (let i = 0; i < messages.length; i += PUBLISH_CHUNK) {
    const chunk = messages.slice(i, i + PUBLISH_CHUNK);
    const published = await db.transaction(async (tx) => {
      const latest = await latestOf(tx, chunk.map((m) => ({ deviceId: m.deviceId, version: m.version })));
      const current = chunk.filter((m) => latest.has(`${m.deviceId}\u0000${m.version}`));
      if (current.length < chunk.length) logger?.info({ skipped: chunk.length - current.length }, 'superseded versions not published (a newer version exists)');
      const r = await publishAll(bus, current);
      if (r.failed) logger?.warn({ failed: r.failed, err: r.error }, 'schedule publish failed; the re-publisher retries');
      if (r.refused.length) {
        logger?.error({ refused: r.refused.length, versions: r.refused.slice(0, 20).map((f) => ({ deviceId: f.deviceId, version: f.version, reason: f.reason })), err: r.refused[0]!.detail },
          'schedule publish refused: versions marked failed, not retried');
      }
      await markSent(tx, r.ok.map((m) => ({ deviceId: m.deviceId, version: m.version })), s);
      await markRefused(tx, r.refused, s);
      return { published: r.ok.length, refused: r.refused };
    });
    countPublished(db, published.published);
    countRefused(db, published.refused.map((r) => r.reason));
    sent += published.published;
  }
  return sent;
}

/**
 * Of these (device, version) keys, those that are the device's desired (latest) version and still queued or sent, of a
 * device not revoked (its retained schedule is cleared at revocation; nothing is published to it after), with the device rows share-locked until the caller's transaction ends (keys as "deviceId\0version").
 */
export async function latestOf(tx: Db, keys: ReadonlyArray<{ deviceId: string; version: number }>): Promise<Set<string>> {
  const rows = await tx.query<{ id: string; version: number }>(
    `SELECT d.id, v.version FROM devices d
     JOIN unnest($1::text[], $2::int[]) AS k(device_id, version) ON d.id = k.device_id AND d.desired_version = k.version AND d.revoked_at IS NULL
     JOIN schedule_versions v ON v.device_id = k.device_id AND v.version = k.version AND v.state IN ('queued', 'sent')
     ORDER BY d.id FOR SHARE OF d`, [keys.map((k) => k.deviceId), keys.map((k) => k.version)]);
  return new Set(rows.map((r) => `${r.id}\u0000${Number(r.version)}`));
}

/**
 * One round of the re-publisher: claims due versions the devices have not acknowledged (queued or sent) that are
 * still their device's desired version, moves their next turn ahead, and publishes them again (retained QoS 1, the
 * same message) through publishVersions, which checks again under the device lock. Returns how many were due.
 */
export async function republishDue(db: Db, bus: FleetBus, s: LoopSettings, logger?: Logger): Promise<number> {
  const now = new Date(s.now());
  const claimed = await db.transaction(async (tx) => tx.query<{ device_id: string; version: number }>(
    `UPDATE schedule_versions v SET next_publish_at = $2::timestamptz + $3::float8 * interval '1 millisecond'
     FROM (SELECT sv.device_id, sv.version FROM schedule_versions sv JOIN devices d ON d.id = sv.device_id AND d.desired_version = sv.version AND d.revoked_at IS NULL
           WHERE sv.next_publish_at < 'infinity' AND sv.next_publish_at <= $2 AND sv.state IN ('queued', 'sent')
           ORDER BY sv.next_publish_at LIMIT $1 FOR UPDATE OF sv SKIP LOCKED) due
     WHERE v.device_id = due.device_id AND v.version = due.version
     RETURNING v.device_id, v.version`, [s.batch, now, s.republishMs]));
  if (claimed.length === 0) return 0;
  const versions = await getVersions(db, claimed.map((c) => ({ deviceId: c.device_id, version: Number(c.version) })));
  const sent = await publishVersions(db, bus, versions.map(messageOf), s, logger);
  logger?.info({ due: claimed.length, sent }, 'schedules re-published');
  return claimed.length;
}

/**
 * The timeout sweep: a version not acknowledged within ackTimeoutMs of being issued, or acknowledged but not
 * finished finishGraceMs after its last interval ended, becomes timed-out (the device's later word still counts:
 * ledger.ts). Idempotent; any copy may run it. Returns how many timed out.
 *
 * It also keeps the live work list (index schedule_versions_live, migration 0038: next_publish_at < 'infinity')
 * short: acks change only `state` and its times (so their updates stay HOT, off every index), and this sweep
 * retires what they finished — versions succeeded, failed, timed out or superseded get next_publish_at 'infinity',
 * and a due version the device acknowledged waits until its end plus finishGraceMs — at most batch × 10 a round.
 */
export async function sweepTimeouts(db: Db, s: LoopSettings): Promise<number> {
  const now = s.now();
  const rows = await db.query<{ n: number }>(
    `WITH t AS (
       UPDATE schedule_versions v SET state = 'timed-out', state_at = $1, next_publish_at = 'infinity',
         reason = CASE WHEN v.state IN ('queued', 'sent') THEN 'no acknowledgement within ' || ($4::float8 / 1000)::int || ' s'
                       ELSE 'not finished ' || ($5::float8 / 1000)::int || ' s after its last interval' END
       FROM (SELECT device_id, version FROM schedule_versions
             WHERE next_publish_at < 'infinity'
               AND ((state IN ('queued', 'sent') AND issued_at < $2) OR (state IN ('acknowledged', 'executing') AND ends_at < $3))
             LIMIT $6 FOR UPDATE SKIP LOCKED) due
       WHERE v.device_id = due.device_id AND v.version = due.version
       RETURNING 1)
     SELECT count(*)::int AS n FROM t`,
    [new Date(now), new Date(now - s.ackTimeoutMs), new Date(now - s.finishGraceMs), s.ackTimeoutMs, s.finishGraceMs, s.batch * 10]);
  const n = Number(rows[0]!.n);
  await notifyFleet(db, 'ledger', n);
  await db.query(
    `UPDATE schedule_versions v SET next_publish_at = CASE WHEN v.state IN ('acknowledged', 'executing')
                                                       THEN GREATEST(v.ends_at + $3::float8 * interval '1 millisecond', $1::timestamptz + $4::float8 * interval '1 millisecond')
                                                       ELSE 'infinity' END
     FROM (SELECT device_id, version FROM schedule_versions
           WHERE next_publish_at < 'infinity'
             AND (state IN ('succeeded', 'failed', 'timed-out', 'superseded') OR (state IN ('acknowledged', 'executing') AND next_publish_at <= $1))
           LIMIT $2 FOR UPDATE SKIP LOCKED) done
     WHERE v.device_id = done.device_id AND v.version = done.version`,
    [new Date(now), s.batch * 10, s.finishGraceMs, s.republishMs]);
  return n;
}
