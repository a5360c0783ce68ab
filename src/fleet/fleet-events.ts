import type { Db } from '../platform/db.ts';

/**
 * Fleet change events: PostgreSQL NOTIFY on `gridpulse_fleet`, sent inside the writing transaction, so the
 * site's live streams (src/web/fleet-live-routes.ts) hear of a change only when it commits.
 * - `devices`: a device's status (online/offline), last seen, SoC or power changed, or a device was added or changed.
 * - `ledger`: delivery states changed (queued → sent → acknowledged → executing → succeeded/failed/timed-out).
 * - `rollouts`: a rollout started, progressed, finished, aborted or was cancelled.
 * Payload: `{"kind":"devices"|"ledger"|"rollouts","deviceIds":[…]?,"rolloutIds":[…]?}`; the id lists are left out
 * when they would be long (more than MAX_IDS), meaning "possibly every device".
 */
export const FLEET_CHANNEL = 'gridpulse_fleet';

export const FLEET_CHANGES = ['devices', 'ledger', 'rollouts'] as const;
export type FleetChange = (typeof FLEET_CHANGES)[number];

export interface FleetEvent { kind: FleetChange; deviceIds?: string[]; rolloutIds?: string[] }

/** Longest id list a payload carries (device ids are ≤ 63 characters: 100 of them stay far below NOTIFY's 8000 bytes). */
export const MAX_IDS = 100;

export function fleetPayload(event: FleetEvent): string {
  const ids = (list: string[] | undefined) => (list && list.length > 0 && list.length <= MAX_IDS ? [...new Set(list)] : undefined);
  const deviceIds = ids(event.deviceIds);
  const rolloutIds = ids(event.rolloutIds);
  return JSON.stringify({ kind: event.kind, ...(deviceIds ? { deviceIds } : {}), ...(rolloutIds ? { rolloutIds } : {}) });
}

/** Reads a payload; `undefined` for anything that is not a fleet event (never throws). */
export function parseFleetEvent(raw: string): FleetEvent | undefined {
  try {
    const v = JSON.parse(raw) as { kind?: unknown; deviceIds?: unknown; rolloutIds?: unknown };
    if (typeof v.kind !== 'string' || !(FLEET_CHANGES as readonly string[]).includes(v.kind)) return undefined;
    const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : undefined);
    const deviceIds = strings(v.deviceIds);
    const rolloutIds = strings(v.rolloutIds);
    return { kind: v.kind as FleetChange, ...(deviceIds ? { deviceIds } : {}), ...(rolloutIds ? { rolloutIds } : {}) };
  } catch {
    return undefined;
  }
}

/** Sends a fleet change event inside the caller's transaction (heard on commit only). Nothing is sent for an empty id list. */
export async function notifyFleetChanged(tx: Db, event: FleetEvent): Promise<void> {
  if ((event.deviceIds && event.deviceIds.length === 0) && !event.rolloutIds?.length) return;
  await tx.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, fleetPayload(event)]);
}
