import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { createApiKey, revokeApiKey } from '../auth/api-keys.ts';
import { getBa } from '../grid/ba-repository.ts';
import type { BrokerAdmin, DeviceCredentials } from './contract.ts';
import { DEVICE_ID, FALLBACKS, RESERVED_ID_PREFIX } from './messages.ts';
import { forgetDeviceCredentials, hashMqttPassword, newMqttPassword } from './device-credentials.ts';
import type { DeviceLimits } from './schedule-check.ts';
import { notifyCredentialsChanged, notifyFleet, notifyScheduleWaiters } from './fleet-events.ts';
import { distinctItems } from '../platform/input-guard.ts';

/**
 * The device registry: a battery's identity, its limits (the feasibility check's inputs), where it sits
 * (balancing authority, tariff), and what it last reported. Units: kWh, kW, SoC percent, efficiencies 0–1.
 */

/** A device is online when it said so (status/Last Will, or an HTTP call) and was heard from within this long (telemetry ≈ 1/min). */
export const HEARTBEAT_STALE_MS = 180_000;

const limitsShape = {
  capacityKwh: z.number().positive().max(10_000).describe('usable energy capacity, kWh'),
  maxChargeKw: z.number().positive().max(1_000).describe('maximum charge power, kW (AC side)'),
  maxDischargeKw: z.number().positive().max(1_000).describe('maximum discharge power, kW (AC side)'),
  chargeEfficiency: z.number().gt(0).max(1).describe('fraction of charged AC energy stored (0–1]'),
  dischargeEfficiency: z.number().gt(0).max(1).describe('fraction of stored energy delivered as AC (0–1]'),
  minSocPct: z.number().min(0).max(100).describe('hardware floor of state of charge, percent'),
  maxSocPct: z.number().min(0).max(100).describe('ceiling of state of charge, percent'),
  reserveSocPct: z.number().min(0).max(100).describe('kept for the home (backup): schedules never discharge below it, percent'),
  baCode: z.string().regex(/^[A-Z0-9_-]{2,12}$/, 'an EIA balancing authority code such as CISO').nullable().describe('the balancing authority the device sits in'),
  tariff: z.string().max(100).nullable().describe('the retail tariff the home is on (free text or a tariff id)'),
  fallback: z.enum(FALLBACKS).describe('what the agent does outside its schedule and when it runs out'),
};

const socOrder = (v: { minSocPct?: number | undefined; reserveSocPct?: number | undefined; maxSocPct?: number | undefined }, ctx: z.RefinementCtx) => {
  const { minSocPct, reserveSocPct, maxSocPct } = v;
  if (minSocPct !== undefined && maxSocPct !== undefined && minSocPct >= maxSocPct) {
    ctx.addIssue({ code: 'custom', path: ['maxSocPct'], message: `must be above minSocPct (${minSocPct})` });
    return;
  }
  if (minSocPct !== undefined && reserveSocPct !== undefined && reserveSocPct < minSocPct) ctx.addIssue({ code: 'custom', path: ['reserveSocPct'], message: 'must be at least minSocPct' });
  if (reserveSocPct !== undefined && maxSocPct !== undefined && reserveSocPct >= maxSocPct) ctx.addIssue({ code: 'custom', path: ['reserveSocPct'], message: 'must be below maxSocPct' });
};

/** POST /api/v1/devices and `gridpulse devices create`: a new device (defaults: a 13.5 kWh / 5 kW home battery). */
export const deviceInput = z.object({
  id: z.string().regex(DEVICE_ID, `lower-case letters, digits and hyphens, 3–63 characters, not beginning with ${RESERVED_ID_PREFIX} (reserved for GridPulse's own broker accounts)`).optional().describe('the device id (= its MQTT username); generated when absent'),
  name: z.string().trim().min(1).max(100),
  capacityKwh: limitsShape.capacityKwh.default(13.5),
  maxChargeKw: limitsShape.maxChargeKw.default(5),
  maxDischargeKw: limitsShape.maxDischargeKw.default(5),
  chargeEfficiency: limitsShape.chargeEfficiency.default(0.95),
  dischargeEfficiency: limitsShape.dischargeEfficiency.default(0.95),
  minSocPct: limitsShape.minSocPct.default(5),
  maxSocPct: limitsShape.maxSocPct.default(100),
  reserveSocPct: limitsShape.reserveSocPct.default(10),
  baCode: limitsShape.baCode.optional(),
  tariff: limitsShape.tariff.optional(),
  fallback: limitsShape.fallback.default('hold-soc'),
  groupIds: distinctItems(z.array(z.uuid()).max(50)).optional().describe('groups to put the device in'),
}).strict().superRefine(socOrder);
export type DeviceInput = z.input<typeof deviceInput>;

/** PATCH /api/v1/devices/{id}: any of the settable fields. */
export const devicePatch = z.object({
  name: z.string().trim().min(1).max(100),
  capacityKwh: limitsShape.capacityKwh, maxChargeKw: limitsShape.maxChargeKw, maxDischargeKw: limitsShape.maxDischargeKw,
  chargeEfficiency: limitsShape.chargeEfficiency, dischargeEfficiency: limitsShape.dischargeEfficiency,
  minSocPct: limitsShape.minSocPct, maxSocPct: limitsShape.maxSocPct, reserveSocPct: limitsShape.reserveSocPct,
  baCode: limitsShape.baCode, tariff: limitsShape.tariff, fallback: limitsShape.fallback,
}).partial().strict().superRefine(socOrder);
export type DevicePatch = z.infer<typeof devicePatch>;

export interface Device extends DeviceLimits {
  id: string; name: string; baCode: string | null; tariff: string | null; agentVersion: string | null;
  status: 'online' | 'offline'; lastSeenAt: string | null;
  reported: { socPct: number | null; powerKw: number | null; at: string | null; version: number | null; mode: string | null };
  desiredVersion: number; confirmedVersion: number;
  createdAt: string; revokedAt: string | null;
}

export interface DeviceRow {
  id: string; name: string; capacity_kwh: number; max_charge_kw: number; max_discharge_kw: number; charge_efficiency: number; discharge_efficiency: number;
  min_soc_pct: number; max_soc_pct: number; reserve_soc_pct: number; ba_code: string | null; tariff: string | null; fallback: DeviceLimits['fallback'];
  agent_version: string | null; api_key_id: string | null; online: boolean; last_seen_at: Date | string | null; soc_pct: number | null; power_kw: number | null;
  telemetry_at: Date | string | null; reported_version: number | null; reported_mode: string | null; desired_version: number; confirmed_version: number;
  created_at: Date | string; revoked_at: Date | string | null;
}
export const DEVICE_COLUMNS = `id, name, capacity_kwh, max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, min_soc_pct, max_soc_pct,
  reserve_soc_pct, ba_code, tariff, fallback, agent_version, api_key_id, online, last_seen_at, soc_pct, power_kw, telemetry_at, reported_version,
  reported_mode, desired_version, confirmed_version, created_at, revoked_at`;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The columns of a device's limits (what a schedule is checked against), as DEVICE_LIMIT_COLUMNS selects them. */
export type DeviceLimitsRow = Pick<DeviceRow, 'capacity_kwh' | 'max_charge_kw' | 'max_discharge_kw' | 'charge_efficiency' | 'discharge_efficiency'
  | 'min_soc_pct' | 'max_soc_pct' | 'reserve_soc_pct' | 'fallback'>;
export const DEVICE_LIMIT_COLUMNS = `capacity_kwh, max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, min_soc_pct, max_soc_pct,
  reserve_soc_pct, fallback`;

/** The one mapper from a device row's limits (numbers may arrive as strings from PostgreSQL numeric/bigint). */
export const toDeviceLimits = (r: DeviceLimitsRow): DeviceLimits => ({
  capacityKwh: Number(r.capacity_kwh), maxChargeKw: Number(r.max_charge_kw), maxDischargeKw: Number(r.max_discharge_kw),
  chargeEfficiency: Number(r.charge_efficiency), dischargeEfficiency: Number(r.discharge_efficiency), minSocPct: Number(r.min_soc_pct),
  maxSocPct: Number(r.max_soc_pct), reserveSocPct: Number(r.reserve_soc_pct), fallback: r.fallback,
});

/** The one mapper from a devices row (numbers may arrive as strings from PostgreSQL numeric/bigint). */
export function toDevice(r: DeviceRow, nowMs = Date.now()): Device {
  const seen = r.last_seen_at === null ? null : new Date(r.last_seen_at).getTime();
  return {
    id: r.id, name: r.name, ...toDeviceLimits(r), baCode: r.ba_code, tariff: r.tariff,
    agentVersion: r.agent_version,
    status: r.online && seen !== null && nowMs - seen <= HEARTBEAT_STALE_MS && r.revoked_at === null ? 'online' : 'offline',
    lastSeenAt: iso(r.last_seen_at),
    reported: { socPct: num(r.soc_pct), powerKw: num(r.power_kw), at: iso(r.telemetry_at), version: num(r.reported_version), mode: r.reported_mode },
    desiredVersion: Number(r.desired_version), confirmedVersion: Number(r.confirmed_version), createdAt: iso(r.created_at)!, revokedAt: iso(r.revoked_at),
  };
}

async function assertBa(db: Db, code: string | null | undefined): Promise<void> {
  if (code && !(await getBa(db, code))) throw new HttpProblem(400, `baCode: unknown balancing authority '${code}'`, 'baCode');
}

async function assertGroups(db: Db, ids: readonly string[] | undefined): Promise<void> {
  if (!ids?.length) return;
  const rows = await db.query<{ id: string }>('SELECT id FROM device_groups WHERE id = ANY($1::uuid[])', [ids]);
  const known = new Set(rows.map((r) => r.id));
  const i = ids.findIndex((id) => !known.has(id));
  if (i >= 0) throw new HttpProblem(400, `groupIds/${i}: no such group ${ids[i]}`, `groupIds/${i}`);
}

/**
 * Provisions a device in the caller's transaction: the row, its MQTT password (hashed), its HTTP key (kind
 * `device`, scope fleet:device) and, when the broker keeps its own accounts, its broker account (BrokerAdmin, last,
 * so a broker that refuses rolls the device back). Returns the credentials: the only time they exist in clear.
 * 409 `id` when the id is taken (also by a revoked device: ids are not reused) or is another broker account's
 * (BrokerAdmin), 400 naming the field for an unknown BA or group.
 */
export async function createDevice(tx: Db, input: z.output<typeof deviceInput>, brokerAdmin?: BrokerAdmin): Promise<{ device: Device; credentials: DeviceCredentials }> {
  await assertBa(tx, input.baCode);
  await assertGroups(tx, input.groupIds);
  const id = input.id ?? `bat-${randomBytes(6).toString('hex')}`;
  const [taken] = await tx.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM devices WHERE id = $1', [id]);
  // a revoked id is not given out again: its delivery history, execution log and telemetry stay its own
  if (taken) throw new HttpProblem(409, taken.revoked ? `id: ${id} belonged to a device revoked earlier; ids are not reused (its history stays under it): choose another` : `id: a device ${id} exists`, 'id');
  const { key, token } = await createApiKey(tx, { kind: 'device', name: `device ${id}` });
  const password = newMqttPassword();
  const [row] = await tx.query<DeviceRow>(
    `INSERT INTO devices (id, name, capacity_kwh, max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, min_soc_pct, max_soc_pct,
       reserve_soc_pct, ba_code, tariff, fallback, mqtt_password_hash, api_key_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ${DEVICE_COLUMNS}`,
    [id, input.name, input.capacityKwh, input.maxChargeKw, input.maxDischargeKw, input.chargeEfficiency, input.dischargeEfficiency,
      input.minSocPct, input.maxSocPct, input.reserveSocPct, input.baCode ?? null, input.tariff ?? null, input.fallback, hashMqttPassword(password), key.id]);
  if (input.groupIds?.length) {
    await tx.query('INSERT INTO device_group_members (group_id, device_id) SELECT g, $2 FROM unnest($1::uuid[]) g ON CONFLICT DO NOTHING', [input.groupIds, id]);
  }
  if (brokerAdmin) await brokerAdmin.provisionDevice(id, password);
  await notifyFleet(tx, 'devices', 1);
  return { device: toDevice(row!), credentials: { id, mqttUsername: id, mqttPassword: password, apiKey: token } };
}

export async function getDevice(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<Device | undefined> {
  const [row] = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return row ? toDevice(row) : undefined;
}

/** The device an API key of kind `device` belongs to, and whether it is revoked (undefined for any other key). */
export async function deviceOfKey(db: Db, keyId: string): Promise<{ id: string; revoked: boolean } | undefined> {
  const [row] = await db.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM devices WHERE api_key_id = $1', [keyId]);
  return row;
}

/**
 * What a device's schedule poll needs: its desired version (0 = none issued yet) and whether the device or the key
 * polling was revoked (or the key expired) since the request was let in.
 */
export async function pollState(db: Db, id: string, keyId: string): Promise<{ desiredVersion: number; revoked: boolean }> {
  const [row] = await db.query<{ desired_version: number; revoked: boolean }>(
    `SELECT d.desired_version, (d.revoked_at IS NOT NULL OR k.id IS NULL OR k.revoked_at IS NOT NULL OR k.expires_at <= now()) AS revoked
     FROM devices d LEFT JOIN api_keys k ON k.id = $2 WHERE d.id = $1`, [id, keyId]);
  return row ? { desiredVersion: Number(row.desired_version), revoked: row.revoked === true } : { desiredVersion: 0, revoked: true };
}

export interface DeviceListQuery { status?: 'online' | 'offline' | undefined; groupId?: string | undefined; after?: string | undefined; limit: number }

/** Devices by id (keyset pagination: `after` = the last id of the previous page), optionally one group's or by status. */
export async function listDevices(db: Db, q: DeviceListQuery, nowMs = Date.now()): Promise<Device[]> {
  const cutoff = new Date(nowMs - HEARTBEAT_STALE_MS);
  const rows = await db.query<DeviceRow>(
    `SELECT ${DEVICE_COLUMNS} FROM devices d
     WHERE ($1::text IS NULL OR d.id > $1)
       AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM device_group_members m WHERE m.group_id = $2::uuid AND m.device_id = d.id))
       AND ($3::text IS NULL OR ($3 = 'online') = (d.online AND d.revoked_at IS NULL AND d.last_seen_at >= $4::timestamptz))
     ORDER BY d.id LIMIT $5`,
    [q.after ?? null, q.groupId ?? null, q.status ?? null, cutoff, q.limit]);
  return rows.map((r) => toDevice(r, nowMs));
}

const PATCH_COLUMNS: Record<keyof DevicePatch, string> = {
  name: 'name', capacityKwh: 'capacity_kwh', maxChargeKw: 'max_charge_kw', maxDischargeKw: 'max_discharge_kw', chargeEfficiency: 'charge_efficiency',
  dischargeEfficiency: 'discharge_efficiency', minSocPct: 'min_soc_pct', maxSocPct: 'max_soc_pct', reserveSocPct: 'reserve_soc_pct',
  baCode: 'ba_code', tariff: 'tariff', fallback: 'fallback',
};

/** Changes a device's settings; the SoC order (min < max, min ≤ reserve < max) is checked against the merged result (400 naming the field the patch changed: `minSocPct`, `maxSocPct` or `reserveSocPct`). */
export async function updateDevice(tx: Db, id: string, patch: DevicePatch): Promise<Device | undefined> {
  const current = await getDevice(tx, id, { forUpdate: true });
  if (!current) return undefined;
  if (current.revokedAt) throw revokedProblem(id, 'its settings cannot be changed');
  const merged = { ...current, ...patch };
  // the pair the patch changed is named: min/max first (a reserve between them is meaningless until they are in order)
  if (merged.minSocPct >= merged.maxSocPct) {
    const field = patch.maxSocPct !== undefined ? 'maxSocPct' : 'minSocPct';
    throw new HttpProblem(400, `${field}: minSocPct (${merged.minSocPct}) must be below maxSocPct (${merged.maxSocPct})`, field);
  }
  if (merged.reserveSocPct < merged.minSocPct && patch.reserveSocPct === undefined) throw new HttpProblem(400, `minSocPct: must be at most reserveSocPct (${merged.reserveSocPct})`, 'minSocPct');
  if (merged.reserveSocPct >= merged.maxSocPct && patch.reserveSocPct === undefined) throw new HttpProblem(400, `maxSocPct: must be above reserveSocPct (${merged.reserveSocPct})`, 'maxSocPct');
  if (merged.reserveSocPct < merged.minSocPct) throw new HttpProblem(400, 'reserveSocPct: must be at least minSocPct', 'reserveSocPct');
  if (merged.reserveSocPct >= merged.maxSocPct) throw new HttpProblem(400, 'reserveSocPct: must be below maxSocPct', 'reserveSocPct');
  if (patch.baCode !== undefined) await assertBa(tx, patch.baCode);
  const keys = Object.keys(patch) as Array<keyof DevicePatch>;
  if (keys.length === 0) return current;
  const [row] = await tx.query<DeviceRow>(
    `UPDATE devices SET ${keys.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
    [id, ...keys.map((k) => patch[k] ?? null)]);
  return toDevice(row!);
}

/** 409 naming `id`: the device is revoked, for good (PATCH, DELETE again, credential rotation). */
export const revokedProblem = (id: string, what: string) => new HttpProblem(409, `id: device ${id} is revoked${what === 'already' ? ' already' : `; ${what}`}`, 'id');

/**
 * Revokes a device: its HTTP key, its MQTT password and its live MQTT session (a Mosquitto through BrokerAdmin at
 * once; the embedded broker when the caller's transaction commits: CREDENTIALS_CHANNEL, device-bus.ts), its retained
 * schedule on the broker (cleared on the same notice), its waiting long polls, which end with 401 on commit
 * (notifyScheduleWaiters). A rollout still running that reaches it skips it as `revoked` (rollouts.ts), counted with the
 * cancelled devices, never as a failure. What it sent that was still in flight is dropped where it would be stored
 * (ledger.ts lockDevices). Its history stays. False when there is no such device; 409 (revokedProblem) when it is
 * revoked already.
 */
export async function revokeDevice(tx: Db, id: string, brokerAdmin?: BrokerAdmin): Promise<boolean> {
  const [row] = await tx.query<{ api_key_id: string | null }>('UPDATE devices SET revoked_at = now(), online = false WHERE id = $1 AND revoked_at IS NULL RETURNING api_key_id', [id]);
  if (!row) {
    if ((await tx.query('SELECT 1 FROM devices WHERE id = $1', [id])).length) throw revokedProblem(id, 'already');
    return false;
  }
  if (row.api_key_id) await revokeApiKey(tx, row.api_key_id);
  if (brokerAdmin) await brokerAdmin.revokeDevice(id);
  forgetDeviceCredentials([id]);
  await notifyFleet(tx, 'devices', 1);
  await notifyScheduleWaiters(tx, [id]);
  await notifyCredentialsChanged(tx, [id], true);
  return true;
}

/** POST /api/v1/devices/{id}/credentials and `gridpulse devices rotate`: which of a device's credentials to replace (both by default). */
export const rotateInput = z.object({
  mqttPassword: z.boolean().default(true).describe('replace the MQTT password (the broker account is created or updated)'),
  apiKey: z.boolean().default(true).describe('replace the HTTP API key (the old one stops working at once)'),
}).strict().refine((v) => v.mqttPassword || v.apiKey, { message: 'rotate at least one of mqttPassword and apiKey', path: ['mqttPassword'] });

/** New credentials of a device: the id and MQTT username, and whichever secrets were replaced (shown once). */
export type RotatedCredentials = Pick<DeviceCredentials, 'id' | 'mqttUsername'> & Partial<Pick<DeviceCredentials, 'mqttPassword' | 'apiKey'>>;

/**
 * Rotates a device's credentials in the caller's transaction: a new MQTT password (its hash stored; with a BrokerAdmin
 * the broker account is created, or its password set: Mosquitto then ends the live session) and/or a new HTTP key (the
 * old one revoked). The embedded broker refuses the old password and ends the live session when the transaction commits
 * (CREDENTIALS_CHANNEL). Returns the new secrets: the only time they exist in clear. 404 `id` for an unknown device, 409
 * `id` for a revoked one (revocation is for good: provision a new device).
 */
export async function rotateDeviceCredentials(tx: Db, id: string, what: z.output<typeof rotateInput>, brokerAdmin?: BrokerAdmin): Promise<RotatedCredentials> {
  const [row] = await tx.query<{ api_key_id: string | null; revoked: boolean }>('SELECT api_key_id, revoked_at IS NOT NULL AS revoked FROM devices WHERE id = $1 FOR NO KEY UPDATE', [id]);
  if (!row) throw new HttpProblem(404, `id: no device ${id}`, 'id');
  if (row.revoked) throw revokedProblem(id, 'its credentials cannot be rotated (provision a new device)');
  const out: RotatedCredentials = { id, mqttUsername: id };
  if (what.apiKey) {
    if (row.api_key_id) await revokeApiKey(tx, row.api_key_id);
    const { key, token } = await createApiKey(tx, { kind: 'device', name: `device ${id}` });
    await tx.query('UPDATE devices SET api_key_id = $2, updated_at = now() WHERE id = $1', [id, key.id]);
    out.apiKey = token;
  }
  if (what.mqttPassword) {
    const password = newMqttPassword();
    await tx.query('UPDATE devices SET mqtt_password_hash = $2, updated_at = now() WHERE id = $1', [id, hashMqttPassword(password)]);
    // last, so a broker that refuses rolls the rotation back (the device keeps its old password everywhere)
    if (brokerAdmin) await brokerAdmin.provisionDevice(id, password);
    forgetDeviceCredentials([id]);
    await notifyCredentialsChanged(tx, [id], false);
    out.mqttPassword = password;
  }
  return out;
}

/** The active devices (not revoked), by id: what `gridpulse devices sync-broker` checks against the broker. */
export async function activeDeviceIds(db: Db): Promise<string[]> {
  return (await db.query<{ id: string }>('SELECT id FROM devices WHERE revoked_at IS NULL ORDER BY id')).map((r) => r.id);
}
