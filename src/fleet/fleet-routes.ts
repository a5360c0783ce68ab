import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { Access } from '../auth/access.ts';
import { auditRequest } from '../auth/audit.ts';
import type { BrokerAdmin, FleetBus, FleetLoopOptions } from './contract.ts';
import { DEVICE_ID, MAX_INTERVALS } from './messages.ts';
import { createDevice, deviceInput, devicePatch, getDevice, listDevices, revokeDevice, rotateDeviceCredentials, rotateInput, updateDevice } from './device-repository.ts';
import { changeMembers, createGroup, getGroup, groupInput, groupsOf, listGroups, membershipChange } from './device-groups.ts';
import { listVersions } from './schedule-versions.ts';
import { cancelRollout, getRollout, listRollouts, runRollouts, scheduleRequest, submitSchedule, ROLLOUT_STATUSES } from './rollouts.ts';
import { loopSettings, publishVersions } from './distribution.ts';
import { fleetSummary } from './fleet-summary.ts';
import { credentialsOut, rotatedCredentialsOut, deviceDetailOut, deviceOut, fleetSummaryOut, groupOut, problem, rolloutOut, submittedOut } from './fleet-schemas.ts';
import { countIssued } from './fleet-metrics.ts';
import { deviceSideRoutes } from './device-side-routes.ts';

/** What the fleet API needs beyond the database: all optional, so the web role runs without a broker. */
export interface FleetDeps {
  /** publishes new versions at once; absent, they stay queued until a process with a bus (gateway, start) re-publishes them */
  bus?: FleetBus | undefined;
  /** creates broker accounts where the broker keeps its own (Mosquitto dynsec, MQTT_ADMIN_URL): wired by fleet-bus */
  brokerAdmin?: BrokerAdmin | undefined;
  /** re-publish timing (the first re-publish is scheduled when a version is issued) and the clock */
  loops?: FleetLoopOptions | undefined;
  /** the gateway's stores for acks and telemetry arriving over HTTP (fleet-bus: execution log, telemetry series) */
  ackSink?: ((acks: import('./messages.ts').AckMessage[]) => Promise<void>) | undefined;
  telemetrySink?: ((t: import('./messages.ts').TelemetryMessage[], judged: readonly import('./telemetry-check.ts').Implausible[]) => Promise<void>) | undefined;
  /** told of each rollout's first round, started after POST /api/v1/schedules answered 202 (tests await it) */
  rolloutKicked?: ((rolloutId: string, firstRound: Promise<number>) => void) | undefined;
}

/** Fleet calls: operators and administrators (issue 14, on the accounts issue's roles). */
export const FLEET_ACCESS: Access = { roles: ['operator', 'admin'] };
const fleet = { access: FLEET_ACCESS };
const tags = ['fleet'];
const who = 'Operators and administrators (access token or session).';
const deviceParams = z.object({ id: z.string().regex(DEVICE_ID, 'a device id') });
const uuidParams = z.object({ id: z.uuid('an id (UUID)') });
const noDevice = (id: string) => new HttpProblem(404, `id: no device ${id}`, 'id');

/**
 * The fleet API: devices, groups, schedules, rollouts, and (device-side-routes.ts) what devices call with their
 * own key. Every change writes its audit record in its own transaction (src/auth/audit.ts).
 */
export async function fleetRoutes(app: FastifyInstance, db: Db, deps: FleetDeps = {}): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const s = loopSettings(deps.loops);
  const change = <T,>(req: FastifyRequest, action: string, objectType: string, fn: (tx: Db) => Promise<T>, objectId: (t: T) => string, detail?: (t: T) => Record<string, unknown>) =>
    db.transaction(async (tx) => {
      const out = await fn(tx);
      await auditRequest(tx, req, { action, outcome: 'success', objectType, objectId: objectId(out), detail: detail?.(out) ?? null });
      return out;
    });

  r.post('/api/v1/devices', {
    config: fleet,
    schema: {
      tags, summary: 'Provision a battery device: its limits, and its credentials (shown once)',
      description: `${who} Creates the device, its MQTT password (username = device id) and its HTTP key (kind device). The credentials are in this answer only. 409 when the id is taken.`,
      body: deviceInput, response: { 201: z.object({ device: deviceOut, credentials: credentialsOut }), 400: problem, 409: problem },
    },
  }, async (req, reply) => {
    const out = await change(req, 'fleet.devices.create', 'device', (tx) => createDevice(tx, req.body, deps.brokerAdmin), (o) => o.device.id,
      (o) => ({ capacityKwh: o.device.capacityKwh, maxChargeKw: o.device.maxChargeKw, maxDischargeKw: o.device.maxDischargeKw }));
    req.log.info({ deviceId: out.device.id }, 'device provisioned');
    return reply.code(201).send(out);
  });

  r.get('/api/v1/devices', {
    config: fleet,
    schema: {
      tags, summary: 'Devices, by id (pages of up to 1,000: pass the last id as `after`)',
      description: `${who} A page position that is not a device id (\`after\` or its alias \`cursor\`), or an unknown query parameter, is 400 naming it: never silently the first page.`,
      querystring: z.object({
        status: z.enum(['online', 'offline']).optional(), groupId: z.uuid().optional(),
        after: z.string().regex(DEVICE_ID, 'the last device id of the previous page (its `next`)').optional().describe('the last id of the previous page (the `next` of its answer)'),
        cursor: z.string().regex(DEVICE_ID, 'the last device id of the previous page (its `next`)').optional().describe('alias of `after`'),
        limit: z.coerce.number().int().min(1).max(1_000).default(100),
      }).strict(),
      response: { 200: z.object({ data: z.array(deviceOut), next: z.string().nullable().describe('`after` for the next page, null on the last') }) },
    },
  }, async (req) => {
    if (req.query.after !== undefined && req.query.cursor !== undefined && req.query.after !== req.query.cursor) throw new HttpProblem(400, 'cursor: give after or cursor, not two different positions', 'cursor');
    const data = await listDevices(db, { ...req.query, after: req.query.after ?? req.query.cursor });
    return { data, next: data.length === req.query.limit ? data.at(-1)!.id : null };
  });

  r.get('/api/v1/devices/:id', {
    config: fleet,
    schema: {
      tags, summary: 'A device: settings, reported state, desired vs confirmed vs executed schedule (shadow), delivery history',
      description: `${who} \`shadow.desired.state\` is the latest version's delivery state by name: queued, sent, acknowledged, executing, succeeded, failed, timed-out (or superseded).`,
      params: deviceParams, response: { 200: deviceDetailOut, 404: problem },
    },
  }, async (req) => {
    const d = await getDevice(db, req.params.id);
    if (!d) throw noDevice(req.params.id);
    const [history, groups] = await Promise.all([listVersions(db, d.id, 20), groupsOf(db, d.id)]);
    const desired = history.find((v) => v.version === d.desiredVersion) ?? null;
    const lastSucceeded = history.find((v) => v.state === 'succeeded')?.version ?? null;
    return {
      ...d, groups, history,
      shadow: {
        desired, confirmedVersion: d.confirmedVersion, inSync: d.desiredVersion === d.confirmedVersion,
        executed: { version: d.reported.version, mode: d.reported.mode, at: d.reported.at, lastSucceededVersion: lastSucceeded },
      },
    };
  });

  r.patch('/api/v1/devices/:id', {
    config: fleet,
    schema: { tags, summary: 'Change a device\'s settings (limits, SoC bounds, BA, tariff, fallback)', description: `${who} Versions already issued keep the limits they were checked with. 409 for a revoked device.`, params: deviceParams, body: devicePatch, response: { 200: deviceOut, 400: problem, 404: problem, 409: problem } },
  }, async (req) => change(req, 'fleet.devices.update', 'device', async (tx) => {
    const d = await updateDevice(tx, req.params.id, req.body);
    if (!d) throw noDevice(req.params.id);
    return d;
  }, (d) => d.id, () => ({ fields: Object.keys(req.body) })));

  r.delete('/api/v1/devices/:id', {
    config: fleet,
    schema: { tags, summary: 'Revoke a device: its HTTP key and broker credentials stop working; its history stays', description: `${who} 404 for an unknown device, 409 when it is revoked already (ids are never reused).`, params: deviceParams, response: { 204: z.null().describe('revoked'), 404: problem, 409: problem } },
  }, async (req, reply) => {
    await change(req, 'fleet.devices.revoke', 'device', async (tx) => {
      if (!(await revokeDevice(tx, req.params.id, deps.brokerAdmin))) throw noDevice(req.params.id);
      return req.params.id;
    }, (id) => id);
    return reply.code(204).send(null);
  });

  r.post('/api/v1/devices/:id/credentials', {
    config: fleet,
    schema: {
      tags, summary: 'Rotate a device\'s credentials: a new MQTT password and/or HTTP key (shown once)',
      description: `${who} Both are replaced unless the body says otherwise. The old ones stop working at once: the old key is revoked, `
        + 'the broker refuses the old password and ends the device\'s live MQTT session. With a Mosquitto dynamic-security admin configured, '
        + 'the device\'s broker account is created or its password set (also how a device provisioned on the embedded broker gets a Mosquitto account). '
        + '404 for an unknown device, 409 for a revoked one.',
      params: deviceParams, body: rotateInput.nullish(), response: { 200: z.object({ credentials: rotatedCredentialsOut }), 400: problem, 404: problem, 409: problem },
    },
  }, async (req) => {
    const what = rotateInput.parse(req.body ?? {});
    const credentials = await change(req, 'fleet.devices.rotate', 'device', (tx) => rotateDeviceCredentials(tx, req.params.id, what, deps.brokerAdmin), (c) => c.id,
      () => ({ mqttPassword: what.mqttPassword, apiKey: what.apiKey }));
    req.log.info({ deviceId: credentials.id, mqttPassword: what.mqttPassword, apiKey: what.apiKey }, 'device credentials rotated');
    return { credentials };
  });

  r.post('/api/v1/device-groups', {
    config: fleet,
    schema: { tags, summary: 'Create a device group', description: `${who} 409 when a group of that name exists.`, body: groupInput, response: { 201: groupOut, 400: problem, 409: problem } },
  }, async (req, reply) => reply.code(201).send(await change(req, 'fleet.groups.create', 'device_group', (tx) => createGroup(tx, req.body), (g) => g.id, (g) => ({ name: g.name, devices: g.deviceCount }))));

  r.get('/api/v1/device-groups', { config: fleet, schema: { tags, summary: 'Device groups with their sizes', description: who, response: { 200: z.object({ data: z.array(groupOut) }) } } },
    async () => ({ data: await listGroups(db) }));

  r.get('/api/v1/device-groups/:id', { config: fleet, schema: { tags, summary: 'A device group', description: who, params: uuidParams, response: { 200: groupOut, 404: problem } } },
    async (req) => { const g = await getGroup(db, req.params.id); if (!g) throw new HttpProblem(404, 'id: no such group', 'id'); return g; });

  r.post('/api/v1/device-groups/:id/devices', {
    config: fleet,
    schema: { tags, summary: 'Add devices to a group and remove others', description: who, params: uuidParams, body: membershipChange, response: { 200: groupOut, 400: problem, 404: problem } },
  }, async (req) => change(req, 'fleet.groups.members', 'device_group', async (tx) => {
    const g = await changeMembers(tx, req.params.id, req.body);
    if (!g) throw new HttpProblem(404, 'id: no such group', 'id');
    return g;
  }, (g) => g.id, () => ({ added: req.body.add.length, removed: req.body.remove.length })));

  r.post('/api/v1/schedules', {
    config: fleet,
    schema: {
      tags, summary: 'Send a schedule to a device, a group or the fleet',
      description: `${who} Checked before anything is stored or sent: intervals in order and not overlapping, in the future, at most 7 days; at most ${MAX_INTERVALS} `
        + 'intervals and a message a device can receive (the MQTT packet limit); instants RFC 3339 with a zone, stored and sent in UTC (`toISOString`); '
        + 'within each device\'s power limits; state of charge feasible through the whole schedule from the device\'s last reported SoC with its capacity and efficiencies. '
        + 'A problem names the field by its path (`field: intervals/3/powerKw`): 400 for the request itself (an unknown field included), 422 beyond a device\'s limits or SoC, 409 a priority conflict. '
        + 'Conflicts: the new schedule SUPERSEDES the device\'s unfinished versions of lower or equal priority and is REJECTED (409) by a higher one. '
        + 'Every accepted schedule is a new version per device (monotonically increasing). A group or fleet schedule is a rollout: every device is checked first; '
        + 'a device that cannot take it (`no-reported-soc`, `soc-infeasible`, `beyond-limits`, `priority-conflict`) is skipped, and the 202 lists the skipped devices by reason '
        + '(counts, the first device ids, an example problem); the request is refused whole only when the schedule itself is wrong (400), when no device can take it '
        + '(422 with the counts by reason; 409 when all are priority conflicts), or with `onDeviceRefusal: "reject"` at the first device that cannot. Then versions are issued at the rollout\'s rate, aborted past the failure threshold. A rollout whose rate cannot reach all its devices '
        + 'before intervals/0/start is refused (400 naming `rollout/maxPerMinute` or `rollout/exponential`); devices still unreached when the schedule starts (a restart, a slow '
        + 'runner) are counted as `expired`, never as failures. A device that never reported its SoC is checked from any SoC between its minimum and maximum, and the answer '
        + '(`socAssumption`) or the refusal says so. Operator schedules outrank the optimizer\'s (priority −1): any of them supersedes a plan, and the optimizer never supersedes one. '
        + 'One device: 201 with its version. A group or the fleet: 202 with the rollout id at once (the rollout runner issues and publishes the versions; '
        + 'follow it at GET /api/v1/rollouts/{id}).',
      body: scheduleRequest, response: { 201: submittedOut, 202: submittedOut, 400: problem, 404: problem, 409: problem, 422: problem },
    },
  }, async (req, reply) => {
    const now = s.now();
    const out = await change(req, 'fleet.schedules.create', 'schedule', (tx) => submitSchedule(tx, req.body, { now, republishMs: s.republishMs, createdBy: req.principal?.userId ?? req.principal?.id ?? null }),
      (o) => (o.kind === 'device' ? `${o.deviceId}@${o.version}` : o.rolloutId),
      (o) => (o.kind === 'device' ? { deviceId: o.deviceId, version: o.version, superseded: o.superseded, priority: req.body.priority }
        : { rolloutId: o.rolloutId, devices: o.total, priority: req.body.priority, skipped: Object.fromEntries(o.skipped.map((g) => [g.reason, g.count])) }));
    if (out.kind === 'device') {
      countIssued(db, 'operator', out.messages.length);
      const sent = await publishVersions(db, deps.bus, out.messages, s, req.log as unknown as Logger);
      req.log.info({ deviceId: out.deviceId, version: out.version, published: sent > 0 }, 'schedule version issued');
      return reply.code(201).send({ kind: 'device', deviceId: out.deviceId, version: out.version, superseded: out.superseded, state: sent ? 'sent' : 'queued', socAssumption: out.socAssumption });
    }
    // the answer does not wait for the versions: the first round (as many devices as the rate allows) starts now
    // beside it, the loops run the rest; a failed round is logged and the loops' next round retries
    const log = req.log as unknown as Logger;
    const firstRound = runRollouts(db, deps.bus, s, log, out.rolloutId)
      .catch((err: unknown) => { log.error({ rolloutId: out.rolloutId, err: (err as Error).message }, 'rollout round failed; the fleet loops retry'); return 0; });
    deps.rolloutKicked?.(out.rolloutId, firstRound);
    req.log.info({ rolloutId: out.rolloutId, devices: out.total, skipped: Object.fromEntries(out.skipped.map((g) => [g.reason, g.count])) }, 'rollout started');
    return reply.code(202).send({ kind: 'rollout', rolloutId: out.rolloutId, total: out.total, skipped: out.skipped, rollout: (await getRollout(db, out.rolloutId))! });
  });

  r.get('/api/v1/rollouts', {
    config: fleet,
    schema: { tags, summary: 'Rollouts, newest first, with their progress', description: who, querystring: z.object({ status: z.enum(ROLLOUT_STATUSES).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }), response: { 200: z.object({ data: z.array(rolloutOut) }) } },
  }, async (req) => ({ data: await listRollouts(db, req.query) }));

  r.get('/api/v1/rollouts/:id', { config: fleet, schema: { tags, summary: 'A rollout and its progress by delivery state', description: who, params: uuidParams, response: { 200: rolloutOut, 404: problem } } },
    async (req) => { const ro = await getRollout(db, req.params.id); if (!ro) throw new HttpProblem(404, 'id: no such rollout', 'id'); return ro; });

  r.post('/api/v1/rollouts/:id/cancel', {
    config: fleet,
    schema: { tags, summary: 'Cancel a running rollout: devices not yet reached get nothing', description: `${who} Versions already issued stay (send a new schedule to replace them). 409 when the rollout is not running.`, params: uuidParams, response: { 200: rolloutOut, 404: problem, 409: problem } },
  }, async (req) => {
    await change(req, 'fleet.rollouts.cancel', 'rollout', async (tx) => {
      if (await cancelRollout(tx, req.params.id, s.now())) return req.params.id;
      const exists = (await tx.query('SELECT 1 FROM rollouts WHERE id = $1', [req.params.id])).length > 0;
      throw exists ? new HttpProblem(409, 'id: the rollout is not running', 'id') : new HttpProblem(404, 'id: no such rollout', 'id');
    }, (id) => id);
    return (await getRollout(db, req.params.id))!;
  });

  r.get('/api/v1/fleet/summary', { config: fleet, schema: { tags, summary: 'The fleet at a glance: devices online, stored energy, power, command success over 24 h', description: who, response: { 200: fleetSummaryOut } } },
    async () => fleetSummary(db));

  await deviceSideRoutes(app, db, deps, s);
}
