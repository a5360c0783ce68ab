import type { Db } from '../platform/db.ts';
import type { DataSource } from './hourly.ts';
import { cleanWindow, type TimedPoint } from './clean-window.ts';
import { latestForecast } from './forecast.ts';

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
  const lastEnd = points.length ? points.at(-1)!.start + points.at(-1)!.durationMinutes * 60_000 : start;
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
