import { Matrix, solve } from 'ml-matrix';
import { HOUR_MS } from '../shared/hourly.ts';
import { BAND, dot, LAMBDA, median, quantile, type ForecastPoint, type History } from './forecast-model.ts';
import { lastDayLag, usable } from './scoring.ts';

/*
 * The direct multi-horizon model of carbon intensity: one ridge regression per horizon bucket, in
 * ln(value / median), on the newest value, the day-before and week-before references and the usual profile
 * (MODEL_DEFINITIONS.intensity). No calendar features: BA-local weekend flags helped PJM's backtest and hurt
 * PACW's (fitted on too few weekends), so they are not used.
 */

type Column = History['y'];

/** First horizon (hours after the newest value, 0-based) of each bucket; one coefficient set per bucket. */
const BUCKET_STARTS = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 21, 24, 30, 36, 42, 48, 60, 72, 96, 120, 144] as const;
const DIRECT_FEATURES = 6;
/** The newest value may be this many hours old (a gap at the forecast origin) before the hour is skipped. */
const MAX_LAST_AGE = 6;
export const MIN_HISTORY_HOURS = 14 * 24;
const MIN_BUCKET_ROWS = 48;

export function bucketOf(k: number): number {
  let b = 0;
  while (b + 1 < BUCKET_STARTS.length && k >= BUCKET_STARTS[b + 1]!) b++;
  return b;
}

export interface DirectModel {
  scale: number; rows: number;
  /** per bucket: coefficients (undefined when too few training rows) and the relative residual band */
  buckets: Array<{ beta: number[]; band: { low: number; high: number } } | undefined>;
  range: { min: number; max: number };
}

/**
 * Features for a forecast made with values known before index `o`, for index o + k; `z` holds ln(value / scale)
 * (null where unknown): 1, the newest value (at most MAX_LAST_AGE hours old), the same hour of the last observed
 * day, the mean of that hour over the 7 days before, the mean of the newest hour's clock hour over the 7 days
 * before it, and the same hour a week earlier (the weekly rhythm of demand moves fossil units on and off the
 * margin; the mean of that hour stands in when it is missing). `null` when the newest value or both daily references are missing.
 */
function directFeatures(z: ReadonlyArray<number | null>, o: number, k: number): number[] | null {
  let last: number | null = null;
  for (let a = 1; a <= MAX_LAST_AGE && last === null; a++) last = z[o - a] ?? null;
  if (last === null) return null;
  const i = o + k;
  const d = lastDayLag(k) / 24;
  const meanOf = (at: (j: number) => number) => {
    let s = 0;
    let c = 0;
    for (let j = 0; j < 7; j++) {
      const v = z[at(j)];
      if (v !== null && v !== undefined) { s += v; c++; }
    }
    return c ? s / c : null;
  };
  const usual = meanOf((j) => i - 24 * (d + j));
  const usualNow = meanOf((j) => o - 1 - 24 * (j + 1));
  const sameHour = z[i - 24 * d] ?? usual;
  if (usual === null || usualNow === null || sameHour === null) return null;
  return [1, last, sameHour, usual, usualNow, z[i - 168] ?? usual];
}

/** ln(value / scale) of the usable values before `end`, null elsewhere. */
function logScaled(y: Column, end: number, scale: number): Array<number | null> {
  return Array.from({ length: end }, (_, i) => (usable(y[i]) ? Math.log(y[i]! / scale) : null));
}

/**
 * Fits one ridge regression per horizon bucket on every origin in [start, end) and every horizon below
 * `horizon` whose target is known before `end`. `undefined` under two weeks of usable values.
 */
export function fitDirect(h: History, start: number, end: number, horizon: number): DirectModel | undefined {
  const values: number[] = [];
  for (let i = Math.max(0, start); i < end; i++) if (usable(h.y[i])) values.push(h.y[i]!);
  if (values.length < MIN_HISTORY_HOURS) return undefined;
  const scale = median(values);
  const z = logScaled(h.y, end, scale);
  const p = DIRECT_FEATURES;
  const nb = bucketOf(horizon - 1) + 1;
  const acc = Array.from({ length: nb }, () => ({ xtx: new Float64Array(p * p), xty: new Float64Array(p), rows: [] as Array<[number[], number]> }));
  for (let o = Math.max(25, start); o < end; o++) {
    for (let k = 0; k < horizon && o + k < end; k++) {
      const y = z[o + k];
      if (y === null || y === undefined) continue;
      const x = directFeatures(z, o, k);
      if (!x) continue;
      const a = acc[bucketOf(k)]!;
      a.rows.push([x, y]);
      for (let r = 0; r < p; r++) {
        a.xty[r] = a.xty[r]! + x[r]! * y;
        for (let c = 0; c < p; c++) a.xtx[r * p + c] = a.xtx[r * p + c]! + x[r]! * x[c]!;
      }
    }
  }
  const buckets = acc.map((a) => {
    if (a.rows.length < MIN_BUCKET_ROWS) return undefined;
    for (let r = 1; r < p; r++) a.xtx[r * p + r] = a.xtx[r * p + r]! + LAMBDA;
    const A = new Matrix(Array.from({ length: p }, (_, r) => Array.from(a.xtx.subarray(r * p, r * p + p))));
    const beta = solve(A, Matrix.columnVector(Array.from(a.xty))).getColumn(0);
    const residuals = a.rows.map(([x, y]) => Math.exp(y - dot(beta, x)) - 1);
    return { beta, band: { low: quantile(residuals, BAND.low), high: quantile(residuals, BAND.high) } };
  });
  if (!buckets[0]) return undefined;
  return { scale, rows: acc[0]!.rows.length, buckets, range: { min: Math.min(...values), max: Math.max(...values) } };
}

/**
 * Predicts the hours [from, from + horizon) of `h` from the values before `from` (a bucket without its own fit
 * uses the nearest shorter one's coefficients). Hours without features (a long gap) are skipped.
 */
export function predictDirect(h: History, model: DirectModel, from: number, horizon: number): ForecastPoint[] {
  const z = logScaled(h.y, from, model.scale);
  const out: ForecastPoint[] = [];
  for (let k = 0; k < horizon; k++) {
    const x = directFeatures(z, from, k);
    if (!x) continue;
    let b = bucketOf(k);
    while (b > 0 && !model.buckets[b]) b--;
    const fit = model.buckets[b]!;
    const value = Math.min(model.range.max, Math.max(model.range.min, model.scale * Math.exp(dot(fit.beta, x))));
    const ts = h.ts[from + k] ?? new Date(h.ts[0]!.getTime() + (from + k) * HOUR_MS);
    out.push({ ts, value, low: value * (1 + fit.band.low), high: value * (1 + fit.band.high) });
  }
  return out;
}

