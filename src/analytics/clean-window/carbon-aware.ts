import type { Db } from '../../platform/db.ts';
import type { DataSource } from '../shared/hourly.ts';
import { averageOverPeriod, endOf, isTied, type TimedPoint, type Window } from './clean-window.ts';
import type { IntensityFlag } from '../intensity/intensity.ts';

const MINUTE_MS = 60_000;
import { latestForecast } from '../forecast/forecast.ts';

/**
 * The Green Software Foundation Carbon Aware SDK's `EmissionsForecastDTO`, as its Web API returns it from
 * `GET /emissions/forecasts/current` (an array, one element per requested location), so existing SDK clients
 * can point at GridPulse unchanged. Values are gCO2eq/kWh; `duration` and `windowSize` are minutes.
 */
export interface SdkDataPoint { location: string; timestamp: string; duration: number; value: number }
export interface SdkEmissionsForecast {
  generatedAt: string;
  requestedAt: string;
  location: string;
  dataStartAt: string;
  dataEndAt: string;
  windowSize: number;
  optimalDataPoints: SdkDataPoint[];
  forecastData: SdkDataPoint[];
}

export interface SdkForecastInput {
  location: string;
  /** forecast points (start, duration, value); points without a value are gaps */
  points: readonly TimedPoint[];
  /** when the forecast was made */
  generatedAt: Date;
  requestedAt: Date;
  /** SDK defaults: the earliest point's start and the latest point's end */
  dataStartAt?: Date | undefined;
  dataEndAt?: Date | undefined;
  /** SDK default: the duration of one forecast point */
  windowSize?: number | undefined;
}

/** Why a forecast request cannot be answered: the SDK's field name and its message (a 400 in the Web API). */
export interface SdkForecastProblem { problem: { field: 'dataStartAt' | 'dataEndAt'; detail: string } }

/**
 * Builds the SDK answer for one location as the Carbon Aware SDK does (GSF carbon-aware-sdk:
 * src/GSF.CarbonAware/src/Handlers/ForecastHandler.cs `ProcessAndValidateForecast`,
 * src/CarbonAware/src/Model/EmissionsForecast.cs `Validate`, src/CarbonAware/src/Extensions/EmissionsDataExtensions.cs
 * `RollingAverage` and `AverageOverPeriod`):
 * - dataStartAt and dataEndAt default to the first point's start and the last point's end, and must lie inside
 *   that span (else a problem naming the field, where the SDK answers 400), dataEndAt after dataStartAt;
 * - `forecastData` are windows of `windowSize` minutes (default: one point's duration) starting at dataStartAt and
 *   stepping by the data's resolution (one point's duration), each the time-weighted average of the points it
 *   overlaps, with `duration = windowSize`; none runs past dataEndAt, and one not fully covered by valued points
 *   (a gap in the forecast) is left out;
 * - `optimalDataPoints` are every window tied at the lowest average.
 * Two deliberate differences, both where the SDK's output contradicts its own documentation: without windowSize
 * the SDK returns the raw points touching [dataStartAt, dataEndAt] (including one that ends exactly at dataStartAt);
 * and when windowSize exceeds the span its first window runs past dataEndAt. GridPulse applies the rule above in
 * every case, so `windowSize` is always the effective window and no window leaves the requested span.
 */
export function sdkForecast(input: SdkForecastInput): SdkEmissionsForecast | SdkForecastProblem {
  const points = input.points.filter((p) => p.value !== null).sort((a, b) => a.start - b.start);
  const first = points[0], last = points.at(-1);
  const point = (timestamp: number, duration: number, value: number): SdkDataPoint =>
    ({ location: input.location, timestamp: new Date(timestamp).toISOString(), duration, value });
  const tickMinutes = first?.durationMinutes ?? 60;
  const windowSize = input.windowSize ?? tickMinutes;
  const minTime = first?.start, maxTime = last ? endOf(last) : undefined;
  const start = input.dataStartAt?.getTime() ?? minTime ?? input.requestedAt.getTime();
  const end = input.dataEndAt?.getTime() ?? maxTime ?? start;
  const span = minTime === undefined ? 'the forecast holds no values' : `the forecast covers ${new Date(minTime).toISOString()} to ${new Date(maxTime!).toISOString()}`;
  const outside = (t: number) => minTime === undefined || t < minTime || t > maxTime!;
  if (input.dataStartAt && outside(start)) return { problem: { field: 'dataStartAt', detail: `dataStartAt must be within the forecast: ${span}` } };
  if (input.dataEndAt && outside(end)) return { problem: { field: 'dataEndAt', detail: `dataEndAt must be within the forecast: ${span}` } };
  if (end <= start) return { problem: { field: input.dataEndAt ? 'dataEndAt' : 'dataStartAt', detail: `dataEndAt (${new Date(end).toISOString()}) must be after dataStartAt (${new Date(start).toISOString()})` } };
  const windows = rollingWindows(points, start, end, windowSize, tickMinutes);
  const min = Math.min(...windows.map((w) => w.avg));
  return {
    generatedAt: input.generatedAt.toISOString(),
    requestedAt: input.requestedAt.toISOString(),
    location: input.location,
    dataStartAt: new Date(start).toISOString(),
    dataEndAt: new Date(end).toISOString(),
    windowSize,
    optimalDataPoints: windows.filter((w) => isTied(w.avg, min)).map((w) => point(w.start, windowSize, w.avg)),
    forecastData: windows.map((w) => point(w.start, windowSize, w.avg)),
  };
}

/**
 * Windows of `windowMinutes` starting at `from`, `from + tick`, … and ending by `to`, each the time-weighted
 * average of the points (sorted by start) over it; windows not fully covered by valued points are skipped.
 */
export function rollingWindows(points: readonly TimedPoint[], from: number, to: number, windowMinutes: number, tickMinutes: number): Window[] {
  const length = windowMinutes * MINUTE_MS, tick = tickMinutes * MINUTE_MS;
  const out: Window[] = [];
  for (let t = from; t + length <= to; t += tick) {
    const avg = averageOverPeriod(points, t, t + length);
    if ('value' in avg) out.push({ start: t, end: t + length, avg: avg.value });
  }
  return out;
}

/** A stored intensity forecast as the clean window and the SDK endpoint read it. */
export interface IntensityForecast { madeAt: Date; points: TimedPoint[]; source: DataSource; dataThrough: string | null }

/**
 * The newest stored consumption-based (lifecycle) intensity forecast of a BA, made by the worker
 * (forecast.ts); `undefined` when none has been made or it holds no intensity hour.
 */
export async function latestIntensityForecast(db: Db, ba: string): Promise<IntensityForecast | undefined> {
  const f = await latestForecast(db, ba);
  if (!f?.madeAt) return undefined;
  const points: TimedPoint[] = f.points
    .filter((p) => p.intensity !== null)
    .map((p) => ({ start: Date.parse(p.ts), durationMinutes: 60, value: p.intensity }));
  return points.length ? { madeAt: new Date(f.madeAt), points, source: f.source, dataThrough: f.dataThrough } : undefined;
}

/**
 * When the newest intensity forecast run made at or before `requestedAt` was made (the SDK's `POST /emissions/forecasts/batch`
 * back-testing semantics: the forecast as it stood then); `undefined` when there was none.
 */
export async function intensityRunAsOf(db: Db, ba: string, requestedAt: Date): Promise<Date | undefined> {
  const [run] = await db.query<{ made_at: Date | string }>(
    `SELECT made_at FROM forecast_runs WHERE ba_code = $1 AND target = 'intensity' AND made_at <= $2 ORDER BY made_at DESC LIMIT 1`, [ba, requestedAt]);
  return run ? new Date(run.made_at) : undefined;
}

/** The points of the intensity forecast run made at `madeAt` (see intensityRunAsOf), oldest first. */
export async function intensityRunPoints(db: Db, ba: string, madeAt: Date): Promise<TimedPoint[]> {
  const rows = await db.query<{ ts: Date | string; value: number }>(
    `SELECT ts, value FROM forecasts WHERE ba_code = $1 AND target = 'intensity' AND made_at = $2 ORDER BY ts`, [ba, madeAt]);
  return rows.map((r) => ({ start: new Date(r.ts).getTime(), durationMinutes: 60, value: Number(r.value) }));
}

/**
 * Flags (intensity.ts) that mean an hour's consumption-based value lacks one of its inputs, so it is not the
 * consumption-based intensity it would be called: EIA publishes BA-to-BA interchange hours to days after the fuel
 * mix, and until then flow tracing has only the BA's own production. The SDK's EmissionsData has no field to say
 * so, so the SDK answers leave such hours out (a period that needs one is "out of range", with the reason).
 * 'neighbour-missing' is not here: imports from outside EIA-930 (Canada, Mexico) never have a mix to trace.
 */
export const SDK_INCOMPLETE_FLAGS: ReadonlySet<IntensityFlag> = new Set<IntensityFlag>(['interchange-missing']);

/** A measured hour for the SDK answers: its value, or null with the flags that made it incomplete. */
export interface SdkHour extends TimedPoint { incomplete?: IntensityFlag[] }

/** Hourly intensity points as SdkHours: a value flagged with any of SDK_INCOMPLETE_FLAGS becomes null, naming the flags. */
export function sdkHours(points: ReadonlyArray<{ ts: Date; value: number | null; flags: readonly IntensityFlag[] }>): SdkHour[] {
  return points.map((p) => {
    const incomplete = p.flags.filter((f) => SDK_INCOMPLETE_FLAGS.has(f));
    const hour = { start: p.ts.getTime(), durationMinutes: 60 };
    return p.value !== null && incomplete.length ? { ...hour, value: null, incomplete } : { ...hour, value: p.value };
  });
}

/**
 * The SDK's `EmissionsData` as its Web API serialises it (`GET /emissions/bylocation(s)[/best]`):
 * `rating` in gCO2eq/kWh, `time` the start of the data point, `duration` a .NET TimeSpan string ("01:00:00").
 */
export interface SdkEmissionsData { location: string; time: string; rating: number; duration: string }

/** The SDK's `CarbonIntensityDTO` (`GET /emissions/average-carbon-intensity`). */
export interface SdkCarbonIntensity { location: string; startTime: string; endTime: string; carbonIntensity: number }

/** Minutes as .NET's invariant TimeSpan format ("c"), which System.Text.Json writes: `[d.]hh:mm:ss`. */
export function sdkTimeSpan(minutes: number): string {
  const total = Math.round(minutes * 60);
  const days = Math.floor(total / 86_400);
  const rest = total - days * 86_400;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return days ? `${days}.${hms}` : hms;
}

/**
 * The data points of one location inside [from, to] as SDK EmissionsData, chronological: every point that
 * overlaps the interval; when from === to (the SDK's default end), the point containing that instant.
 * Points without a value (hours with no fuel data) are left out.
 */
export function sdkEmissionsData(location: string, points: readonly TimedPoint[], from: number, to: number): SdkEmissionsData[] {
  return points
    .filter((p) => p.value !== null && (from === to ? p.start <= from && from < endOf(p) : p.start < to && endOf(p) > from))
    .sort((a, b) => a.start - b.start)
    .map((p) => ({ location, time: new Date(p.start).toISOString(), rating: p.value!, duration: sdkTimeSpan(p.durationMinutes) }));
}

/** The SDK's "best" data: every data point at the lowest rating (all ties, in input order); empty for no data. */
export function sdkBest(data: readonly SdkEmissionsData[]): SdkEmissionsData[] {
  if (!data.length) return [];
  const min = Math.min(...data.map((d) => d.rating));
  return data.filter((d) => d.rating === min);
}
