import { median } from '../platform/stats.ts';

/**
 * Quality checks over column-aligned hours of one BA. They flag and never drop or change a value:
 * each returns findings (a check, a series, a run of consecutive flagged hours); point defects
 * also name the hours whose quality becomes `anomalous`.
 */

/**
 * `conflicting_duplicate` is not computed over stored hours: ingestion records it when one batch
 * gives a series and hour different values (see settleDuplicates in store-points.ts).
 */
export const CHECK_NAMES = ['negative_demand', 'spike', 'flatline', 'net_generation_vs_fuels', 'interchange_mismatch', 'conflicting_duplicate'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
export type Severity = 'info' | 'warning' | 'error';

export interface SeriesHours {
  id: number;
  key: string;
  ba: string;
  type: string;
  subtype: string;
  /** one value per hour of the window, null when absent or missing */
  values: ReadonlyArray<number | null>;
}

export interface Finding {
  check: CheckName;
  severity: Severity;
  ba: string;
  seriesKey: string;
  /** first and last flagged hour, as indices into the window (inclusive) */
  from: number;
  to: number;
  count: number;
  detail: Record<string, unknown>;
  /** hours (indices) that are point defects of `seriesId`: they get quality = anomalous */
  points?: { seriesId: number; hours: number[] };
}

export interface CheckOptions {
  /** trailing hours in the rolling median of the spike check */
  spikeWindow: number;
  /** a spike departs from the rolling median by more than k scaled MADs */
  spikeK: number;
  /** fewest non-null hours in the trailing window before the spike check judges */
  spikeMinValues: number;
  /** longest spike: the series must come back within this many hours */
  spikeMaxHours: number;
  /** same non-zero value for this many hours or more is a flat line */
  flatHours: number;
  /** values smaller than this (MW) repeat by rounding alone: the flat-line check ignores them */
  flatMinMw: number;
  /** relative tolerance of net generation against the sum of fuels, and of interchange pairs */
  tolerance: number;
  /** absolute tolerance in MW under which interchange pairs always agree (rounding noise) */
  interchangeFloorMw: number;
}

export const defaultCheckOptions: Readonly<CheckOptions> = Object.freeze({
  spikeWindow: 24, spikeK: 8, spikeMinValues: 12, spikeMaxHours: 3, flatHours: 6, flatMinMw: 10, tolerance: 0.1, interchangeFloorMw: 1,
});

/** Scale of the median absolute deviation that estimates a normal standard deviation. */
const MAD_SCALE = 1.4826;


/** Splits ascending hour indices into runs of consecutive hours. */
export function consecutiveRuns(hours: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const h of hours) {
    const last = runs.at(-1);
    if (last && h === last[1] + 1) last[1] = h;
    else runs.push([h, h]);
  }
  return runs;
}

function findingsFromHours(base: Omit<Finding, 'from' | 'to' | 'count' | 'detail' | 'points'>, hours: number[], detail: (from: number, to: number) => Record<string, unknown>, pointSeries?: number): Finding[] {
  return consecutiveRuns(hours).map(([from, to]) => {
    const run = hours.filter((h) => h >= from && h <= to);
    return { ...base, from, to, count: to - from + 1, detail: detail(from, to), ...(pointSeries === undefined ? {} : { points: { seriesId: pointSeries, hours: run } }) };
  });
}

/** Demand and its forecast cannot be negative (generation and interchange can). */
export function negativeDemand(s: SeriesHours, start = 0): Finding[] {
  if (s.type !== 'demand' && s.type !== 'forecast') return [];
  const hours: number[] = [];
  for (let i = start; i < s.values.length; i++) if (s.values[i] != null && s.values[i]! < 0) hours.push(i);
  return findingsFromHours({ check: 'negative_demand', severity: 'error', ba: s.ba, seriesKey: s.key }, hours,
    (from, to) => ({ values: s.values.slice(from, to + 1) }), s.id);
}

/**
 * Spikes are judged on the aggregates only. Single fuels switch on and off by design (solar at
 * night, a gas peaker for two hours), which a rolling median reads as spikes; a bad fuel value
 * shows up instead as net generation against the sum of fuels, or as a spike of net generation.
 */
function spikeApplies(s: SeriesHours): boolean {
  return s.type === 'demand' || s.type === 'forecast' || s.type === 'net_generation';
}

/**
 * Spike: a value departs from the median of the trailing window by more than k · 1.4826 · MAD of
 * that window, and the series comes back (within k/2 scaled MADs of that median) within
 * `spikeMaxHours` hours; a ramp or a level shift that stays is not a spike. A window whose MAD is
 * zero (mostly one value, such as a unit that is off) judges nothing. Scaling or shifting a series
 * never changes the result.
 */
export function spikes(s: SeriesHours, start = 0, o: CheckOptions = defaultCheckOptions): Finding[] {
  if (!spikeApplies(s)) return [];
  const hours: number[] = [];
  const stats = new Map<number, { value: number; median: number; mad: number }>();
  for (let i = Math.max(start, 1); i < s.values.length; i++) {
    const x = s.values[i];
    if (x == null) continue;
    const window: number[] = [];
    for (let j = Math.max(0, i - o.spikeWindow); j < i; j++) if (s.values[j] != null) window.push(s.values[j]!);
    if (window.length < o.spikeMinValues) continue;
    window.sort((a, b) => a - b);
    const med = median(window);
    const mad = median(window.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
    const limit = o.spikeK * MAD_SCALE * mad;
    if (mad === 0 || Math.abs(x - med) <= limit) continue;
    const back = returnsWithin(s.values, i, med, limit / 2, o.spikeMaxHours);
    if (back === undefined) continue;
    for (let h = i; h < back; h++) {
      if (s.values[h] == null || Math.abs(s.values[h]! - med) <= limit) continue;
      hours.push(h);
      stats.set(h, { value: s.values[h]!, median: med, mad });
    }
    i = back - 1;
  }
  return findingsFromHours({ check: 'spike', severity: 'warning', ba: s.ba, seriesKey: s.key }, hours,
    (from, to) => ({ k: o.spikeK, window: o.spikeWindow, hours: hours.filter((h) => h >= from && h <= to).slice(0, 24).map((h) => ({ hour: h, ...stats.get(h) })) }), s.id);
}

/** The first hour after `i` (at most `max` hours on) whose value is back within `tolerance` of `med`. */
function returnsWithin(values: ReadonlyArray<number | null>, i: number, med: number, tolerance: number, max: number): number | undefined {
  for (let j = i + 1; j <= i + max && j < values.length; j++) {
    if (values[j] != null && Math.abs(values[j]! - med) <= tolerance) return j;
  }
  return undefined;
}

/** Nuclear runs flat by design; BA-to-BA schedules are often fixed blocks; a market price may sit at a cap or floor for hours. */
function flatlineApplies(s: SeriesHours): boolean {
  if (s.type === 'generation_by_fuel') return s.subtype !== 'NUC';
  return s.type !== 'ba_interchange' && s.type !== 'price';
}

/** Flat line: the same value (|value| ≥ `flatMinMw`) for `flatHours` or more consecutive hours, ending at or after `start`. */
export function flatlines(s: SeriesHours, start = 0, o: CheckOptions = defaultCheckOptions): Finding[] {
  if (!flatlineApplies(s)) return [];
  const out: Finding[] = [];
  let i = 0;
  while (i < s.values.length) {
    const v = s.values[i];
    let j = i;
    const judged = v != null && Math.abs(v) >= o.flatMinMw;
    while (judged && j + 1 < s.values.length && s.values[j + 1] === v) j++;
    if (judged && j - i + 1 >= o.flatHours && j >= start) {
      out.push({ check: 'flatline', severity: 'warning', ba: s.ba, seriesKey: s.key, from: i, to: j, count: j - i + 1, detail: { value: v, minHours: o.flatHours } });
    }
    i = j + 1;
  }
  return out;
}

/**
 * Net generation against the sum of the fuels, in hours where every fuel series of the BA has a
 * value: flagged when they differ by more than `tolerance` of net generation (at least 1 MW).
 */
export function netGenerationVsFuels(ng: SeriesHours | undefined, fuels: readonly SeriesHours[], start = 0, o: CheckOptions = defaultCheckOptions): Finding[] {
  if (!ng || fuels.length === 0) return [];
  const hours: number[] = [];
  const worst = { hour: -1, netGeneration: 0, sumOfFuels: 0, diffPct: 0 };
  for (let i = start; i < ng.values.length; i++) {
    const g = ng.values[i];
    if (g == null || fuels.some((f) => f.values[i] == null)) continue;
    const sum = fuels.reduce((a, f) => a + f.values[i]!, 0);
    const diff = Math.abs(g - sum);
    if (diff > o.tolerance * Math.max(Math.abs(g), 1)) {
      hours.push(i);
      const pct = (100 * diff) / Math.max(Math.abs(g), 1);
      if (pct > worst.diffPct) Object.assign(worst, { hour: i, netGeneration: g, sumOfFuels: sum, diffPct: Math.round(pct * 10) / 10 });
    }
  }
  return findingsFromHours({ check: 'net_generation_vs_fuels', severity: 'warning', ba: ng.ba, seriesKey: ng.key }, hours,
    () => ({ tolerancePct: o.tolerance * 100, worst, fuels: fuels.map((f) => f.subtype) }));
}

/**
 * Interchange pair A→B against B→A (positive = export from the reporting BA): they should be
 * opposite. Flagged when both are non-zero with the same sign, or when |A→B + B→A| exceeds
 * `tolerance` of the larger side (and `interchangeFloorMw`). Reported on A's series.
 */
export function interchangeMismatch(ab: SeriesHours, ba: SeriesHours, start = 0, o: CheckOptions = defaultCheckOptions): Finding[] {
  const hours: number[] = [];
  const kinds = new Map<number, 'sign' | 'size'>();
  for (let i = start; i < ab.values.length; i++) {
    const x = ab.values[i];
    const y = ba.values[i];
    if (x == null || y == null) continue;
    if (x !== 0 && y !== 0 && Math.sign(x) === Math.sign(y)) kinds.set(i, 'sign');
    else if (Math.abs(x + y) > Math.max(o.tolerance * Math.max(Math.abs(x), Math.abs(y)), o.interchangeFloorMw)) kinds.set(i, 'size');
    else continue;
    hours.push(i);
  }
  return findingsFromHours({ check: 'interchange_mismatch', severity: 'warning', ba: ab.ba, seriesKey: ab.key }, hours, (from, to) => {
    const run = hours.filter((h) => h >= from && h <= to);
    return {
      counterpart: ba.key,
      signDisagreements: run.filter((h) => kinds.get(h) === 'sign').length,
      sizeDisagreements: run.filter((h) => kinds.get(h) === 'size').length,
      first: { hour: from, value: ab.values[from], counterpart: ba.values[from] },
    };
  });
}

/**
 * Every check over the series of one window. `start` is the first hour to judge (hours before it
 * are context, e.g. for the rolling median); `all` includes other BAs' series for interchange pairs.
 */
export function runChecks(own: readonly SeriesHours[], all: readonly SeriesHours[], start = 0, o: CheckOptions = defaultCheckOptions): Finding[] {
  const out: Finding[] = [];
  for (const s of own) out.push(...negativeDemand(s, start), ...spikes(s, start, o), ...flatlines(s, start, o));
  const byBa = new Map<string, SeriesHours[]>();
  for (const s of own) byBa.set(s.ba, [...(byBa.get(s.ba) ?? []), s]);
  for (const list of byBa.values()) {
    out.push(...netGenerationVsFuels(list.find((s) => s.type === 'net_generation'), list.filter((s) => s.type === 'generation_by_fuel'), start, o));
  }
  const pairs = new Map(all.filter((s) => s.type === 'ba_interchange').map((s) => [`${s.ba}>${s.subtype}`, s]));
  for (const s of own) {
    if (s.type !== 'ba_interchange') continue;
    const other = pairs.get(`${s.subtype}>${s.ba}`);
    if (other) out.push(...interchangeMismatch(s, other, start, o));
  }
  return out;
}
