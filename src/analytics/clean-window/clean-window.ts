/**
 * The cleanest time to run a job of fixed length, as the Carbon Aware SDK defines it: slide a window
 * of the job's length over the points one point at a time; each window's value is the time-weighted
 * average of the points it overlaps; only windows fully covered by data count; the optimum is the
 * minimum and every window tied at it is returned.
 */

export interface TimedPoint {
  /** start of the interval, ms since epoch */
  start: number;
  /** interval length in minutes (60 for hourly data) */
  durationMinutes: number;
  value: number | null;
}

export interface Window { start: number; end: number; avg: number }

export interface CleanWindowResult {
  /** every window tied at the minimum average, earliest first */
  optimal: Window[];
  /** up to `count` windows, lowest average first, none overlapping another */
  best: Window[];
  /** the window starting at the first point at or after `from`, and how much the optimum saves against it */
  runNow: (Window & { savingsPct: number | null }) | null;
  /** number of fully covered windows considered */
  candidates: number;
}

const MINUTE_MS = 60_000;
/** Averages are sums of products: equal windows may differ in the last bits. */
const TIE_TOLERANCE = 1e-9;

/** The instant a point ends (its start plus its duration). */
export const endOf = (p: TimedPoint): number => p.start + p.durationMinutes * MINUTE_MS;

/** Index of the point covering `t` (the last one starting at or before it), or 0. Points sorted by start. */
function pointAt(points: readonly TimedPoint[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.start <= t) lo = mid + 1; else hi = mid;
  }
  return Math.max(0, lo - 1);
}

/**
 * Time-weighted average over [start, end) of points sorted by start, as the Carbon Aware SDK computes it
 * (EmissionsData.AverageOverPeriod): each point's value weighted by the part of the interval it covers, so
 * partial hours count by their minutes. Unlike the SDK (which answers 0 for no data), an interval not fully
 * covered by valued points has no average: `{ gapAt }` is the first instant without a value. Reads only the
 * points inside the interval (`first`, when known, is the index to start from).
 */
export function averageOverPeriod(points: readonly TimedPoint[], start: number, end: number, first = pointAt(points, start)): { value: number } | { gapAt: number } {
  let cursor = start;
  let sum = 0;
  for (let k = first; k < points.length && cursor < end; k++) {
    const p = points[k]!;
    const pEnd = endOf(p);
    if (pEnd <= cursor) continue;
    if (p.start > cursor || p.value === null) return { gapAt: cursor };
    const hi = Math.min(end, pEnd);
    sum += p.value * (hi - cursor);
    cursor = hi;
  }
  if (cursor < end) return { gapAt: cursor };
  return { value: sum / (end - start) };
}

/** The time-weighted average over [start, start + length) of the window starting at point `first`, or null when any part lacks data. */
function windowAverage(points: readonly TimedPoint[], first: number, lengthMs: number): number | null {
  const start = points[first]!.start;
  const avg = averageOverPeriod(points, start, start + lengthMs, first);
  return 'value' in avg ? avg.value : null;
}

/** All fully covered windows starting at a point inside [from, to) and ending by `to`. */
export function candidateWindows(points: readonly TimedPoint[], durationMinutes: number, from: number, to: number): Window[] {
  const lengthMs = durationMinutes * MINUTE_MS;
  const sorted = [...points].sort((a, b) => a.start - b.start);
  const out: Window[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i]!.start;
    if (start < from || start + lengthMs > to) continue;
    const avg = windowAverage(sorted, i, lengthMs);
    if (avg !== null) out.push({ start, end: start + lengthMs, avg });
  }
  return out;
}

export function isTied(a: number, b: number): boolean {
  return Math.abs(a - b) <= TIE_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Greedy: lowest average first (earliest on ties), skipping windows that overlap one already chosen. */
function bestNonOverlapping(windows: readonly Window[], count: number): Window[] {
  const chosen: Window[] = [];
  for (const w of [...windows].sort((a, b) => a.avg - b.avg || a.start - b.start)) {
    if (chosen.length >= count) break;
    if (chosen.every((c) => w.end <= c.start || w.start >= c.end)) chosen.push(w);
  }
  return chosen;
}

export function cleanWindow(points: readonly TimedPoint[], opts: { durationMinutes: number; from: number; to: number; count: number }): CleanWindowResult {
  const windows = candidateWindows(points, opts.durationMinutes, opts.from, opts.to);
  if (windows.length === 0) return { optimal: [], best: [], runNow: null, candidates: 0 };
  const min = Math.min(...windows.map((w) => w.avg));
  const optimal = windows.filter((w) => isTied(w.avg, min));
  const firstStart = Math.min(...points.filter((p) => p.start >= opts.from).map((p) => p.start));
  const now = windows.find((w) => w.start === firstStart);
  const runNow = now ? { ...now, savingsPct: now.avg > 0 ? ((now.avg - min) / now.avg) * 100 : null } : null;
  return { optimal, best: bestNonOverlapping(windows, opts.count), runNow, candidates: windows.length };
}

/** `PT3H`, `PT90M`, `PT1H30M`, `P1D` → minutes; undefined when not an ISO 8601 duration of days, hours and minutes. */
export function parseDurationMinutes(iso: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(iso);
  if (!m || iso === 'P' || iso.endsWith('T')) return undefined;
  return Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Minutes → the ISO 8601 duration the API echoes (`PT3H`, `PT1H30M`). */
export function formatDuration(minutes: number): string {
  const h = Math.floor(minutes / 60), m = minutes % 60;
  return `PT${h ? `${h}H` : ''}${m || !h ? `${m}M` : ''}`;
}
