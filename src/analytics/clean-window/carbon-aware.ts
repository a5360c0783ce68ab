import type { Db } from '../../platform/db.ts';
import type { DataSource } from '../shared/hourly.ts';
import { cleanWindow, endOf, type TimedPoint } from './clean-window.ts';
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
  /** forecast points (start, duration, value) */
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

/**
 * Builds the SDK answer for one location: `forecastData` are the forecast points inside
 * [dataStartAt, dataEndAt]; `optimalDataPoints` are every window of `windowSize` minutes tied at the
 * lowest time-weighted average (see clean-window.ts), each with `duration = windowSize` and its average as `value`.
 */
export function sdkForecast(input: SdkForecastInput): SdkEmissionsForecast {
  const points = input.points.filter((p) => p.value !== null).sort((a, b) => a.start - b.start);
  const pointMinutes = points[0]?.durationMinutes ?? 60;
  const windowSize = input.windowSize ?? pointMinutes;
  const start = input.dataStartAt?.getTime() ?? points[0]?.start ?? input.requestedAt.getTime();
  const lastEnd = points.length ? endOf(points.at(-1)!) : start;
  const end = input.dataEndAt?.getTime() ?? lastEnd;
  const inRange = points.filter((p) => p.start >= start && p.start < end);
  const { optimal } = cleanWindow(inRange, { durationMinutes: windowSize, from: start, to: end, count: 1 });
  const point = (timestamp: number, duration: number, value: number): SdkDataPoint =>
    ({ location: input.location, timestamp: new Date(timestamp).toISOString(), duration, value });
  return {
    generatedAt: input.generatedAt.toISOString(),
    requestedAt: input.requestedAt.toISOString(),
    location: input.location,
    dataStartAt: new Date(start).toISOString(),
    dataEndAt: new Date(end).toISOString(),
    windowSize,
    optimalDataPoints: optimal.map((w) => point(w.start, windowSize, w.avg)),
    forecastData: inRange.map((p) => point(p.start, p.durationMinutes, p.value!)),
  };
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
