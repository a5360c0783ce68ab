import type { Db } from '../platform/db.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';
import type { EiaRoute } from './eia-schema.ts';
import { ROUTE_OF_TYPE } from './gaps.ts';
import type { IngestRequest } from './ingest-range.ts';

export const EIA_ROUTES: readonly EiaRoute[] = ['region', 'fuel', 'interchange'];

/** The newest stored observed hour (start, UTC) of one BA's route; null when nothing is stored. */
export interface RouteCoverage { ba: string; route: EiaRoute; newest: Date | null }

/**
 * For each BA and route, the newest stored hour of its series of `source`, leaving out the EIA
 * day-ahead forecast (it reaches past now, and counting it would cut the revision window short).
 * Every BA in `bas` gets every route, with null where nothing is stored.
 */
export async function storedCoverage(db: Db, source: string, bas: string[]): Promise<RouteCoverage[]> {
  const rows = await db.query<{ ba: string; route: EiaRoute; ts: Date | string }>(
    `SELECT s.ba_code AS ba, ${ROUTE_OF_TYPE} AS route, max(o.ts) AS ts
     FROM series s CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id ORDER BY ts DESC LIMIT 1) o
     WHERE s.source = $1 AND s.type <> 'forecast' AND s.ba_code = ANY ($2::text[])
     GROUP BY 1, 2`, [source, bas]);
  const newest = new Map(rows.map((r) => [`${r.ba}|${r.route}`, new Date(r.ts)]));
  return bas.flatMap((ba) => EIA_ROUTES.map((route) => ({ ba, route, newest: newest.get(`${ba}|${route}`) ?? null })));
}

/**
 * The hourly pass, decided per BA and route from what is stored: each (BA, route) is read from
 * its own newest stored hour minus the revision window (EIA revises recent hours, and BA-to-BA
 * interchange lands a day or two after the fuel mix), through `lastHour`. One with nothing stored is
 * read from the store's intended start (`intendedFrom`, intended-span.ts: what the first fill meant to
 * cover, so a BA that a crash left empty gets the same span as the others), but never more than
 * `historyDays` back (a BA that never reports a route, such as a Canadian BA's demand, would otherwise
 * be asked for a longer span every hour). Pairs that start at the same hour are grouped into as few
 * requests as possible (same start and same BAs → one request for several routes).
 */
export function planIncremental(coverage: RouteCoverage[], lastHour: Date, opts: { revisionHours: number; historyDays: number; intendedFrom?: Date | undefined }): Array<Omit<IngestRequest, 'kind'>> {
  const fallback = Math.max(lastHour.getTime() - opts.historyDays * 24 * HOUR, opts.intendedFrom?.getTime() ?? -Infinity);
  const byStartRoute = new Map<string, { from: number; route: EiaRoute; bas: string[] }>();
  for (const c of coverage) {
    const from = c.newest ? Math.max(fallback, c.newest.getTime() - opts.revisionHours * HOUR) : fallback;
    if (from > lastHour.getTime()) continue;
    const k = `${from}|${c.route}`;
    const g = byStartRoute.get(k) ?? { from, route: c.route, bas: [] };
    g.bas.push(c.ba);
    byStartRoute.set(k, g);
  }
  const requests = new Map<string, { bas: string[]; from: Date; to: Date; routes: EiaRoute[] }>();
  for (const g of byStartRoute.values()) {
    const bas = [...new Set(g.bas)].sort();
    const k = `${g.from}|${bas.join(',')}`;
    const r = requests.get(k) ?? { bas, from: new Date(g.from), to: lastHour, routes: [] };
    r.routes.push(g.route);
    requests.set(k, r);
  }
  const order = (r: EiaRoute) => EIA_ROUTES.indexOf(r);
  return [...requests.values()]
    .map((r) => ({ ...r, routes: r.routes.sort((a, b) => order(a) - order(b)) }))
    .sort((a, b) => a.from.getTime() - b.from.getTime() || order(a.routes[0]!) - order(b.routes[0]!));
}
