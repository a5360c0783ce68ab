import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { DEVICE_ID } from './messages.ts';
import { distinctItems } from '../platform/input-guard.ts';

/** Device groups: named sets of devices a schedule can be rolled out to (a device may be in several). */

export const groupInput = z.object({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(500).default(''),
  deviceIds: distinctItems(z.array(z.string().regex(DEVICE_ID, 'a device id')).max(10_000)).default([]),
}).strict();

export const membershipChange = z.object({
  add: distinctItems(z.array(z.string().regex(DEVICE_ID, 'a device id')).max(10_000)).default([]),
  remove: distinctItems(z.array(z.string().regex(DEVICE_ID, 'a device id')).max(10_000)).default([]),
}).strict();

export interface DeviceGroup { id: string; name: string; description: string; deviceCount: number; createdAt: string }

// deviceCount: the group's active members, the devices a group schedule can reach (a revoked member stays listed, not counted)
const COLUMNS = `g.id, g.name, g.description, g.created_at,
  (SELECT count(*) FROM device_group_members m JOIN devices d ON d.id = m.device_id AND d.revoked_at IS NULL WHERE m.group_id = g.id)::int AS n`;
type Row = { id: string; name: string; description: string; created_at: Date | string; n: number };
const toGroup = (r: Row): DeviceGroup => ({ id: r.id, name: r.name, description: r.description, deviceCount: Number(r.n), createdAt: new Date(r.created_at).toISOString() });

async function assertDevices(db: Db, ids: readonly string[], field: string): Promise<void> {
  if (ids.length === 0) return;
  const rows = await db.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM devices WHERE id = ANY($1::text[])', [ids]);
  const known = new Map(rows.map((r) => [r.id, r.revoked]));
  const i = ids.findIndex((id) => known.get(id) !== false);
  if (i >= 0) {
    const detail = known.has(ids[i]!) ? `device ${ids[i]} is revoked (a group schedule could never reach it)` : `no such device ${ids[i]}`;
    throw new HttpProblem(400, `${field}/${i}: ${detail}`, `${field}/${i}`);
  }
}

/** Creates a group (409 `name` when a group of that name exists, whatever the case). */
export async function createGroup(tx: Db, g: z.output<typeof groupInput>): Promise<DeviceGroup> {
  if ((await tx.query('SELECT 1 FROM device_groups WHERE lower(name) = lower($1)', [g.name])).length) throw new HttpProblem(409, `name: a group named ${g.name} exists`, 'name');
  await assertDevices(tx, g.deviceIds, 'deviceIds');
  const [row] = await tx.query<{ id: string }>('INSERT INTO device_groups (name, description) VALUES ($1, $2) RETURNING id', [g.name, g.description]);
  if (g.deviceIds.length) await tx.query('INSERT INTO device_group_members (group_id, device_id) SELECT $1, d FROM unnest($2::text[]) d ON CONFLICT DO NOTHING', [row!.id, g.deviceIds]);
  return (await getGroup(tx, row!.id))!;
}

export async function getGroup(db: Db, id: string): Promise<DeviceGroup | undefined> {
  const [row] = await db.query<Row>(`SELECT ${COLUMNS} FROM device_groups g WHERE g.id = $1`, [id]);
  return row ? toGroup(row) : undefined;
}

export async function listGroups(db: Db): Promise<DeviceGroup[]> {
  return (await db.query<Row>(`SELECT ${COLUMNS} FROM device_groups g ORDER BY lower(g.name)`)).map(toGroup);
}

/** Adds and removes members; undefined when there is no such group. */
export async function changeMembers(tx: Db, id: string, c: z.output<typeof membershipChange>): Promise<DeviceGroup | undefined> {
  if ((await tx.query('SELECT 1 FROM device_groups WHERE id = $1 FOR UPDATE', [id])).length === 0) return undefined;
  await assertDevices(tx, c.add, 'add');
  if (c.add.length) await tx.query('INSERT INTO device_group_members (group_id, device_id) SELECT $1, d FROM unnest($2::text[]) d ON CONFLICT DO NOTHING', [id, c.add]);
  if (c.remove.length) await tx.query('DELETE FROM device_group_members WHERE group_id = $1 AND device_id = ANY($2::text[])', [id, c.remove]);
  return getGroup(tx, id);
}

/** The groups a device is in. */
export async function groupsOf(db: Db, deviceId: string): Promise<Array<{ id: string; name: string }>> {
  return db.query<{ id: string; name: string }>('SELECT g.id, g.name FROM device_groups g JOIN device_group_members m ON m.group_id = g.id WHERE m.device_id = $1 ORDER BY lower(g.name)', [deviceId]);
}
