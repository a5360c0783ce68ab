import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { FleetBus } from './contract.ts';
import { canonicalInterval, DEVICE_ID, MAX_INTERVALS, scheduleInterval, type ScheduleInterval, type ScheduleMessage } from './messages.ts';
import { checkIntervals } from './schedule-check.ts';
import { issueVersions, SKIP_REASONS, type Refusal, type SkipReason } from './schedule-versions.ts';
import { publishVersions, type LoopSettings } from './distribution.ts';
import { rolloutBudget, rolloutDurationMs, type RolloutRate } from './rollout-rate.ts';
import { countIssued } from './fleet-metrics.ts';
import { notifyFleet } from './fleet-events.ts';
import { extractContext, injectHeaders, withContext } from '../platform/tracing.ts';

/**
 * POST /api/v1/schedules and rollouts. A schedule for one device is issued at once; one for a group or the fleet
 * is a rollout: its devices are fixed when it is created, every one of them is checked first — a device that cannot
 * take it (no reported SoC, beyond its limits, a higher-priority version: SkipReason) is skipped with its reason and
 * the rest go ahead (onDeviceRefusal 'skip', the default, as AWS IoT Jobs leaves out a device that cannot run a job);
 * the request is refused whole when the schedule itself is wrong, when no device can take it, or with
 * onDeviceRefusal 'reject' at the first device that cannot (naming it and the interval, nothing stored or sent) — and the
 * runner then issues versions at the rollout's rate, stops (aborted) when more than abortFailurePct % of the devices
 * reached failed, timed out or were refused at issue time (once abortMinDevices were reached), and can be cancelled.
 */

export const rolloutOptions = z.object({
  maxPerMinute: z.number().int().min(1).max(1_000_000).default(1_000).describe('at most this many devices a minute (the cap of an exponential ramp)'),
  exponential: z.object({
    basePerMinute: z.number().int().min(1).max(1_000_000).describe('devices in the first minute'),
    incrementFactor: z.number().gt(1).max(10).describe('the rate is multiplied by this every minute, up to maxPerMinute'),
  }).optional().describe('an exponential ramp instead of a flat rate'),
  abortFailurePct: z.number().min(0).max(100).default(10).describe('abort when more than this percentage of the devices reached failed, timed out or refused the schedule when the rollout came to them (skipped)'),
  abortMinDevices: z.number().int().min(1).max(1_000_000).default(10).describe('… once at least this many devices were reached'),
}).strict().superRefine((o, ctx) => {
  // a ramp starting above its own cap is no ramp: the caller meant another cap or another start
  if (o.exponential && o.exponential.basePerMinute > o.maxPerMinute) {
    ctx.addIssue({ code: 'custom', path: ['exponential', 'basePerMinute'], message: `must be at most maxPerMinute (${o.maxPerMinute}${o.maxPerMinute === 1_000 ? ', its default' : ''}), the ramp's cap` });
  }
});

export const scheduleRequest = z.object({
  deviceId: z.string().regex(DEVICE_ID, 'a device id').optional().describe('one device (exactly one of deviceId, groupId, fleet)'),
  groupId: z.uuid().optional().describe('every device of a group, as a rollout'),
  fleet: z.literal(true).optional().describe('every active device, as a rollout'),
  // strict: an unknown field of an interval is refused (400 naming it), as everywhere in the fleet API's bodies;
  // the instants are stored and sent in canonical UTC form (toISOString)
  intervals: z.array(scheduleInterval.strict().transform(canonicalInterval)).min(1).max(MAX_INTERVALS)
    .describe(`in order, not overlapping, in the future, spanning at most 7 days; at most ${MAX_INTERVALS}, and the message a device receives at most the MQTT packet limit`),
  priority: z.number().int().min(0).max(1_000).default(0).describe('supersedes unfinished versions of priority ≤ this; refused (409) by a higher one'),
  rollout: rolloutOptions.optional().describe('group and fleet only: rate and abort threshold (defaults: 1,000 a minute, abort above 10 % once 10 were reached)'),
  onDeviceRefusal: z.enum(['skip', 'reject']).optional().describe('group and fleet only: what a device that cannot take the schedule (no reported SoC, beyond its limits, '
    + 'a higher-priority version) does to the request: `skip` (default) leaves it out, counted by reason in the answer and the rollout; `reject` refuses the whole request '
    + 'naming it. One device is always refused with its reason'),
}).strict().superRefine((v, ctx) => {
  const targets = [v.deviceId !== undefined, v.groupId !== undefined, v.fleet === true].filter(Boolean).length;
  if (targets !== 1) ctx.addIssue({ code: 'custom', path: ['deviceId'], message: 'give exactly one of deviceId, groupId or fleet: true' });
  if (v.deviceId !== undefined && v.onDeviceRefusal === 'skip') ctx.addIssue({ code: 'custom', path: ['onDeviceRefusal'], message: 'a schedule for one device is refused with the device\'s reason (skip is for groups and the fleet)' });
  if (v.deviceId !== undefined && v.rollout) ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a schedule for one device is issued at once (rollout options are for groups and the fleet)' });
});
export type ScheduleRequest = z.output<typeof scheduleRequest>;

export const ROLLOUT_STATUSES = ['running', 'completed', 'aborted', 'cancelled'] as const;

/** A refusal as the problem a client gets: 400 for the request itself, 422 beyond the device's limits or SoC, 409 a priority conflict, 404 no device. */
export function refusalProblem(r: Refusal, named: boolean): HttpProblem {
  const status = r.problem.kind === 'request' ? 400 : r.problem.kind === 'device' ? 422 : r.problem.kind === 'conflict' ? 409 : 404;
  return new HttpProblem(status, named && r.problem.kind !== 'request' ? `device ${r.deviceId}: ${r.problem.detail}` : r.problem.detail, r.problem.field);
}

/** Devices a rollout left out for one reason: how many, the first SKIPPED_IDS of them, and the first one's problem. */
export interface SkippedGroup { reason: SkipReason; count: number; deviceIds: string[]; example: { deviceId: string; field: string; detail: string } }
/** Device ids listed per skip reason in the answer (the counts are whole). */
export const SKIPPED_IDS = 20;

export type Submitted =
  | { kind: 'device'; deviceId: string; version: number; superseded: number[]; messages: ScheduleMessage[]; socAssumption: string | null }
  | { kind: 'rollout'; rolloutId: string; total: number; skipped: SkippedGroup[] };

/** Refusals grouped by reason, in SKIP_REASONS order. */
export function groupRefusals(refused: readonly Refusal[]): SkippedGroup[] {
  const out = new Map<SkipReason, SkippedGroup>();
  for (const r of refused) {
    let g = out.get(r.reason);
    if (!g) { g = { reason: r.reason, count: 0, deviceIds: [], example: { deviceId: r.deviceId, field: r.problem.field, detail: r.problem.detail } }; out.set(r.reason, g); }
    g.count++;
    if (g.deviceIds.length < SKIPPED_IDS) g.deviceIds.push(r.deviceId);
  }
  return SKIP_REASONS.flatMap((k) => out.get(k) ?? []);
}

/** rollout_devices.skipped of a device left out when the rollout was created (it could not take the schedule): `precheck:<reason>: <detail>`. */
const PRECHECK = 'precheck:';

/**
 * Validates and stores a schedule request in the caller's transaction. For one device: its new version (publish
 * the returned messages after commit). For a group or the fleet: a running rollout (run `runRollouts` after
 * commit to issue its first devices at once). Throws the HttpProblem of the first refusal.
 */
export async function submitSchedule(tx: Db, req: ScheduleRequest, opts: { now: number; republishMs: number; createdBy: string | null }): Promise<Submitted> {
  const bad = checkIntervals(req.intervals, opts.now);
  if (bad) throw new HttpProblem(400, bad.detail, bad.field);
  if (req.deviceId !== undefined) {
    const r = await issueVersions(tx, { deviceIds: [req.deviceId], intervals: req.intervals, priority: req.priority, now: opts.now, republishMs: opts.republishMs }, { allOrNothing: true });
    if (r.refused.length) throw refusalProblem(r.refused[0]!, false);
    const m = r.messages[0]!;
    return { kind: 'device', deviceId: m.deviceId, version: m.version, superseded: r.superseded.map((s) => s.version), messages: r.messages, socAssumption: r.assumed?.[0]?.assumption ?? null };
  }
  if (req.groupId !== undefined && (await tx.query('SELECT 1 FROM device_groups WHERE id = $1', [req.groupId])).length === 0) {
    throw new HttpProblem(404, `groupId: no such group ${req.groupId}`, 'groupId');
  }
  const ids = (await tx.query<{ id: string }>(
    req.groupId !== undefined
      ? 'SELECT d.id FROM devices d JOIN device_group_members m ON m.device_id = d.id WHERE m.group_id = $1 AND d.revoked_at IS NULL ORDER BY d.id'
      : 'SELECT id FROM devices WHERE revoked_at IS NULL ORDER BY id', req.groupId !== undefined ? [req.groupId] : [])).map((r) => r.id);
  if (ids.length === 0) throw new HttpProblem(422, req.groupId !== undefined ? 'groupId: the group has no active devices' : 'fleet: there are no active devices', req.groupId !== undefined ? 'groupId' : 'fleet');
  // every device is checked now (and again, under its row lock, when the runner reaches it): with 'reject' nothing is
  // stored unless all pass; with 'skip' the devices that cannot take it are left out, each with its reason
  const reject = req.onDeviceRefusal === 'reject';
  const check = (await issueVersions(tx, { deviceIds: ids, intervals: req.intervals, priority: req.priority, now: opts.now, republishMs: opts.republishMs }, { allOrNothing: reject, dryRun: true })).refused;
  if (reject && check.length) throw refusalProblem(check[0]!, true);
  const skipped = groupRefusals(check);
  if (check.length === ids.length) {
    const target = req.groupId !== undefined ? 'groupId' : 'fleet';
    const counts = skipped.map((g) => `${g.count} ${g.reason}`).join(', ');
    const first = skipped[0]!.example;
    throw new HttpProblem(skipped.every((g) => g.reason === 'priority-conflict') ? 409 : 422,
      `${target}: none of the ${ids.length} devices can take this schedule (${counts}); e.g. device ${first.deviceId}: ${first.detail}`, first.field);
  }
  const refusedIds = new Map(check.map((r) => [r.deviceId, `${PRECHECK}${r.reason}: ${r.problem.detail}`.slice(0, 500)]));
  const takers = ids.length - check.length;
  const o = rolloutOptions.parse(req.rollout ?? {});
  // a rollout that cannot reach every device before its schedule starts would leave the last ones with nothing
  const rate: RolloutRate = { kind: o.exponential ? 'exponential' : 'max-per-minute', maxPerMinute: o.maxPerMinute, basePerMinute: o.exponential?.basePerMinute, incrementFactor: o.exponential?.incrementFactor };
  const needMs = rolloutDurationMs(rate, takers);
  const leadMs = Date.parse(req.intervals[0]!.start) - opts.now;
  if (needMs > leadMs) {
    const field = o.exponential ? 'rollout/exponential' : 'rollout/maxPerMinute';
    throw new HttpProblem(400, `${field}: at this rate the rollout reaches its ${takers} devices in ${Math.ceil(needMs / 60_000)} min, but the schedule starts in ${Math.max(0, Math.floor(leadMs / 60_000))} min `
      + '(intervals/0/start): raise the rate or start the schedule later', field);
  }
  const [row] = await tx.query<{ id: string }>(
    `INSERT INTO rollouts (target_kind, group_id, intervals, priority, rate_kind, max_per_minute, base_per_minute, increment_factor,
       abort_failure_pct, abort_min_devices, total, created_by, created_at, started_at, traceparent)
     VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING id`,
    [req.groupId !== undefined ? 'group' : 'fleet', req.groupId ?? null, JSON.stringify(req.intervals), req.priority, o.exponential ? 'exponential' : 'max-per-minute',
      o.maxPerMinute, o.exponential?.basePerMinute ?? null, o.exponential?.incrementFactor ?? null, o.abortFailurePct, o.abortMinDevices, ids.length,
      opts.createdBy, new Date(opts.now), injectHeaders().traceparent ?? null]);
  await tx.query('INSERT INTO rollout_devices (rollout_id, device_id, ord, skipped) SELECT $1, d, o::int, s FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(d, s, o)',
    [row!.id, ids, ids.map((id) => refusedIds.get(id) ?? null)]);
  return { kind: 'rollout', rolloutId: row!.id, total: ids.length, skipped };
}

export interface RolloutProgress {
  id: string; targetKind: 'group' | 'fleet' | 'device'; groupId: string | null; status: (typeof ROLLOUT_STATUSES)[number]; statusReason: string | null;
  priority: number; rate: RolloutRate; abortFailurePct: number; abortMinDevices: number;
  total: number; pending: number; issued: number; skipped: number;
  /** of skipped: devices left out when the rollout was created (they could not take the schedule then); not failures */
  skippedAtStart: number;
  /** devices not reached before the schedule started (after a restart, a slow runner): not failures */
  expired: number;
  /** devices never reached because the rollout was cancelled or aborted first, or the device was revoked; pending + issued + skipped + expired + cancelled = total */
  cancelled: number;
  /** issued versions by delivery state */
  states: Record<'queued' | 'sent' | 'acknowledged' | 'executing' | 'succeeded' | 'failed' | 'timed-out' | 'superseded', number>;
  /** devices that answered (acknowledged or further, failed) or timed out or were skipped, percent of total */
  progressPct: number;
  intervals: ScheduleInterval[];
  createdBy: string | null; createdAt: string; finishedAt: string | null;
}

interface RolloutRow {
  id: string; target_kind: 'group' | 'fleet' | 'device'; group_id: string | null; intervals: ScheduleInterval[]; priority: number; rate_kind: RolloutRate['kind'];
  max_per_minute: number; base_per_minute: number | null; increment_factor: number | null; abort_failure_pct: number; abort_min_devices: number;
  status: RolloutProgress['status']; status_reason: string | null; total: number; issued: number; created_by: string | null;
  created_at: Date | string; started_at: Date | string; finished_at: Date | string | null;
  /** W3C traceparent of the API call that created the rollout (null when tracing was off) */
  traceparent: string | null;
}
const ROLLOUT_COLUMNS = `id, target_kind, group_id, intervals, priority, rate_kind, max_per_minute, base_per_minute, increment_factor, abort_failure_pct,
  abort_min_devices, status, status_reason, total, issued, created_by, created_at, started_at, finished_at, traceparent`;

interface Counts { pending: number; issued: number; skipped: number; skippedAtStart: number; expired: number; cancelled: number; states: RolloutProgress['states'] }

const noCounts = (): Counts => ({ pending: 0, issued: 0, skipped: 0, skippedAtStart: 0, expired: 0, cancelled: 0, states: { queued: 0, sent: 0, acknowledged: 0, executing: 0, succeeded: 0, failed: 0, 'timed-out': 0, superseded: 0 } });

/** rollout_devices.skipped of a device the rollout reached only after the schedule had started: counted as expired, not as a failure. */
const EXPIRED = 'expired';
/** rollout_devices.skipped of a device revoked before the rollout reached it: counted with the cancelled, not as a failure. */
const REVOKED = 'revoked';
/** rollout_devices.skipped of the devices never reached (cancel, abort, revocation), as an SQL list: counted `cancelled`. */
const NOT_REACHED = `('cancelled', 'aborted', '${REVOKED}')`;

async function countsOf(db: Db, ids: readonly string[]): Promise<Map<string, Counts>> {
  const rows = await db.query<{ rollout_id: string; pending: number; issued: number; skipped: number; skipped_at_start: number; expired: number; cancelled: number; state: string | null; n: number }>(
    `SELECT rd.rollout_id, v.state, count(*)::int AS n,
            count(*) FILTER (WHERE rd.version IS NULL AND rd.skipped IS NULL)::int AS pending,
            count(*) FILTER (WHERE rd.version IS NOT NULL)::int AS issued,
            count(*) FILTER (WHERE rd.skipped IS NOT NULL AND rd.skipped NOT IN ${NOT_REACHED} AND rd.skipped NOT LIKE '${EXPIRED}%')::int AS skipped,
            count(*) FILTER (WHERE rd.skipped LIKE '${PRECHECK}%')::int AS skipped_at_start,
            count(*) FILTER (WHERE rd.skipped LIKE '${EXPIRED}%')::int AS expired,
            count(*) FILTER (WHERE rd.skipped IN ${NOT_REACHED})::int AS cancelled
     FROM rollout_devices rd LEFT JOIN schedule_versions v ON v.device_id = rd.device_id AND v.version = rd.version
     WHERE rd.rollout_id = ANY($1::uuid[]) GROUP BY rd.rollout_id, v.state`, [ids]);
  const out = new Map<string, Counts>();
  for (const r of rows) {
    let c = out.get(r.rollout_id);
    if (!c) { c = noCounts(); out.set(r.rollout_id, c); }
    c.pending += Number(r.pending); c.issued += Number(r.issued); c.skipped += Number(r.skipped); c.skippedAtStart += Number(r.skipped_at_start); c.expired += Number(r.expired); c.cancelled += Number(r.cancelled);
    if (r.state) c.states[r.state as keyof Counts['states']] += Number(r.n);
  }
  return out;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toProgress(r: RolloutRow, c: Counts | undefined): RolloutProgress {
  const counts = c ?? noCounts();
  const s = counts.states;
  const done = s.acknowledged + s.executing + s.succeeded + s.failed + s['timed-out'] + s.superseded + counts.skipped + counts.expired;
  const total = Number(r.total);
  return {
    id: r.id, targetKind: r.target_kind, groupId: r.group_id, status: r.status, statusReason: r.status_reason, priority: Number(r.priority),
    rate: { kind: r.rate_kind, maxPerMinute: Number(r.max_per_minute), basePerMinute: r.base_per_minute === null ? null : Number(r.base_per_minute), incrementFactor: r.increment_factor === null ? null : Number(r.increment_factor) },
    abortFailurePct: Number(r.abort_failure_pct), abortMinDevices: Number(r.abort_min_devices), total,
    pending: counts.pending, issued: counts.issued, skipped: counts.skipped, skippedAtStart: counts.skippedAtStart, expired: counts.expired, cancelled: counts.cancelled, states: s,
    progressPct: total ? Math.round((done / total) * 1000) / 10 : 100, intervals: r.intervals,
    createdBy: r.created_by, createdAt: iso(r.created_at)!, finishedAt: iso(r.finished_at),
  };
}

export async function getRollout(db: Db, id: string): Promise<RolloutProgress | undefined> {
  const [row] = await db.query<RolloutRow>(`SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE id = $1`, [id]);
  return row ? toProgress(row, (await countsOf(db, [id])).get(id)) : undefined;
}

/** Rollouts, newest first (optionally by status). */
export async function listRollouts(db: Db, q: { status?: RolloutProgress['status'] | undefined; limit: number }): Promise<RolloutProgress[]> {
  const rows = await db.query<RolloutRow>(`SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT $2`, [q.status ?? null, q.limit]);
  const counts = await countsOf(db, rows.map((r) => r.id));
  return rows.map((r) => toProgress(r, counts.get(r.id)));
}

/**
 * Cancels a running rollout: devices not yet reached get nothing; versions already issued stay (a newer
 * schedule supersedes them). False when it is not running (or does not exist).
 */
export async function cancelRollout(tx: Db, id: string, now: number): Promise<boolean> {
  const rows = await tx.query(`UPDATE rollouts SET status = 'cancelled', status_reason = 'cancelled by an operator', finished_at = $2 WHERE id = $1 AND status = 'running' RETURNING id`, [id, new Date(now)]);
  if (!rows.length) return false;
  await tx.query(`UPDATE rollout_devices SET skipped = 'cancelled' WHERE rollout_id = $1 AND version IS NULL AND skipped IS NULL`, [id]);
  await notifyFleet(tx, 'rollouts', 1);
  return true;
}

/**
 * The counts each chunk decides on (expiry, abort, completion, budget). The first chunk of a round (or one that finds
 * a rollout moved by another runner copy since: its `issued` differs from what this round carried) counts the whole
 * rollout (countsOf: every device of it joined with its version, ~70 ms for 10,000 devices, which per chunk was the
 * largest single cost of a 10,000-device round); later chunks carry the round's own counts forward and read afresh
 * only what others change meanwhile, the versions that failed or timed out (the abort threshold), by the
 * schedule_versions_rollout index.
 */
async function chunkCounts(tx: Db, rows: readonly RolloutRow[], carried: Map<string, Counts>): Promise<Map<string, Counts>> {
  // recounted: a rollout new to this round, one another copy moved, and one with no device left to issue (its completion is decided on fresh states)
  const fresh = rows.filter((r) => { const c = carried.get(r.id); return !c || c.issued !== Number(r.issued) || c.pending <= 0; }).map((r) => r.id);
  const counts = fresh.length ? await countsOf(tx, fresh) : new Map<string, Counts>();
  const kept = rows.map((r) => r.id).filter((id) => !counts.has(id) && carried.has(id));
  if (kept.length) {
    const bad = await tx.query<{ rollout_id: string; failed: number; timed_out: number }>(
      `SELECT rollout_id, count(*) FILTER (WHERE state = 'failed')::int AS failed, count(*) FILTER (WHERE state = 'timed-out')::int AS timed_out
       FROM schedule_versions WHERE rollout_id = ANY($1::uuid[]) AND state IN ('failed', 'timed-out') GROUP BY rollout_id`, [kept]);
    const byId = new Map(bad.map((b) => [b.rollout_id, b]));
    for (const id of kept) {
      const c = carried.get(id)!;
      const b = byId.get(id);
      // only the abort decision reads the states of a carried count (the other states are recounted with the rollout's completion)
      c.states.failed = Number(b?.failed ?? 0); c.states['timed-out'] = Number(b?.timed_out ?? 0);
      counts.set(id, c);
    }
  }
  return counts;
}

/** Devices issued per transaction of the rollout runner: each chunk commits and starts publishing while the next one is issued. */
export const ROLLOUT_CHUNK = 1_000;
/** Chunks being published at once while the runner issues the next ones (each holds a connection and its devices' share locks). */
const PUBLISHING_AT_ONCE = 4;

/**
 * One round of the rollout runner: for each running rollout it can lock (`FOR UPDATE SKIP LOCKED`: another copy
 * holding one simply skips it), decide abort or completion, issue the next devices its rate allows (re-checked
 * against each device's state now; a device refused now is skipped and counts as a failure), and publish them.
 * Pipelined: the devices are issued in chunks of `chunkSize` (ROLLOUT_CHUNK; tests pass fewer), each in a transaction of its own (the rollout's row
 * locked again each time, so the rate, abort and cancel are decided anew per chunk), and a chunk is published as
 * soon as it committed while the next one is issued (at most PUBLISHING_AT_ONCE chunks publishing at once). Returns
 * the number of versions issued, after every chunk was published (or refused by the bus: the re-publisher retries).
 */
export async function runRollouts(db: Db, bus: FleetBus | undefined, s: LoopSettings, logger?: Logger, only?: string, chunkSize = ROLLOUT_CHUNK): Promise<number> {
  let issued = 0;
  const thisRound = new Map<string, number>(); // versions issued per rollout in this round: at most batch × 20 each, as ever
  const carried = new Map<string, Counts>(); // each rollout's counts as this round left them (rolloutChunk)
  const publishing = new Set<Promise<unknown>>();
  try {
    for (let chunk = 0; ; chunk++) {
      const t0 = performance.now();
      const { messages, more, byTrace } = await db.transaction((tx) => rolloutChunk(tx, s, logger, only, chunk === 0, thisRound, carried, chunkSize));
      issued += messages.length;
      if (messages.length) {
        countIssued(db, 'rollout', messages.length);
        const t1 = performance.now();
        logger?.debug({ chunk, versions: messages.length, issueMs: Math.round(t1 - t0) }, 'rollout chunk issued');
        // each rollout's schedules are published in the trace of the API call that created it
        const p: Promise<unknown> = Promise.all([...byTrace].map(([traceparent, msgs]) => (traceparent
          ? withContext(extractContext({ traceparent }), () => publishVersions(db, bus, msgs, s, logger))
          : publishVersions(db, bus, msgs, s, logger))))
          .then((n) => n.reduce((a, b) => a + b, 0))
          .then((sent) => { logger?.debug({ chunk, sent, publishMs: Math.round(performance.now() - t1) }, 'rollout chunk published'); })
          .catch((err: unknown) => { logger?.error({ err: (err as Error).message, versions: messages.length }, 'rollout chunk not published; the re-publisher retries'); })
          .finally(() => publishing.delete(p));
        publishing.add(p);
        while (publishing.size >= PUBLISHING_AT_ONCE) await Promise.race(publishing);
      }
      if (!more) break;
    }
  } finally {
    await Promise.all(publishing);
  }
  return issued;
}

/**
 * One chunk of a round, in the caller's transaction: the running rollouts' decisions (expiry, abort, completion) and
 * the next devices each may issue now, at most ROLLOUT_CHUNK each (and batch × 20 a round). `more`: some rollout filled its chunk and its rate
 * allows more now. `notify`: tell live pages once a round (the first chunk).
 */
async function rolloutChunk(tx: Db, s: LoopSettings, logger: Logger | undefined, only: string | undefined, notify: boolean, thisRound: Map<string, number>,
  carried: Map<string, Counts>, chunkSize: number): Promise<{ messages: ScheduleMessage[]; more: boolean; byTrace: Map<string | null, ScheduleMessage[]> }> {
  const now = s.now();
  const rows = await tx.query<RolloutRow>(
    `SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE status = 'running' AND ($1::uuid IS NULL OR id = $1) ORDER BY created_at, id LIMIT 20 FOR UPDATE SKIP LOCKED`, [only ?? null]);
  const out: ScheduleMessage[] = [];
  const byTrace = new Map<string | null, ScheduleMessage[]>();
  let more = false;
  if (rows.length === 0) return { messages: out, more, byTrace };
  const counts = await chunkCounts(tx, rows, carried);
  // running rollouts' progress moves with the ledger; their pages hear it here once a round
  if (notify) await notifyFleet(tx, 'rollouts', rows.length);
  for (const r of rows) {
    const c = counts.get(r.id)!;
    // devices not reached before the schedule started are expired (a restart, a slow runner): counted, never failures
    const startsAt = Date.parse(r.intervals[0]!.start);
    if (c.pending > 0 && startsAt < now) {
      const n = await tx.query(`UPDATE rollout_devices SET skipped = $2 WHERE rollout_id = $1 AND version IS NULL AND skipped IS NULL RETURNING device_id`,
        [r.id, `${EXPIRED}: the schedule started (${new Date(startsAt).toISOString()}) before the rollout reached the device`]);
      c.expired += n.length; c.pending -= n.length;
      logger?.warn({ rolloutId: r.id, expired: n.length }, 'rollout devices expired: the schedule started before they were reached');
    }
    // devices left out at the start were never reached: they neither count as reached nor trip the abort threshold
    const reached = c.issued + c.skipped - c.skippedAtStart;
    const bad = c.states.failed + c.states['timed-out'] + c.skipped - c.skippedAtStart;
    if (reached >= Number(r.abort_min_devices) && (bad * 100) / reached > Number(r.abort_failure_pct)) {
      const reason = `${bad} of ${reached} devices reached failed, timed out or were refused (> ${Number(r.abort_failure_pct)} %)`;
      await tx.query(`UPDATE rollouts SET status = 'aborted', status_reason = $2, finished_at = $3 WHERE id = $1`, [r.id, reason, new Date(now)]);
      await tx.query(`UPDATE rollout_devices SET skipped = 'aborted' WHERE rollout_id = $1 AND version IS NULL AND skipped IS NULL`, [r.id]);
      logger?.warn({ rolloutId: r.id, bad, reached }, 'rollout aborted');
      continue;
    }
    if (c.pending === 0) {
      if (c.states.queued + c.states.sent === 0) {
        await tx.query(`UPDATE rollouts SET status = 'completed', finished_at = $2, status_reason = $3 WHERE id = $1`,
          [r.id, new Date(now), [c.expired ? `${c.expired} of ${Number(r.total)} devices expired (not reached before the schedule started)` : '',
            c.skippedAtStart ? `${c.skippedAtStart} of ${Number(r.total)} devices skipped from the start (they could not take the schedule)` : '',
            // a completed rollout's cancelled devices are the ones revoked before it reached them (cancel and abort end it otherwise)
            c.cancelled ? `${c.cancelled} of ${Number(r.total)} devices revoked before the rollout reached them` : ''].filter(Boolean).join('; ') || null]);
        logger?.info({ rolloutId: r.id, total: Number(r.total) }, 'rollout completed');
      }
      continue;
    }
    const rate: RolloutRate = { kind: r.rate_kind, maxPerMinute: Number(r.max_per_minute), basePerMinute: r.base_per_minute, incrementFactor: r.increment_factor };
    const allowed = rolloutBudget(rate, now - new Date(r.started_at).getTime(), Number(r.total)) - reached;
    const roundLeft = s.batch * 20 - (thisRound.get(r.id) ?? 0);
    const room = Math.min(chunkSize, allowed, roundLeft);
    if (room <= 0) continue;
    const chunk = await tx.query<{ device_id: string; revoked: boolean }>(
      `SELECT rd.device_id, d.revoked_at IS NOT NULL AS revoked FROM rollout_devices rd JOIN devices d ON d.id = rd.device_id
       WHERE rd.rollout_id = $1 AND rd.version IS NULL AND rd.skipped IS NULL ORDER BY rd.ord LIMIT $2`, [r.id, room]);
    // a device revoked since the rollout was created is skipped as `revoked`: counted with the cancelled, never a failure
    const revoked = chunk.filter((x) => x.revoked).map((x) => x.device_id);
    if (revoked.length) {
      await tx.query(`UPDATE rollout_devices SET skipped = '${REVOKED}' WHERE rollout_id = $1 AND device_id = ANY($2::text[]) AND version IS NULL AND skipped IS NULL`, [r.id, revoked]);
      c.pending -= revoked.length; c.cancelled += revoked.length;
    }
    const next = chunk.filter((x) => !x.revoked).map((x) => x.device_id);
    const issued = await issueVersions(tx, {
      deviceIds: next, intervals: r.intervals, priority: Number(r.priority), rolloutId: r.id, now, republishMs: s.republishMs,
    });
    // the chunk's devices (issued: their version; refused: why) and the rollout's count, in one statement
    await tx.query(
      `WITH n AS (SELECT * FROM unnest($2::text[], $3::int[], $4::text[]) AS n(device_id, version, reason)),
       rd AS (UPDATE rollout_devices rd SET version = n.version, issued_at = CASE WHEN n.version IS NULL THEN rd.issued_at ELSE $5 END, skipped = COALESCE(n.reason, rd.skipped)
              FROM n WHERE rd.rollout_id = $1 AND rd.device_id = n.device_id RETURNING 1)
       UPDATE rollouts SET issued = issued + $6 WHERE id = $1`,
      [r.id, [...issued.messages.map((m) => m.deviceId), ...issued.refused.map((x) => x.deviceId)],
        [...issued.messages.map((m) => m.version), ...issued.refused.map(() => null)],
        [...issued.messages.map(() => null), ...issued.refused.map((x) => x.problem.detail.slice(0, 500))], new Date(now), issued.messages.length]);
    c.pending -= next.length; c.issued += issued.messages.length; c.skipped += issued.refused.length; c.states.queued += issued.messages.length;
    carried.set(r.id, c);
    out.push(...issued.messages);
    const traced = byTrace.get(r.traceparent) ?? [];
    traced.push(...issued.messages);
    byTrace.set(r.traceparent, traced);
    thisRound.set(r.id, (thisRound.get(r.id) ?? 0) + next.length + revoked.length);
    if (chunk.length === room && allowed > room && roundLeft > room && c.pending > 0) more = true; // c.pending: what is left after this chunk
    logger?.info({ rolloutId: r.id, issued: issued.messages.length, refused: issued.refused.length, reached: reached + chunk.length, total: Number(r.total) }, 'rollout progress');
  }
  return { messages: out, more, byTrace };
}
