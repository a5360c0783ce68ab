import type { Db } from '../../platform/db.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { combineSources, type DataSource } from './hourly.ts';

export { expectedLagMinutes, FRESHNESS_STATUSES, freshnessOf, freshnessStatus, lagMinutes, SCHEDULE_SLACK_MINUTES, type FreshnessStatus } from '../../grid/freshness.ts';
import { expectedLagMinutes, freshnessStatus, lagMinutes, type FreshnessStatus } from '../../grid/freshness.ts';

export interface SeriesFreshness {
  key: string; type: string; subtype: string;
  newest: string | null; lagMinutes: number | null; expectedLagMinutes: number; status: FreshnessStatus;
}

export interface BaFreshness {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string;
  series: SeriesFreshness[];
}

/**
 * Newest hour with a non-null value of every series of a BA, its lag and status; `undefined` for an
 * unknown BA. One index probe per series (newest first, skipping null values).
 */
export async function baFreshness(db: Db, code: string, now = new Date()): Promise<BaFreshness | undefined> {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const rows = await db.query<{ key: string; type: string; subtype: string; source: string; newest: Date | string | null }>(
    `SELECT s.key, s.type, s.subtype, s.source,
            (SELECT o.ts FROM observations o WHERE o.series_id = s.id AND o.value IS NOT NULL ORDER BY o.ts DESC LIMIT 1) AS newest
       FROM series s WHERE s.ba_code = $1 AND s.active ORDER BY s.key`, [code]);
  let through: number | null = null;
  const series = rows.map((r): SeriesFreshness => {
    const newest = r.newest === null ? null : new Date(r.newest);
    // forecasts reach into the future: they do not say how recent the observed data is
    if (newest && r.type !== 'forecast' && (through === null || newest.getTime() > through)) through = newest.getTime();
    return {
      key: r.key, type: r.type, subtype: r.subtype, newest: newest?.toISOString() ?? null,
      lagMinutes: lagMinutes(newest, now), expectedLagMinutes: expectedLagMinutes(r.type), status: freshnessStatus(r.type, newest, now, ba),
    };
  });
  return {
    ba: code, source: combineSources(rows.map((r) => r.source)), dataThrough: through === null ? null : new Date(through).toISOString(),
    generatedAt: now.toISOString(), series,
  };
}
