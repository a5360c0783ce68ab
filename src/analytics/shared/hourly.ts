import type { Db } from '../../platform/db.ts';
import { getBa, type BalancingAuthority } from '../../grid/ba-repository.ts';

import { HOUR_MS } from '../../grid/time.ts';
export { HOUR_MS };

/** A value of a column that is there: not null (missing hour or EIA null), not NaN or infinite. */
export const present = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

/** Where the numbers behind an answer came from. */
export type DataSource = 'eia' | 'simulated' | 'external' | 'mixed' | 'none';

/**
 * Every hourly series of one BA over [from, to), column-oriented and aligned on `ts`
 * (consecutive UTC hour starts). Missing hours and EIA nulls are `null`, never guessed.
 * Interchange values are signed as EIA signs them: positive = export from this BA to the neighbour.
 */
export interface BaHours {
  ba: BalancingAuthority;
  from: Date;
  to: Date;
  ts: Date[];
  demand: (number | null)[];
  forecast: (number | null)[];
  netGeneration: (number | null)[];
  totalInterchange: (number | null)[];
  /** fuel code (EIA fueltype: COL, NG, NUC, OIL, WAT, SUN, WND, OTH, BAT, GEO, PS, …) → MW per hour */
  fuels: Record<string, (number | null)[]>;
  /** neighbour BA code → MW per hour, positive = export to the neighbour */
  interchange: Record<string, (number | null)[]>;
  /** newest hour start with a non-null observed value in the range (forecasts reach into the future: not counted), or null */
  dataThrough: Date | null;
  source: DataSource;
}

const TYPE_COLUMN: Record<string, 'demand' | 'forecast' | 'netGeneration' | 'totalInterchange'> = {
  demand: 'demand', forecast: 'forecast', net_generation: 'netGeneration', interchange: 'totalInterchange',
};

export function hourStarts(from: Date, to: Date): Date[] {
  const start = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const out: Date[] = [];
  for (let t = start; t < to.getTime(); t += HOUR_MS) out.push(new Date(t));
  return out;
}

/** One source, 'mixed' when several, 'none' when none. */
export function combineSources(sources: Iterable<string>): DataSource {
  const set = new Set(sources);
  if (set.size === 0) return 'none';
  if (set.size > 1) return 'mixed';
  return [...set][0] as DataSource;
}

/**
 * Loads one BA's hours in one query; `undefined` when the BA is unknown. Callers that hold the BA pass it
 * (no lookup); `types` limits the read to those series types (e.g. demand and forecast for a long history).
 */
export async function loadBaHours(db: Db, code: string | BalancingAuthority, from: Date, to: Date, types?: readonly string[]): Promise<BaHours | undefined> {
  const ba = typeof code === 'string' ? await getBa(db, code) : code;
  if (!ba) return undefined;
  const ts = hourStarts(from, to);
  const n = ts.length;
  const empty = () => new Array<number | null>(n).fill(null);
  const out: BaHours = {
    ba, from, to, ts, demand: empty(), forecast: empty(), netGeneration: empty(), totalInterchange: empty(),
    fuels: {}, interchange: {}, dataThrough: null, source: 'none',
  };
  if (n === 0) return out;
  // One row per series with its non-null hours as arrays: the driver decodes 20-odd rows, not one per hour.
  // Stored nulls and absent hours both stay null; a series with only nulls still names its source.
  const t0 = ts[0]!.getTime();
  const rows = await db.query<{ type: string; subtype: string; source: string; idx: number[]; vals: number[] }>(
    `SELECT s.type, s.subtype, s.source,
            coalesce(array_agg(((extract(epoch FROM o.ts) * 1000 - $4) / ${HOUR_MS})::integer) FILTER (WHERE o.value IS NOT NULL), '{}') AS idx,
            coalesce(array_agg(o.value) FILTER (WHERE o.value IS NOT NULL), '{}') AS vals
       FROM series s JOIN observations o ON o.series_id = s.id
      WHERE s.ba_code = $1 AND o.ts >= $2 AND o.ts < $3${types ? ' AND s.type = ANY ($5::text[])' : ''}
      GROUP BY s.id ORDER BY s.id`,
    [ba.code, ts[0], new Date(ts[n - 1]!.getTime() + HOUR_MS), t0, ...(types ? [types] : [])]);
  const sources = new Set<string>();
  let newest = -1;
  for (const r of rows) {
    const column = TYPE_COLUMN[r.type];
    const target = column ? out[column]
      : r.type === 'generation_by_fuel' ? (out.fuels[r.subtype] ??= empty())
      : r.type === 'ba_interchange' ? (out.interchange[r.subtype] ??= empty())
      : undefined;
    if (!target) continue;
    sources.add(r.source);
    const observed = r.type !== 'forecast';
    for (let k = 0; k < r.idx.length; k++) {
      const i = Number(r.idx[k]);
      if (i < 0 || i >= n) continue;
      target[i] = Number(r.vals[k]);
      if (observed && i > newest) newest = i;
    }
  }
  out.dataThrough = newest >= 0 ? new Date(t0 + newest * HOUR_MS) : null;
  out.source = combineSources(sources);
  return out;
}
