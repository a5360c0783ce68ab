import type { Db } from '../../platform/db.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { loadBaHours, type DataSource, present } from '../shared/hourly.ts';
import { addDays, localDateOf, localDay, localHourOf } from '../../grid/local-day.ts';
import { expectedValues, loadSpans, type SeriesSpan } from '../intensity/intensity.ts';

type Column = ReadonlyArray<number | null>;

/** Local-hour windows (hour starts, inclusive): the midday belly and the evening ramp's peak. */
export const BELLY_HOURS = { from: 10, to: 15 } as const;
export const EVENING_HOURS = { from: 17, to: 21 } as const;

/** EIA fuel codes counted as solar and as wind in net load (hybrids with integrated batteries included). */
const SOLAR = ['SUN', 'SNB'];
const WIND = ['WND', 'WNB'];

export const DUCK_DEFINITION =
  'Net load = demand − solar − wind per hour (MW; solar = SUN + SNB, wind = WND + WNB; a BA without such a series counts 0, ' +
  'a missing hour of a series expected then (from its first stored hour to a week after its newest, whatever the range asked) makes net load null). Per BA-local day: bellyMw = lowest net load with a start between ' +
  `${BELLY_HOURS.from}:00 and ${BELLY_HOURS.to}:00 local, eveningPeakMw = highest between ${EVENING_HOURS.from}:00 and ${EVENING_HOURS.to}:00, ` +
  'rampMw = eveningPeakMw − bellyMw, score = rampMw / eveningPeakMw (dimensionless; 0 = no belly, 0.5 = the belly is half the ' +
  'evening peak; negative when midday net load exceeds the evening). Null when any hour of either window is missing or the evening ' +
  'peak is not positive. trend.slopePerDay: least-squares slope of the daily scores against the day number (score units per day), ' +
  'over the days with a score (null with fewer than 2).';


/**
 * Σ of the codes' values at hour i; null when a series expected then lacks its value. With `spans` (the store's),
 * a series not published yet is missing and one not begun counts 0, in any range; without, the columns decide.
 */
function sumOf(fuels: Readonly<Record<string, Column>>, codes: readonly string[], i: number, t: number, spans?: Readonly<Record<string, SeriesSpan>>): number | null {
  const values: Record<string, number | null> = {};
  for (const code of codes) if (fuels[code]) values[code] = present(fuels[code][i]) ? fuels[code][i]! : null;
  const counted = spans ? expectedValues(values, Object.fromEntries(codes.filter((c) => spans[c]).map((c) => [c, spans[c]!])), t) : values;
  let s = 0;
  for (const v of Object.values(counted)) {
    if (v === null) return null;
    s += v;
  }
  return s;
}

export interface NetLoadHour { ts: Date; demandMw: number | null; solarMw: number | null; windMw: number | null; netLoadMw: number | null }

export function netLoad(ts: readonly Date[], demand: Column, fuels: Readonly<Record<string, Column>>, spans?: Readonly<Record<string, SeriesSpan>>): NetLoadHour[] {
  return ts.map((t, i) => {
    const d = demand[i];
    const solarMw = sumOf(fuels, SOLAR, i, t.getTime(), spans);
    const windMw = sumOf(fuels, WIND, i, t.getTime(), spans);
    const netLoadMw = present(d) && solarMw !== null && windMw !== null ? d - solarMw - windMw : null;
    return { ts: t, demandMw: present(d) ? d : null, solarMw, windMw, netLoadMw };
  });
}

export interface DuckDay {
  date: string; score: number | null;
  bellyMw: number | null; bellyAt: string | null; eveningPeakMw: number | null; eveningPeakAt: string | null; rampMw: number | null;
}

/** Extreme net load within a local-hour window; null when any hour of the window is missing or the window is empty. */
function windowExtreme(hours: readonly NetLoadHour[], localHours: readonly number[], window: { from: number; to: number }, pick: 'min' | 'max'): NetLoadHour | null {
  let best: NetLoadHour | null = null;
  let seen = 0;
  for (let i = 0; i < hours.length; i++) {
    const h = localHours[i]!;
    if (h < window.from || h > window.to) continue;
    const v = hours[i]!.netLoadMw;
    if (v === null) return null;
    seen++;
    if (best === null || (pick === 'min' ? v < best.netLoadMw! : v > best.netLoadMw!)) best = hours[i]!;
  }
  return seen ? best : null;
}

/** Duck-curve figures of one local day from its net-load hours and their local hours. */
export function duckDay(date: string, hours: readonly NetLoadHour[], localHours: readonly number[]): DuckDay {
  const belly = windowExtreme(hours, localHours, BELLY_HOURS, 'min');
  const evening = windowExtreme(hours, localHours, EVENING_HOURS, 'max');
  const bellyMw = belly?.netLoadMw ?? null;
  const eveningPeakMw = evening?.netLoadMw ?? null;
  const rampMw = bellyMw !== null && eveningPeakMw !== null ? eveningPeakMw - bellyMw : null;
  return {
    date, bellyMw, bellyAt: belly?.ts.toISOString() ?? null, eveningPeakMw, eveningPeakAt: evening?.ts.toISOString() ?? null, rampMw,
    score: rampMw !== null && eveningPeakMw! > 0 ? rampMw / eveningPeakMw! : null,
  };
}

/** Least-squares slope of y against x; null with fewer than two points or no spread in x. */
export function leastSquaresSlope(points: ReadonlyArray<{ x: number; y: number }>): number | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) { sxy += (p.x - mx) * (p.y - my); sxx += (p.x - mx) ** 2; }
  return sxx === 0 ? null : sxy / sxx;
}

export function duckTrend(days: readonly DuckDay[]): { slopePerDay: number | null; days: number } {
  const points = days.filter((d) => d.score !== null).map((d) => ({ x: Date.parse(`${d.date}T00:00:00Z`) / 86_400_000, y: d.score! }));
  return { slopePerDay: leastSquaresSlope(points), days: points.length };
}

export interface DuckAnswer {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string; timeZone: string;
  days: DuckDay[];
  hours: Array<{ ts: string; demandMw: number | null; solarMw: number | null; windMw: number | null; netLoadMw: number | null }>;
  trend: { slopePerDay: number | null; days: number };
}

/**
 * Duck curve over [from, to): `hours` are the hours of the range; `days` every BA-local day the range
 * touches, computed over the whole local day. `undefined` for an unknown BA.
 */
export async function duckCurve(db: Db, code: string, from: Date, to: Date, now = new Date()): Promise<DuckAnswer | undefined> {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const tz = ba.timeZone;
  const first = localDateOf(from, tz);
  const last = localDateOf(new Date(to.getTime() - 1), tz);
  const span = { from: localDay(first, tz).from, to: localDay(last, tz).to };
  const [loaded, spans] = await Promise.all([loadBaHours(db, ba, span.from, span.to), loadSpans(db, { ba: ba.code })]);
  const hours = netLoad(loaded!.ts, loaded!.demand, loaded!.fuels, spans.fuels.get(ba.code) ?? {});
  const byDate = new Map<string, { hours: NetLoadHour[]; local: number[] }>();
  for (const h of hours) {
    const date = localDateOf(h.ts, tz);
    let d = byDate.get(date);
    if (!d) byDate.set(date, (d = { hours: [], local: [] }));
    d.hours.push(h);
    d.local.push(localHourOf(h.ts, tz));
  }
  const days: DuckDay[] = [];
  for (let date = first; date <= last; date = addDays(date, 1)) {
    const d = byDate.get(date);
    days.push(duckDay(date, d?.hours ?? [], d?.local ?? []));
  }
  const inRange = hours.filter((h) => h.ts >= from && h.ts < to);
  return {
    ba: ba.code, source: loaded!.source, dataThrough: loaded!.dataThrough?.toISOString() ?? null, generatedAt: now.toISOString(), timeZone: tz,
    days,
    hours: inRange.map((h) => ({ ts: h.ts.toISOString(), demandMw: h.demandMw, solarMw: h.solarMw, windMw: h.windMw, netLoadMw: h.netLoadMw })),
    trend: duckTrend(days),
  };
}
