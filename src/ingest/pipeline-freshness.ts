import type { Db } from '../platform/db.ts';
import type { Metrics } from '../platform/metrics.ts';
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

/**
 * Data freshness as metrics, refreshed at each scrape (a collector): `gridpulse_data_stale_series{route}` (BA × series
 * types whose newest hour is later than EIA's usual delay allows) and `gridpulse_data_freshest_lag_minutes{route}`
 * (the lag of the freshest BA of each route: when even it grows, ingestion has stopped). The `GridPulseDataStale`
 * alert (deploy/prometheus/alerts.yml) reads them. Absent from a scrape when the database cannot be read (not their
 * last values: GridPulseDependencyDown tells that story).
 */
export function freshnessMetrics(metrics: Metrics, db: Db): void {
  const stale = metrics.gauge('gridpulse_data_stale_series', 'BA x series types whose newest stored hour is late against EIA\'s usual publishing delay, by route', ['route']);
  const freshest = metrics.gauge('gridpulse_data_freshest_lag_minutes', 'minutes since the newest stored hour of the freshest BA, by route (region, fuel, interchange, derived)', ['route']);
  metrics.addCollector('data-freshness', async () => {
    const rows = await pipelineFreshness(db);
    const byRoute = new Map<string, { stale: number; lag: number }>();
    for (const r of rows) {
      const e = byRoute.get(r.route) ?? { stale: 0, lag: Infinity };
      if (r.status === 'stale') e.stale++;
      if (r.status !== 'retired') e.lag = Math.min(e.lag, r.lagMinutes);
      byRoute.set(r.route, e);
    }
    for (const [route, e] of byRoute) {
      stale.set({ route }, e.stale);
      if (Number.isFinite(e.lag)) freshest.set({ route }, e.lag);
    }
  }, [stale, freshest]);
}
