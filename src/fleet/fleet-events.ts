import type { Db } from '../platform/db.ts';

/**
 * PostgreSQL NOTIFY channel telling every process that the fleet changed, for live pages (fleet-web, over the
 * existing SSE): payload `{"kind": "devices" | "ledger" | "rollouts", "count": n}` — what changed and how much,
 * never which rows (a page re-reads what it shows; it should coalesce bursts, e.g. once a second). Sent inside
 * the writing statement's transaction, so it arrives when the change commits. One notice per batch, not per row.
 */
export const FLEET_CHANNEL = 'gridpulse_fleet';
export type FleetChange = 'devices' | 'ledger' | 'rollouts';

export async function notifyFleet(db: Db, kind: FleetChange, count: number): Promise<void> {
  if (count > 0) await db.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, JSON.stringify({ kind, count })]);
}

/** The payload of a FLEET_CHANNEL notice, or undefined for anything else. */
export function parseFleetChange(payload: string): { kind: FleetChange; count: number } | undefined {
  try {
    const v = JSON.parse(payload) as { kind?: unknown; count?: unknown };
    if ((v.kind === 'devices' || v.kind === 'ledger' || v.kind === 'rollouts') && typeof v.count === 'number') return { kind: v.kind, count: v.count };
  } catch { /* not ours */ }
  return undefined;
}

/**
 * PostgreSQL NOTIFY channel for long polls (schedule-waiters.ts): a JSON array of device ids whose desired version
 * changed or that were revoked. A waiting GET …/schedule?wait=N re-reads its device when named, in whichever web copy
 * it waits.
 */
export const SCHEDULE_CHANNEL = 'gridpulse_fleet_schedules';

/** Wakes the long polls of these devices when the caller's transaction commits (notices of 300 ids each, well under NOTIFY's 8,000-byte payload). */
export async function notifyScheduleWaiters(db: Db, deviceIds: readonly string[]): Promise<void> {
  await notifyDevices(db, SCHEDULE_CHANNEL, deviceIds, 300, (ids) => ids);
}

/**
 * NOTIFY `channel` with `deviceIds` cut into notices of `per` ids, each `payload(ids)` as JSON, in one round trip
 * (delivered when the caller's transaction commits; `per` keeps a notice under NOTIFY's 8,000-byte payload).
 */
async function notifyDevices(db: Db, channel: string, deviceIds: readonly string[], per: number, payload: (ids: readonly string[]) => unknown): Promise<void> {
  if (deviceIds.length === 0) return;
  const notices: string[] = [];
  for (let i = 0; i < deviceIds.length; i += per) notices.push(JSON.stringify(payload(deviceIds.slice(i, i + per))));
  await db.query('SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p', [channel, notices]);
}

/**
 * PostgreSQL NOTIFY channel of device credential changes: `{"ids": [...], "revoked": bool}` when devices were revoked
 * (revoked: true) or their MQTT password rotated (false), sent when the change commits. Every process with a device bus
 * (device-bus.ts) drops what it cached of those credentials and has its embedded broker disconnect their live sessions
 * (Mosquitto's dynamic security does that itself); for a revocation it also clears the device's retained schedule.
 */
export const CREDENTIALS_CHANNEL = 'gridpulse_fleet_credentials';

/** Tells every process, when the caller's transaction commits, that these devices' credentials changed (notices of 100 ids each: at most 6,500 bytes, under NOTIFY's 8,000). */
export async function notifyCredentialsChanged(db: Db, deviceIds: readonly string[], revoked: boolean): Promise<void> {
  await notifyDevices(db, CREDENTIALS_CHANNEL, deviceIds, 100, (ids) => ({ ids, revoked }));
}

/** The payload of a CREDENTIALS_CHANNEL notice, or undefined for anything else. */
export function parseCredentialsChange(payload: string): { ids: string[]; revoked: boolean } | undefined {
  try {
    const v = JSON.parse(payload) as { ids?: unknown; revoked?: unknown };
    if (Array.isArray(v.ids) && v.ids.every((id) => typeof id === 'string') && typeof v.revoked === 'boolean') return { ids: v.ids as string[], revoked: v.revoked };
  } catch { /* not ours */ }
  return undefined;
}
