import type { Db } from '../platform/db.ts';
import { getBa, type BalancingAuthority } from '../grid/ba-repository.ts';

import { HOUR_MS } from '../grid/time.ts';
export { HOUR_MS };

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
  /** newest hour start with any non-null value in the range, or null */
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

/** Loads one BA's hours in one query; `undefined` when the BA is unknown. */
export async function loadBaHours(db: Db, code: string, from: Date, to: Date): Promise<BaHours | undefined> {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const ts = hourStarts(from, to);
  const n = ts.length;
  const empty = () => new Array<number | null>(n).fill(null);
  const out: BaHours = {
    ba, from, to, ts, demand: empty(), forecast: empty(), netGeneration: empty(), totalInterchange: empty(),
    fuels: {}, interchange: {}, dataThrough: null, source: 'none',
  };
  if (n === 0) return out;
  const rows = await db.query<{ type: string; subtype: string; source: string; ts: Date | string; value: number | null }>(
    `SELECT s.type, s.subtype, s.source, o.ts, o.value
       FROM series s JOIN observations o ON o.series_id = s.id
      WHERE s.ba_code = $1 AND o.ts >= $2 AND o.ts < $3`,
    [ba.code, ts[0], new Date(ts[n - 1]!.getTime() + HOUR_MS)]);
  const t0 = ts[0]!.getTime();
  const sources = new Set<string>();
  let newest = -Infinity;
  for (const r of rows) {
    const t = new Date(r.ts).getTime();
    const i = (t - t0) / HOUR_MS;
    if (!Number.isInteger(i) || i < 0 || i >= n) continue;
    const value = r.value === null ? null : Number(r.value);
    const column = TYPE_COLUMN[r.type];
    if (column) out[column][i] = value;
    else if (r.type === 'generation_by_fuel') (out.fuels[r.subtype] ??= empty())[i] = value;
    else if (r.type === 'ba_interchange') (out.interchange[r.subtype] ??= empty())[i] = value;
    else continue;
    sources.add(r.source);
    if (value !== null && t > newest) newest = t;
  }
  out.dataThrough = Number.isFinite(newest) ? new Date(newest) : null;
  out.source = combineSources(sources);
  return out;
}

/** The newest hour start with data for a BA (any series), for "now" and freshness. */
export async function newestHour(db: Db, code: string): Promise<Date | null> {
  const [row] = await db.query<{ ts: Date | string | null }>(
    `SELECT max(ts) AS ts FROM latest_observations WHERE ba_code = $1 AND value IS NOT NULL`, [code]);
  return row?.ts ? new Date(row.ts) : null;
}
