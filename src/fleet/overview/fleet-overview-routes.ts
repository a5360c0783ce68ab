import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { problemSchema } from '../../auth/auth-routes.ts';
import { DEVICE_ID, scheduleInterval } from '../messages.ts';
import { DELIVERY_STATES } from '../contract.ts';
import { fleetHistory, fleetOverview, STALE_AFTER_MS, SUCCESS_WINDOW_HOURS } from './fleet-overview.ts';
import { versionHistory } from './device-timeline.ts';

const FLEET_ACCESS = { roles: ['operator', 'admin'] } as const;
const instant = z.string().describe('ISO 8601 UTC');

const rollout = z.object({
  id: z.string(), targetKind: z.enum(['device', 'group', 'fleet']), groupId: z.string().nullable(), groupName: z.string().nullable(),
  status: z.enum(['running', 'completed', 'aborted', 'cancelled']), statusReason: z.string().nullable(),
  total: z.number().describe('devices targeted'), issued: z.number().describe('versions issued so far (the rate limit paces this)'),
  confirmed: z.number().describe('devices whose own acknowledgement arrived (acknowledged, executing or succeeded)'),
  succeeded: z.number(), failed: z.number(), timedOut: z.number(), superseded: z.number(), skipped: z.number().describe('devices not issued (refused, cancelled)'),
  progressPct: z.number().describe('devices done with delivery (confirmed, failed, timed out, superseded, skipped) / total × 100'),
  abortFailurePct: z.number(), createdAt: instant, finishedAt: instant.nullable(),
});

const overview = z.object({
  at: instant,
  devices: z.object({ total: z.number(), online: z.number(), offline: z.number(), neverSeen: z.number().describe('provisioned, never connected') }),
  soc: z.object({
    fleetPct: z.number().nullable().describe('energy-weighted SoC of the online devices, % of their usable capacity; null when none reports'),
    storedKwh: z.number().nullable(), capacityKwh: z.number().describe('nameplate capacity of every device, kWh'), reporting: z.number(),
  }),
  power: z.object({ netKw: z.number().describe('Σ last reported power of online devices, kW (+ charging, − discharging)'), chargingKw: z.number(), dischargingKw: z.number(), reporting: z.number() }),
  commands: z.object({
    windowHours: z.number(), succeeded: z.number(), failed: z.number(), timedOut: z.number(), pending: z.number().describe('versions still queued, sent, acknowledged or executing'),
    successRatePct: z.number().nullable().describe('succeeded / (succeeded + failed + timed out) over the window; null when none finished'),
  }),
  rollouts: z.array(rollout),
  offline: z.array(z.object({ id: z.string(), name: z.string(), baCode: z.string().nullable(), lastSeenAt: instant.nullable(), offlineSince: instant.nullable().describe('its offline status (Last Will) or, silent without one, its last sign of life') })).describe('longest offline first, at most 50'),
});

const version = z.object({
  version: z.number(), state: z.enum(DELIVERY_STATES), priority: z.number(), fallback: z.string(), rolloutId: z.string().nullable(),
  startsAt: instant, endsAt: instant, issuedAt: instant, stateAt: instant.describe('when the current state was reached'),
  sentAt: instant.nullable(), acknowledgedAt: instant.nullable(), executingAt: instant.nullable(), finishedAt: instant.nullable(),
  publishCount: z.number().describe('times published (re-published while unacknowledged)'), reason: z.string().nullable(), supersededBy: z.number().nullable(),
  intervals: z.array(scheduleInterval),
});

/**
 * The fleet pages' read API (operators and administrators): GET /api/v1/fleet/overview, GET /api/v1/fleet/history
 * and GET /api/v1/devices/{id}/history. Devices, schedules and rollouts themselves are fleet-core's routes.
 */
export function fleetOverviewRoutes(app: FastifyInstance, db: Db, now: () => Date = () => new Date()): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['fleet'];
  r.get('/api/v1/fleet/overview', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'The fleet now: devices by status, fleet SoC and power, command success rate, rollouts with progress, offline devices',
      description: `Operators and administrators. A device is online when its last status said so and it showed a sign of life (status, `
        + `telemetry, ack) in the last ${STALE_AFTER_MS / 60_000} minutes. The command success rate counts versions that finished in the last `
        + `${SUCCESS_WINDOW_HOURS} hours. Rollouts: running ones and those finished in the last day, newest first.`,
      response: { 200: overview },
    },
  }, async () => fleetOverview(db, now()));
  r.get('/api/v1/fleet/history', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'The fleet\'s state of charge and power over time, from the devices\' telemetry',
      description: 'Operators and administrators. The last `hours` hours (default 6) in buckets of `bucket` minutes (default 5): per device the mean of its '
        + 'telemetry samples in the bucket, then SoC weighted by usable capacity (Σ SoC × capacity / Σ capacity, %) and power summed (kW, + charging, − discharging). '
        + 'Buckets no device reported in are absent.',
      querystring: z.object({
        hours: z.coerce.number().int().min(1).max(48).default(6).describe('hours back from now'),
        bucket: z.coerce.number().int().min(1).max(60).default(5).describe('bucket length, minutes'),
      }),
      response: { 200: z.object({ from: instant, to: instant, bucketMinutes: z.number(), data: z.array(z.object({ ts: instant.describe('bucket start'), socPct: z.number().nullable(), powerKw: z.number().nullable(), devices: z.number() })) }) },
    },
  }, async (req) => {
    const to = now();
    const bucket = req.query.bucket;
    // buckets aligned on whole multiples of the bucket length, so successive calls share them
    const from = new Date(Math.floor((to.getTime() - req.query.hours * 3_600_000) / (bucket * 60_000)) * bucket * 60_000);
    return { from: from.toISOString(), to: to.toISOString(), bucketMinutes: bucket, data: await fleetHistory(db, from, to, bucket) };
  });
  r.get('/api/v1/devices/:id/history', {
    config: { access: FLEET_ACCESS },
    schema: {
      tags, summary: 'A device\'s delivery history: its newest 50 schedule versions with their intervals and every ledger step',
      description: 'Operators and administrators. Newest version first; states: queued, sent, acknowledged, executing, succeeded, failed, timed-out, superseded.',
      params: z.object({ id: z.string().regex(DEVICE_ID, 'a device id') }),
      response: { 200: z.object({ data: z.array(version) }), 404: problemSchema },
    },
  }, async (req) => {
    const data = await versionHistory(db, req.params.id);
    if (!data) throw new HttpProblem(404, `no device '${req.params.id}'`, 'id');
    return { data };
  });
}
