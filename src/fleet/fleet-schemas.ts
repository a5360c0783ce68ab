import { z } from 'zod';
import { DELIVERY_STATES } from './contract.ts';
import { FALLBACKS, scheduleInterval } from './messages.ts';
import { SKIP_REASONS } from './schedule-check.ts';

/** Response shapes of the fleet API (OpenAPI from the same schemas). Units: kWh, kW, SoC percent, instants ISO 8601 UTC. */

export const problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });

export const deviceOut = z.object({
  id: z.string().describe('device id = MQTT username'), name: z.string(),
  capacityKwh: z.number(), maxChargeKw: z.number(), maxDischargeKw: z.number(), chargeEfficiency: z.number(), dischargeEfficiency: z.number(),
  minSocPct: z.number(), maxSocPct: z.number(), reserveSocPct: z.number(), fallback: z.enum(FALLBACKS),
  baCode: z.string().nullable().describe('balancing authority'), tariff: z.string().nullable(), agentVersion: z.string().nullable(),
  status: z.enum(['online', 'offline']).describe('online: said so (status message, HTTP call) and heard from in the last 3 minutes'),
  lastSeenAt: z.string().nullable(),
  reported: z.object({
    socPct: z.number().nullable().describe('last reported state of charge, percent'), powerKw: z.number().nullable().describe('+ charging, − discharging'),
    at: z.string().nullable(), version: z.number().nullable().describe('the schedule version its telemetry says it executes (0 = fallback)'), mode: z.string().nullable(),
  }),
  desiredVersion: z.number().describe('the latest version issued to it (0 = none)'), confirmedVersion: z.number().describe('the highest version it acknowledged'),
  createdAt: z.string(), revokedAt: z.string().nullable(),
});

export const versionOut = z.object({
  deviceId: z.string(), version: z.number(), priority: z.number(), intervals: z.array(scheduleInterval), fallback: z.string(),
  startsAt: z.string(), endsAt: z.string(), issuedAt: z.string(), rolloutId: z.string().nullable(),
  state: z.enum(DELIVERY_STATES).describe('delivery state in the ledger'), stateAt: z.string(), sentAt: z.string().nullable(), acknowledgedAt: z.string().nullable(),
  executingAt: z.string().nullable(), finishedAt: z.string().nullable(), publishCount: z.number().describe('times published on the bus (re-publishes included)'),
  reason: z.string().nullable(), supersededBy: z.number().nullable(),
});

export const shadowOut = z.object({
  desired: versionOut.nullable().describe('the latest version with its delivery state'),
  confirmedVersion: z.number().describe('what the device acknowledged (its own word)'),
  executed: z.object({
    version: z.number().nullable().describe('what its latest telemetry says it executes (0 = its fallback)'), mode: z.string().nullable(), at: z.string().nullable(),
    lastSucceededVersion: z.number().nullable().describe('the newest version it reported succeeded'),
  }),
  inSync: z.boolean().describe('desired = confirmed'),
});

export const deviceDetailOut = deviceOut.extend({
  groups: z.array(z.object({ id: z.string(), name: z.string() })),
  shadow: shadowOut,
  history: z.array(versionOut).describe('the newest 20 versions: the delivery history'),
});

export const credentialsOut = z.object({
  id: z.string(), mqttUsername: z.string(), mqttPassword: z.string().describe('shown once; only its SHA-256 is kept'),
  apiKey: z.string().describe('gp_… device key (scope fleet:device) for the HTTP fallback; shown once'),
});

/** POST /api/v1/devices/{id}/credentials: the new credentials, as at creation; a secret not rotated is absent. */
export const rotatedCredentialsOut = z.object({
  id: z.string(), mqttUsername: z.string(),
  mqttPassword: z.string().optional().describe('the new MQTT password, when rotated; shown once'),
  apiKey: z.string().optional().describe('the new gp_… device key, when rotated; shown once'),
});

export const groupOut = z.object({ id: z.string(), name: z.string(), description: z.string(), deviceCount: z.number(), createdAt: z.string() });

const countsByState = z.object(Object.fromEntries(DELIVERY_STATES.map((s) => [s, z.number()])) as Record<(typeof DELIVERY_STATES)[number], z.ZodNumber>);

export const rolloutOut = z.object({
  id: z.string(), targetKind: z.enum(['device', 'group', 'fleet']), groupId: z.string().nullable(),
  status: z.enum(['running', 'completed', 'aborted', 'cancelled']), statusReason: z.string().nullable(), priority: z.number(),
  rate: z.object({ kind: z.enum(['max-per-minute', 'exponential']), maxPerMinute: z.number(), basePerMinute: z.number().nullable().optional(), incrementFactor: z.number().nullable().optional() }),
  abortFailurePct: z.number(), abortMinDevices: z.number(), total: z.number(), pending: z.number().describe('not yet issued'), issued: z.number(),
  skipped: z.number().describe('not issued: left out when the rollout was created (skippedAtStart) or refused at issue time (their state changed since)'),
  skippedAtStart: z.number().describe('of skipped: could not take the schedule when the rollout was created (no reported SoC, beyond their limits, a higher-priority version); never failures'),
  expired: z.number().describe('not reached before the schedule started (a restart mid-rollout, a slow runner): counted here, never as failures, so they do not trip the abort threshold'),
  cancelled: z.number().describe('never reached because the rollout was cancelled or aborted first (pending + issued + skipped + expired + cancelled = total)'),
  states: countsByState.describe('issued versions by delivery state'),
  progressPct: z.number().describe('devices that answered, timed out or were skipped, percent of total'),
  intervals: z.array(scheduleInterval), createdBy: z.string().nullable(), createdAt: z.string(), finishedAt: z.string().nullable(),
});

export const submittedOut = z.union([
  z.object({ kind: z.literal('device'), deviceId: z.string(), version: z.number(), superseded: z.array(z.number()).describe('versions this one replaced'), state: z.enum(DELIVERY_STATES),
    socAssumption: z.string().nullable().describe('null when the device reported its SoC; otherwise what the feasibility check assumed (it has not reported yet: any SoC from its minimum to its maximum)') }),
  z.object({ kind: z.literal('rollout'), rolloutId: z.string(), total: z.number(),
    skipped: z.array(z.object({
      reason: z.enum(SKIP_REASONS).describe('no-reported-soc: never reported a SoC and the schedule is not feasible from every SoC it could hold; soc-infeasible: from its reported SoC; '
        + 'beyond-limits: beyond its power or SoC limits whatever its SoC; priority-conflict: it runs a higher-priority version; not-active: revoked or gone'),
      count: z.number(), deviceIds: z.array(z.string()).describe('the first 20, in id order'),
      example: z.object({ deviceId: z.string(), field: z.string(), detail: z.string() }).describe('the first device\'s problem'),
    })).describe('devices left out, by reason (empty when every device takes the schedule)'),
    rollout: rolloutOut }),
]);

export const fleetSummaryOut = z.object({
  devices: z.number().describe('provisioned, not revoked: online + offline + neverSeen'),
  online: z.number().describe('said it is online and was heard from in the last 3 minutes'),
  offline: z.number().describe('seen at least once and not online now (the devices GET /api/v1/fleet/offline lists)'),
  neverSeen: z.number().describe('provisioned but never heard from (not counted offline)'),
  socPct: z.number().nullable().describe('energy-weighted fleet SoC of devices that reported one, percent'),
  storedKwh: z.number().describe('energy stored now (reported SoC × capacity), kWh'), capacityKwh: z.number(),
  powerKw: z.number().describe('sum of reported power, kW (+ charging)'),
  versions24h: z.object({ issued: z.number(), succeeded: z.number(), failed: z.number(), timedOut: z.number(),
    finished: z.number().describe('succeeded + failed + timed out: the versions the rate is of (the others are still in flight or were superseded)'), successPct: z.number().nullable().describe('succeeded / (succeeded + failed + timed out), last 24 h') }),
  rolloutsRunning: z.number(),
});

