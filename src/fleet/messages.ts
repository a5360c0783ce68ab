import { z } from 'zod';
import { zonedInstant } from '../platform/instant.ts';

/**
 * The device bus: MQTT 5 topics and versioned JSON message schemas shared by the API, the gateway, the
 * agent and the simulator. Only standard MQTT 5 features are used in the data path (retained messages,
 * QoS 1, persistent sessions, Last Will, shared subscriptions, user properties), so any MQTT 5 broker
 * (Mosquitto, EMQX, HiveMQ, the embedded Aedes) can carry it.
 *
 * Units: power in kW, energy in kWh, state of charge (SoC) in percent of usable capacity (0–100), instants
 * as ISO 8601 UTC strings. Sign of measured power: positive = the battery charges (draws from the home or
 * grid), negative = it discharges.
 */

export const TOPIC_ROOT = 'gridpulse/v1/devices';
/** Per device: `schedule` (cloud → device, retained, QoS 1), `ack`, `telemetry` (device → cloud, QoS 1), `status` (Last Will, retained). */
export const deviceTopic = (deviceId: string, leaf: 'schedule' | 'ack' | 'telemetry' | 'status') => `${TOPIC_ROOT}/${deviceId}/${leaf}`;
/** The gateway's shared subscriptions: N gateway copies share the load of each leaf. */
export const sharedSubscription = (leaf: 'ack' | 'telemetry' | 'status', group = 'gateway') => `$share/${group}/${TOPIC_ROOT}/+/${leaf}`;

/**
 * The largest MQTT packet either broker takes, bytes (Aedes: packet-size-guard.ts; Mosquitto: `max_packet_size` in
 * deploy/mosquitto/mosquitto.conf, the same number). The largest valid message is a schedule of 2,880 intervals
 * (about 200 bytes each at most with long timestamps and full-precision numbers: under 600 KB); 1 MiB leaves room
 * and the topic. A client sending more is disconnected before the broker buffers the packet.
 */
export const MAX_PACKET_BYTES = 1_048_576;
/**
 * The most bytes a schedule message (its JSON) may take: MAX_PACKET_BYTES less room for the topic (a 63-character
 * device id), the MQTT 5 fixed and variable headers and the user properties (trace context) the publisher adds.
 */
export const MAX_SCHEDULE_MESSAGE_BYTES = MAX_PACKET_BYTES - 4_096;

/**
 * The bytes of the largest schedule message these intervals can become: with the longest device id, version,
 * fallback and a rollout id, so a schedule accepted for one device fits every device of a rollout.
 */
export function scheduleMessageBytes(intervals: readonly ScheduleInterval[]): number {
  const largest = { schema: 'gridpulse.schedule/1', deviceId: 'x'.repeat(63), version: 2 ** 31 - 1, issuedAt: new Date(0).toISOString(), intervals,
    fallback: 'self-consumption', rolloutId: '00000000-0000-0000-0000-000000000000' };
  return new TextEncoder().encode(JSON.stringify(largest)).length;
}

/**
 * The largest device → cloud message (ack, telemetry, status) the gateway parses, bytes: the largest valid one
 * (an ack with a 500-character reason) is under 1 KB. Larger payloads are counted and dropped unparsed.
 */
export const MAX_DEVICE_MESSAGE_BYTES = 16_384;

/**
 * GridPulse's own broker accounts and client ids begin with it (the gateway's account and sessions, the schedule
 * publisher, the dynamic-security admin client): no device id may, so no device takes over their sessions or accounts.
 */
export const RESERVED_ID_PREFIX = 'gridpulse-';
/**
 * A device id: lower-case letters, digits and hyphens, 3–63 characters, so it is safe as a topic level and a broker
 * username; not beginning with RESERVED_ID_PREFIX.
 */
export const DEVICE_ID = /^(?!gridpulse-)[a-z0-9][a-z0-9-]{2,62}$/;

export const ACTIONS = ['charge', 'discharge', 'idle', 'hold-soc'] as const;
export type ScheduleAction = (typeof ACTIONS)[number];

/**
 * The largest value of a PostgreSQL `integer` (int4) column: every integer a device or a client sends that lands in
 * one (schedule versions, interval indexes, rollout rates, …) is bounded by it in its schema, so the database never
 * refuses it (SQLSTATE 22003) — a refused value would fail a whole gateway batch, or an HTTP call with a 500.
 */
export const PG_INT_MAX = 2_147_483_647;
/**
 * The bound of an integer sent into a `bigint` column (`seq`): PostgreSQL holds up to 2^63 − 1, a JSON number is
 * exact only up to 2^53 − 1 (Number.MAX_SAFE_INTEGER), so the latter.
 */
export const PG_BIGINT_SAFE_MAX = Number.MAX_SAFE_INTEGER;
/** A non-negative integer of an `integer` column. */
const int4 = () => z.number().int().nonnegative().max(PG_INT_MAX);
/** A non-negative integer of a `bigint` column, exact in JSON. */
const int8 = () => z.number().int().nonnegative().max(PG_BIGINT_SAFE_MAX);

/** Free text of a device (an ack's reason, an agent version): no NUL (U+0000), which PostgreSQL's text refuses outright (SQLSTATE 22021). */
const deviceText = (max: number) => z.string().max(max).refine((s) => !s.includes('\u0000'), { message: 'NUL (U+0000) is not allowed' });

/** Every instant of a message: RFC 3339 with its zone, at most 35 characters, between 2000 and 2099 (platform/instant.ts). */
const instant = zonedInstant();

/**
 * The smallest charge or discharge power a schedule carries, kW: one watt, the resolution schedules are issued at
 * (the optimizer and market dispatch round to it). A smaller power (1e-300) is no command a battery can follow.
 */
export const MIN_POWER_KW = 0.001;

export const scheduleInterval = z.object({
  start: instant.describe('interval start, inclusive (ISO 8601 with a zone; stored and sent in UTC, e.g. 2026-12-01T10:00:00.000Z)'),
  end: instant.describe('interval end, exclusive (ISO 8601 with a zone; stored and sent in UTC)'),
  action: z.enum(ACTIONS),
  powerKw: z.number().nonnegative().max(1_000).optional()
    .describe(`charge or discharge power magnitude, kW: required for charge/discharge, at least ${MIN_POWER_KW} kW (1 W); idle takes none`),
  targetSoc: z.number().min(0).max(100).optional().describe('SoC to hold or reach, percent (hold-soc; optional cap for charge/discharge)'),
});
export type ScheduleInterval = z.infer<typeof scheduleInterval>;

/** An interval with its instants in canonical UTC form (`toISOString`), as versions are stored and devices receive them. */
export const canonicalInterval = (iv: ScheduleInterval): ScheduleInterval => ({ ...iv, start: new Date(iv.start).toISOString(), end: new Date(iv.end).toISOString() });

export const FALLBACKS = ['hold-soc', 'idle', 'self-consumption'] as const;

/** The most intervals a schedule holds (a minute each for two days, or 5 minutes each for the 7-day horizon and more). */
export const MAX_INTERVALS = 2_880;

/** Cloud → device, retained on the device's schedule topic: the whole desired schedule, one version. */
export const scheduleMessage = z.object({
  schema: z.literal('gridpulse.schedule/1'),
  deviceId: z.string().regex(DEVICE_ID),
  version: int4().positive().describe('monotonically increasing per device; a device never executes a version older than one it acknowledged'),
  issuedAt: instant,
  intervals: z.array(scheduleInterval).max(MAX_INTERVALS),
  fallback: z.enum(FALLBACKS).describe('what to do outside the intervals and when the schedule runs out'),
  rolloutId: z.uuid().optional().describe('the rollout that issued this version, when one did'),
});
export type ScheduleMessage = z.infer<typeof scheduleMessage>;

export const ACK_STATES = ['acknowledged', 'executing', 'succeeded', 'failed', 'rejected'] as const;
export type AckState = (typeof ACK_STATES)[number];

/** Device → cloud, QoS 1: the device's own word on a version. `seq` orders a device's messages for replay after being offline. */
export const ackMessage = z.object({
  schema: z.literal('gridpulse.ack/1'),
  deviceId: z.string().regex(DEVICE_ID),
  version: int4().positive(),
  state: z.enum(ACK_STATES),
  at: instant,
  seq: int8(),
  reason: deviceText(500).optional(),
  intervalIndex: int4().optional(),
});
export type AckMessage = z.infer<typeof ackMessage>;

/** Device → cloud, QoS 1, about once a minute: measured state. */
export const telemetryMessage = z.object({
  schema: z.literal('gridpulse.telemetry/1'),
  deviceId: z.string().regex(DEVICE_ID),
  at: instant,
  seq: int8(),
  socPct: z.number().min(0).max(100),
  powerKw: z.number().min(-1_000).max(1_000).describe('measured battery power, kW: + charging, − discharging'),
  scheduleVersion: int4().describe('the version being executed; 0 = none (fallback)'),
  mode: z.enum([...ACTIONS, ...FALLBACKS.filter((f) => !ACTIONS.includes(f as ScheduleAction))] as [string, ...string[]]),
});
export type TelemetryMessage = z.infer<typeof telemetryMessage>;

/** Device → cloud, retained; also the device's Last Will (`online: false`). */
export const statusMessage = z.object({
  schema: z.literal('gridpulse.status/1'),
  deviceId: z.string().regex(DEVICE_ID),
  online: z.boolean(),
  at: instant.optional().describe('absent in the Last Will, which the broker publishes'),
  agentVersion: deviceText(40).optional(),
});
export type StatusMessage = z.infer<typeof statusMessage>;

/**
 * The accepted window of a device message's `at` (acks, telemetry, statuses; every ingest path: the MQTT gateway,
 * the HTTP fallback, the ledger): not older than MESSAGE_MAX_AGE_MS (a device offline longer, or a wrong clock)
 * and not further ahead than MESSAGE_MAX_AHEAD_MS (a device clock ahead: a future `at` would become the reported
 * state and make every later real message look stale).
 */
export const MESSAGE_MAX_AGE_MS = 31 * 86_400_000;
export const MESSAGE_MAX_AHEAD_MS = 3_600_000;

/** Why `at` (ISO 8601) is outside the window at `now` (ms): 'future', 'old', or null when inside (or absent: a Last Will). */
export function outOfWindow(at: string | undefined, now: number): 'future' | 'old' | null {
  if (at === undefined) return null;
  const t = Date.parse(at);
  return t > now + MESSAGE_MAX_AHEAD_MS ? 'future' : t < now - MESSAGE_MAX_AGE_MS ? 'old' : null;
}

/** The messages inside the window and how many were outside it. */
export function splitByWindow<T extends { at?: string | undefined }>(messages: readonly T[], now: number): { inWindow: T[]; outOfWindow: number } {
  const inWindow = messages.filter((m) => outOfWindow(m.at, now) === null);
  return { inWindow, outOfWindow: messages.length - inWindow.length };
}

/** The problem detail of a message outside the window (HTTP 400, field `at`). */
export const windowDetail = (why: 'future' | 'old') => (why === 'future'
  ? `at: more than ${MESSAGE_MAX_AHEAD_MS / 60_000} minutes in the future (check the device clock)`
  : `at: older than ${MESSAGE_MAX_AGE_MS / 86_400_000} days`);
