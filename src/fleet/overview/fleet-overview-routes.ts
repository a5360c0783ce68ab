import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import type { Cache } from '../../platform/cache.ts';
import { deviceTelemetry, fleetHistory, offlineDevices, STALE_AFTER_MS, type FleetHistoryPoint } from './fleet-overview.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { isoInstant } from '../../platform/instant.ts';
import { checkRange } from '../../platform/query.ts';
import { DEVICE_ID } from '../messages.ts';
import { problem } from '../fleet-schemas.ts';

const FLEET_ACCESS = { roles: ['operator', 'admin'] } as const;
const instant = z.string().describe('ISO 8601 UTC');
const HOUR_MS = 3_600_000;
/** `from`/`to` of the fleet's time series: instants read by the platform's one reader (bounded, canonical). */
const rangeQuery = {
  from: isoInstant.optional().describe('start of the window (ISO 8601; instead of `hours`)'),
  to: isoInstant.optional().describe('end of the window (ISO 8601; default now)'),
};
const baCode = z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO').transform((s) => s.toUpperCase());

/**
 * The fleet pages' own read API (operators and administrators): GET /api/v1/fleet/offline (also what the
 * devices_offline alert evaluates), GET /api/v1/fleet/history and GET /api/v1/fleet/devices/{id}/telemetry.
 * Devices, the summary and rollouts are fleet-core's.
 */
export function fleetOverviewRoutes(app: FastifyInstance, db: Db, cache: Cache, now: () => Date = () => new Date()): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // The history reads every device's telemetry of the window (bench/fleet-pages.ts: ~10× one plain pass over it) and
  // the live pages re-read on every fleet change: one answer per window and minute, shared by the process's requests
  // and kept a minute in the cache, so a rollout's burst of changes costs one query a minute.
  const inFlight = new Map<string, Promise<FleetHistoryPoint[]>>();
  const history = async (from: Date, to: Date, bucket: number): Promise<FleetHistoryPoint[]> => {
    const key = `fleet:history:${from.toISOString()}:${bucket}:${Math.floor(to.getTime() / 60_000)}`;
    const cached = await cache.get<FleetHistoryPoint[]>(key);
    if (cached) return cached;
    let running = inFlight.get(key);
    if (!running) {
      running = fleetHistory(db, from, to, bucket).then(async (points) => { await cache.set(key, points, 60); return points; }).finally(() => inFlight.delete(key));
      inFlight.set(key, running);
    }
    return running;
  };
  const tags = ['fleet'];
  /**
   * The window of a time series: `from`–`to` (`to` default now) or the `hours` before `to`, checked by the platform's
   * one range check (to after from, at most maxHours), its start aligned down on the bucket so successive calls share buckets.
   */
  const windowOf = (q: { hours?: number | undefined; from?: string | undefined; to?: string | undefined }, defaultHours: number, maxHours: number, bucket: number) => {
    if (q.hours !== undefined && q.from !== undefined) throw new HttpProblem(400, 'hours: give hours or from, not both', 'hours');
    const to = q.to !== undefined ? new Date(q.to) : now();
    const range = checkRange(q.from !== undefined ? new Date(q.from) : new Date(to.getTime() - (q.hours ?? defaultHours) * HOUR_MS), to, maxHours * HOUR_MS, `${maxHours} hours`);
    return { from: new Date(Math.floor(range.from.getTime() / (bucket * 60_000)) * bucket * 60_000), to: range.to };
  };
  r.get('/api/v1/fleet/offline', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'The offline devices, longest offline first, with the time each went offline',
      description: `Operators and administrators. A device seen at least once is offline when its last status said so (its Last Will) or it `
        + `was silent for more than ${STALE_AFTER_MS / 60_000} minutes; \`offlineSince\` is the Last Will's time, or its last sign of life. `
        + 'Devices never seen are not listed. The same rule drives the `devices_offline` alert.',
      querystring: z.object({
        ba: baCode.optional().describe('only devices in this balancing authority'),
        minutes: z.coerce.number().int().min(0).max(10_080).default(0).describe('only devices offline for at least this many minutes'),
        limit: z.coerce.number().int().min(1).max(1_000).default(100),
      }),
      response: {
        200: z.object({
          at: instant,
          data: z.array(z.object({ id: z.string(), name: z.string(), baCode: z.string().nullable(), lastSeenAt: instant.nullable(), offlineSince: instant.nullable() })),
        }),
      },
    },
  }, async (req) => {
    const at = now();
    const data = await offlineDevices(db, at, { ba: req.query.ba ?? null, limit: req.query.limit, offlineBefore: new Date(at.getTime() - req.query.minutes * 60_000) });
    return { at: at.toISOString(), data };
  });
  r.get('/api/v1/fleet/history', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'The fleet\'s state of charge and power over time, from the devices\' telemetry',
      description: 'Operators and administrators. The last `hours` hours (default 6), or `from`–`to` (at most 48 hours; 400 naming `to` when it is not after `from` or the span is longer), in buckets of `bucket` minutes (default 5): per device the mean of its '
        + 'telemetry samples in the bucket, then SoC weighted by usable capacity (Σ SoC × capacity / Σ capacity, %) and power summed (kW, + charging, − discharging). '
        + 'Buckets no device reported in are absent. The answer is computed at most once a minute (the newest bucket fills in within a minute).',
      querystring: z.object({
        hours: z.coerce.number().int().min(1).max(48).optional().describe('hours back from `to` (default 6)'),
        ...rangeQuery,
        bucket: z.coerce.number().int().min(1).max(60).default(5).describe('bucket length, minutes'),
      }),
      response: { 200: z.object({ from: instant, to: instant, bucketMinutes: z.number(), data: z.array(z.object({ ts: instant.describe('bucket start'), socPct: z.number().nullable(), powerKw: z.number().nullable(), devices: z.number() })) }), 400: problem },
    },
  }, async (req) => {
    const bucket = req.query.bucket;
    const { from, to } = windowOf(req.query, 6, 48, bucket);
    return { from: from.toISOString(), to: to.toISOString(), bucketMinutes: bucket, data: await history(from, to, bucket) };
  });
  r.get('/api/v1/fleet/devices/:id/telemetry', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'What a device reported executing: its telemetry over time (SoC, power, mode, schedule version)',
      description: 'Operators and administrators. The last `hours` hours (default 24), or `from`–`to` (at most 168 hours; 400 naming `to` when it is not after `from` or the span is longer), in buckets of `bucket` minutes (default 5): mean SoC (%) and power '
        + '(kW, + charging, − discharging), and the mode and schedule version (0 = fallback) of the bucket\'s last sample. Empty buckets are absent.',
      params: z.object({ id: z.string().regex(DEVICE_ID, 'a device id (lower-case letters, digits, hyphens)') }),
      querystring: z.object({
        hours: z.coerce.number().int().min(1).max(168).optional().describe('hours back from `to` (default 24)'),
        ...rangeQuery,
        bucket: z.coerce.number().int().min(1).max(60).default(5).describe('bucket length, minutes'),
      }),
      response: {
        200: z.object({ deviceId: z.string(), from: instant, to: instant, bucketMinutes: z.number(), data: z.array(z.object({ ts: instant.describe('bucket start'), socPct: z.number(), powerKw: z.number(), mode: z.string(), scheduleVersion: z.number(), samples: z.number() })) }),
        404: problem,
      },
    },
  }, async (req) => {
    const known = await db.query('SELECT 1 FROM devices WHERE id = $1', [req.params.id]);
    if (known.length === 0) throw new HttpProblem(404, `id: no device ${req.params.id}`, 'id');
    const bucket = req.query.bucket;
    const { from, to } = windowOf(req.query, 24, 168, bucket);
    return { deviceId: req.params.id, from: from.toISOString(), to: to.toISOString(), bucketMinutes: bucket, data: await deviceTelemetry(db, req.params.id, from, to, bucket) };
  });
}
