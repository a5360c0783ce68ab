import type { Db } from '../platform/db.ts';
import type { EiaRoute } from './eia-schema.ts';
import { getBas } from '../grid/ba-repository.ts';
import { clipToActive } from '../grid/active-dates.ts';
import { HOUR_MS } from '../grid/time.ts';

/** SQL: the EIA route (region, fuel, interchange) that feeds a series `s` by its type. */
export const ROUTE_OF_TYPE = `CASE s.type WHEN 'generation_by_fuel' THEN 'fuel' WHEN 'ba_interchange' THEN 'interchange' ELSE 'region' END`;

/** Consecutive missing hours of one BA and route (hour starts, inclusive). */
export interface Gap { ba: string; route: EiaRoute; source: 'eia' | 'simulated'; from: Date; to: Date; hours: number }

/**
 * Missing hours: for every active EIA or simulated series, the hours between its first and last
 * stored hour (within [since, until]) that have no row, found with generate_series against the
 * stored ts, then merged per BA, route and source into runs of consecutive hours. A stored null
 * (EIA reported nothing: quality missing) is not a gap; hours before a series' first row are not
 * either (a new fuel type starts when it starts). But a BA's route as a whole is meant to cover the
 * store's intended span (store_span, recorded at the first start: intended-span.ts): the hours from
 * there to the route's first stored hour are a gap, so a first fill that a crash cut short is completed
 * (within [since, until] too). Hours outside the BA's EIA-930 reporting dates (before it began, after
 * its retirement day) are never gaps.
 */
export async function findGaps(db: Db, opts: { since?: Date | undefined; until?: Date | undefined; bas?: string[] | undefined } = {}): Promise<Gap[]> {
  const rows = await db.query<{ ba: string; route: EiaRoute; source: 'eia' | 'simulated'; from: Date | string; to: Date | string; hours: number }>(
    `WITH spans AS (
       SELECT o.series_id, min(o.ts) AS lo, max(o.ts) AS hi, count(*) AS n
       FROM observations o JOIN series s ON s.id = o.series_id
       WHERE s.active AND s.source IN ('eia', 'simulated') AND ($3::text[] IS NULL OR s.ba_code = ANY ($3))
         AND ($1::timestamptz IS NULL OR o.ts >= $1) AND ($2::timestamptz IS NULL OR o.ts <= $2)
       GROUP BY o.series_id
     ), missing AS (
       SELECT DISTINCT s.ba_code, s.source,
              ${ROUTE_OF_TYPE} AS route, g.ts
       FROM spans sp JOIN series s ON s.id = sp.series_id
       CROSS JOIN LATERAL generate_series(sp.lo, sp.hi, interval '1 hour') AS g(ts)
       WHERE sp.n < extract(epoch FROM sp.hi - sp.lo) / 3600 + 1
         AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.series_id = sp.series_id AND o.ts = g.ts)
     ), islands AS (
       SELECT ba_code, source, route, ts,
              ts - row_number() OVER (PARTITION BY ba_code, source, route ORDER BY ts) * interval '1 hour' AS grp
       FROM missing
     ), heads AS (
       SELECT s.ba_code, s.source, ${ROUTE_OF_TYPE} AS route,
              greatest(sp.intended_from, coalesce($1::timestamptz, sp.intended_from)) AS lo,
              least(min(f.ts) - interval '1 hour', coalesce($2::timestamptz, min(f.ts))) AS hi
       FROM series s JOIN store_span sp ON sp.source = s.source
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id ORDER BY ts LIMIT 1) f
       WHERE s.active AND s.source IN ('eia', 'simulated') AND ($3::text[] IS NULL OR s.ba_code = ANY ($3))
       GROUP BY s.ba_code, s.source, 3, sp.intended_from
     )
     SELECT * FROM (
       SELECT ba_code AS ba, route, source, min(ts) AS "from", max(ts) AS "to", count(*)::integer AS hours
       FROM islands GROUP BY ba_code, source, route, grp
       UNION ALL
       SELECT ba_code, route, source, lo, hi, (extract(epoch FROM hi - lo) / 3600)::integer + 1 FROM heads WHERE lo <= hi
     ) g ORDER BY 1, 2, 4, 3`,
    [opts.since ?? null, opts.until ?? null, opts.bas ?? null]);
  const registry = new Map((await getBas(db, [...new Set(rows.map((r) => r.ba))])).map((b) => [b.code, b]));
  return rows.flatMap((r) => {
    const ba = registry.get(r.ba);
    const range = ba ? clipToActive(ba, new Date(r.from), new Date(r.to)) : { from: new Date(r.from), to: new Date(r.to) };
    return range ? [{ ba: r.ba, route: r.route, source: r.source, ...range, hours: (range.to.getTime() - range.from.getTime()) / HOUR_MS + 1 }] : [];
  });
}
