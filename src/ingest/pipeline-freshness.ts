import type { Db } from '../platform/db.ts';
import { expectedLagMinutes, freshnessStatus, lagMinutes, type FreshnessStatus } from '../grid/freshness.ts';
import { getBas } from '../grid/ba-repository.ts';

export interface RouteFreshness {
  ba: string; route: string; type: string; newest: string;
  lagMinutes: number; expectedLagMinutes: number; status: FreshnessStatus;
}

/** The EIA route a series type comes from. */
export function routeOfType(type: string): string {
  return type === 'generation_by_fuel' ? 'fuel' : type === 'ba_interchange' ? 'interchange' : type === 'co2' ? 'derived' : 'region';
}

/** Newest stored hour per BA and series type, its lag and its status against EIA's usual publishing delay (`retired` for a retired BA). */
export async function pipelineFreshness(db: Db, now = new Date()): Promise<RouteFreshness[]> {
  const rows = await db.query<{ ba: string; type: string; newest: Date | string }>(
    `SELECT ba_code AS ba, type, max(ts) AS newest FROM latest_observations GROUP BY ba_code, type ORDER BY ba_code, type`);
  const registry = new Map((await getBas(db, [...new Set(rows.map((r) => r.ba))])).map((b) => [b.code, b]));
  return rows.map((r) => {
    const newest = new Date(r.newest);
    return {
      ba: r.ba, route: routeOfType(r.type), type: r.type, newest: newest.toISOString(),
      lagMinutes: lagMinutes(newest, now)!, expectedLagMinutes: expectedLagMinutes(r.type), status: freshnessStatus(r.type, newest, now, registry.get(r.ba)),
    };
  });
}

/** BAs with at least one stale series type (the daily job logs them). */
export async function staleBas(db: Db, now: Date): Promise<string[]> {
  return [...new Set((await pipelineFreshness(db, now)).filter((r) => r.status === 'stale').map((r) => r.ba))];
}
