import type { Db } from '../../platform/db.ts';
import { getBa, listBas } from '../../grid/ba-repository.ts';
import { activeHours } from '../../grid/active-dates.ts';
import { offLoop } from '../../platform/off-loop.ts';
import { combineSources, HOUR_MS, hourStarts, type DataSource } from '../shared/hourly.ts';
import { factorLookup, isStorage, loadFactorOverrides, type FactorLookup, type FactorOverride, type FactorSetName } from './factors.ts';
import { traceHour, type TraceFlag, type TraceHour, type TraceNode } from './flow-tracing.ts';

export type IntensityBasis = 'production' | 'consumption';
export const INTENSITY_UNIT = 'gCO2eq/kWh' as const;

/**
 * Why a value is null or less certain than usual:
 * no-fuel-data (no generation-by-fuel values that hour), no-generation (fuel values present but no
 * positive non-storage generation), partial-fuel-data (some of the BA's fuel series expected that hour are
 * null or not published yet), and the flow-tracing flags neighbour-missing, pair-mismatch,
 * interchange-missing (consumption value null: none of the BA's interchange is published for the hour yet),
 * interchange-partial. Which series are expected in an hour comes from the store (SeriesSpan), so an hour's
 * flags and value never depend on the range it was asked in.
 */
export type IntensityFlag = 'no-fuel-data' | 'no-generation' | 'partial-fuel-data' | TraceFlag;
/** Every flag an intensity value may carry (for the API schema). */
export const INTENSITY_FLAGS = ['no-fuel-data', 'no-generation', 'partial-fuel-data', 'neighbour-missing', 'pair-mismatch', 'interchange-missing', 'interchange-partial'] as const satisfies readonly IntensityFlag[];

export interface IntensityPoint { ts: Date; value: number | null; flags: IntensityFlag[] }

export interface IntensitySeries {
  ba: string;
  basis: IntensityBasis;
  /** lifecycle, direct, or an eGRID set egrid-YYYY (its factors arrive as overrides of lifecycle) */
  factors: string;
  unit: typeof INTENSITY_UNIT;
  points: IntensityPoint[];
  /** newest hour with a non-null value, or null */
  dataThrough: Date | null;
  source: DataSource;
}

/** One BA-hour of production: emissions (kg), generation (MWh), intensity (g/kWh) or null with flags. */
export interface ProductionHour { emissions: number; generation: number; value: number | null; flags: IntensityFlag[] }

/**
 * Production-based intensity of one hour from generation by fuel (MW ≈ MWh in the hour):
 * Σ gen_f × factor_f / Σ gen_f over positive non-storage generation. Negative values are consumption
 * (station load, pumping, charging) and left out. Storage discharge counts as generation at the
 * non-storage intensity of the hour (STORAGE_RULE), so it adds energy and emissions but not intensity.
 */
export function productionHour(fuels: Readonly<Record<string, number | null | undefined>>, factor: FactorLookup): ProductionHour {
  let emissions = 0;
  let generation = 0;
  let storage = 0;
  let present = 0;
  let missing = 0;
  for (const [code, mw] of Object.entries(fuels)) {
    if (mw === null || mw === undefined || !Number.isFinite(mw)) { missing++; continue; }
    present++;
    if (mw <= 0) continue;
    if (isStorage(code)) { storage += mw; continue; }
    emissions += mw * factor(code);
    generation += mw;
  }
  if (present === 0) return { emissions: 0, generation: 0, value: null, flags: ['no-fuel-data'] };
  const flags: IntensityFlag[] = missing > 0 ? ['partial-fuel-data'] : [];
  if (generation <= 0) return { emissions: 0, generation: 0, value: null, flags: [...flags, 'no-generation'] };
  const value = emissions / generation;
  return { emissions: emissions + storage * value, generation: generation + storage, value, flags };
}

/** The values of hour i from columns keyed by fuel code or neighbour. */
export function valuesAt(columns: Readonly<Record<string, readonly (number | null)[]>>, i: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [key, column] of Object.entries(columns)) out[key] = column[i] ?? null;
  return out;
}

/**
 * Production-based points from fuel columns. With `spans` (the store's span of each fuel series) a series
 * expected in an hour but absent from the columns counts as missing there, and one not expected is left out.
 */
export function productionPoints(ts: readonly Date[], fuels: Readonly<Record<string, readonly (number | null)[]>>, factor: FactorLookup, spans?: Readonly<Record<string, SeriesSpan>>): IntensityPoint[] {
  return ts.map((t, i) => {
    const values = valuesAt(fuels, i);
    const h = productionHour(spans ? expectedValues(values, spans, t.getTime()) : values, factor);
    return { ts: t, value: h.value, flags: h.flags };
  });
}

/** The first and last hour (epoch ms) with a non-null value of a series, over all it has stored. */
export interface SeriesSpan { first: number; last: number }

/**
 * How long after a fuel series' newest value it still counts as expected (its absence flagged, not read as
 * "none"): a fuel silent for longer than a week is taken to have ended (a fuel code EIA stopped using, the last
 * plant of a fuel retired). BA-to-BA interchange never ends that way: a pair stays expected until either BA
 * retires (registry), however late EIA publishes it (loadSpans).
 */
export const EXPECTED_AFTER_LAST_MS = 7 * 24 * HOUR_MS;

/** Whether a series with this span is expected to have a value at instant t (ms). */
export const expectedAt = (span: SeriesSpan | undefined, t: number): boolean =>
  span !== undefined && t >= span.first && t <= span.last + EXPECTED_AFTER_LAST_MS;

/** Fuel and interchange columns of every BA over the same hours (the input of flow tracing). */
export interface SystemHours {
  ts: Date[];
  fuels: Map<string, Record<string, (number | null)[]>>;
  /** reporter → neighbour → MW, positive = export from the reporter */
  interchange: Map<string, Record<string, (number | null)[]>>;
  sources: Map<string, Set<string>>;
  /**
   * Span of every series of the scope as the store knows it (ba → fuel code or neighbour → span), including
   * series with no value in these hours: what tells "not published yet" from "not there". Without it (data held
   * in memory) the spans are those of the columns themselves.
   */
  spans?: { fuels: Map<string, Record<string, SeriesSpan>>; interchange: Map<string, Record<string, SeriesSpan>> };
}

/** Spans of the columns themselves: first and last hour with a value. */
function columnSpans(ts: readonly Date[], columns: Map<string, Record<string, (number | null)[]>>): Map<string, Record<string, SeriesSpan>> {
  const out = new Map<string, Record<string, SeriesSpan>>();
  for (const [ba, record] of columns) {
    const spans: Record<string, SeriesSpan> = {};
    for (const [key, column] of Object.entries(record)) {
      const first = column.findIndex((v) => v !== null);
      if (first < 0) continue;
      let last = column.length - 1;
      while (column[last] === null) last--;
      spans[key] = { first: ts[first]!.getTime(), last: ts[last]!.getTime() };
    }
    out.set(ba, spans);
  }
  return out;
}

function spansOf(system: SystemHours): NonNullable<SystemHours['spans']> {
  return system.spans ?? { fuels: columnSpans(system.ts, system.fuels), interchange: columnSpans(system.ts, system.interchange) };
}

/**
 * The values of one hour that count, given the spans of the series: each value that is there, and null for
 * each series expected at t (see expectedAt) without one (not published yet, or an EIA null); a series not
 * expected then (before its first value, long after its last) is left out rather than counted as missing.
 */
export function expectedValues(values: Readonly<Record<string, number | null>>, spans: Readonly<Record<string, SeriesSpan>>, t: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const key of new Set([...Object.keys(values), ...Object.keys(spans)])) {
    const v = values[key] ?? null;
    if (v !== null || expectedAt(spans[key], t)) out[key] = v;
  }
  return out;
}

function fuelsAt(system: SystemHours, spans: Map<string, Record<string, SeriesSpan>>, ba: string, i: number): Record<string, number | null> {
  return expectedValues(valuesAt(system.fuels.get(ba) ?? {}, i), spans.get(ba) ?? {}, system.ts[i]!.getTime());
}

/** Per BA, the neighbours whose interchange with it is expected at instant t (either side's series covers t). */
function expectedPairsAt(spans: Map<string, Record<string, SeriesSpan>>, t: number): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (a: string, b: string) => { let s = out.get(a); if (!s) out.set(a, (s = new Set())); s.add(b); };
  for (const [ba, record] of spans) {
    for (const [neighbour, span] of Object.entries(record)) if (expectedAt(span, t)) { add(ba, neighbour); add(neighbour, ba); }
  }
  return out;
}

/** The flow-tracing input of hour i of the system, and each BA's own production flags. */
export function systemHour(system: SystemHours, i: number, lookups: ReadonlyMap<string, FactorLookup>, spans = spansOf(system)): { hour: TraceHour; ownFlags: Map<string, IntensityFlag[]> } {
  const nodes = new Map<string, TraceNode>();
  const ownFlags = new Map<string, IntensityFlag[]>();
  for (const ba of new Set([...system.fuels.keys(), ...spans.fuels.keys()])) {
    const h = productionHour(fuelsAt(system, spans.fuels, ba, i), lookups.get(ba) ?? factorLookup('lifecycle', ba));
    ownFlags.set(ba, h.flags);
    // BAs with fuel data but no generation this hour (solar-only at night) still trace their imports.
    if (!h.flags.includes('no-fuel-data')) nodes.set(ba, { emissions: h.emissions, generation: h.generation });
  }
  const interchange: Record<string, Record<string, number | null>> = {};
  for (const [ba, row] of system.interchange) interchange[ba] = valuesAt(row, i);
  return { hour: { nodes, interchange, expectedPairs: expectedPairsAt(spans.interchange, system.ts[i]!.getTime()) }, ownFlags };
}

export function systemLookups(system: SystemHours, set: FactorSetName, overrides: readonly FactorOverride[] = []): Map<string, FactorLookup> {
  return new Map([...new Set([...system.fuels.keys(), ...system.spans?.fuels.keys() ?? []])].map((ba) => [ba, factorLookup(set, ba, overrides)]));
}

/** Consumption-based points of every BA in the system (null with 'no-fuel-data' for BAs without fuel data). */
export function consumptionPoints(system: SystemHours, set: FactorSetName, overrides: readonly FactorOverride[] = []): Map<string, IntensityPoint[]> {
  const lookups = systemLookups(system, set, overrides);
  const spans = spansOf(system);
  const bas = new Set([...system.fuels.keys(), ...system.interchange.keys(), ...spans.fuels.keys(), ...spans.interchange.keys()]);
  const out = new Map<string, IntensityPoint[]>([...bas].map((ba) => [ba, []]));
  system.ts.forEach((ts, i) => {
    const { hour, ownFlags } = systemHour(system, i, lookups, spans);
    const traced = traceHour(hour);
    for (const [ba, points] of out) {
      const flags = [...(ownFlags.get(ba) ?? ['no-fuel-data' as const]), ...(traced.flags.get(ba) ?? [])];
      // without any of its interchange the trace holds the BA's production mix: not a consumption-based value
      const value = flags.includes('interchange-missing') ? null : traced.intensity.get(ba) ?? null;
      points.push({ ts, value, flags });
    }
  });
  return out;
}

/** One series over the asked hours: its non-null values and their instants (epoch ms). */
export type SeriesRow = { ba: string; type: string; subtype: string; source: string; ms: number[]; vals: number[] };

/**
 * Places the series on the hours `ts` (any sorted list of hour starts); values at other instants are ignored.
 * A series with rows only of nulls still gets its (all-null) column and names its source.
 */
export function toSystem(ts: Date[], rows: readonly SeriesRow[]): SystemHours {
  const system: SystemHours = { ts, fuels: new Map(), interchange: new Map(), sources: new Map() };
  const index = new Map(ts.map((t, i) => [t.getTime(), i]));
  for (const r of rows) {
    const target = r.type === 'generation_by_fuel' ? system.fuels : system.interchange;
    let columns = target.get(r.ba);
    if (!columns) target.set(r.ba, (columns = {}));
    const column = (columns[r.subtype] ??= new Array<number | null>(ts.length).fill(null));
    for (let k = 0; k < r.ms.length; k++) {
      const i = index.get(Number(r.ms[k]));
      if (i !== undefined) column[i] = Number(r.vals[k]);
    }
    let sources = system.sources.get(r.ba);
    if (!sources) system.sources.set(r.ba, (sources = new Set()));
    sources.add(r.source);
  }
  return system;
}

/**
 * Which BAs' columns to read. Default: every BA. `{ ba }`: only that BA's fuel columns (all that
 * production-based intensity needs). `{ reaching }`: every BA connected to that one through BA-to-BA
 * interchange series (either side's, any hour): its consumption intensity depends on those BAs only
 * (flow-tracing.ts solves each connected component on its own), so this reads a fraction of the system
 * when the BA's interconnection is small, and never changes its result.
 */
export type SystemScope = { ba: string } | { reaching: string } | undefined;

/** The series of the scope as a SQL condition on `s`, its parameters numbered from `next`. */
function scopeFilter(scope: SystemScope, next: number): { sql: string; params: string[] } {
  if (scope && 'ba' in scope) return { sql: `s.ba_code = $${next} AND s.type = 'generation_by_fuel'`, params: [scope.ba] };
  const types = `s.type IN ('generation_by_fuel', 'ba_interchange')`;
  if (!scope) return { sql: types, params: [] };
  return { sql: `${types} AND s.ba_code IN (SELECT ba FROM reach)`, params: [scope.reaching] };
}

/** The recursive walk over interchange series that `{ reaching }` needs, before the SELECT. */
const REACH = (param: number) => `WITH RECURSIVE link (a, b) AS (
    SELECT ba_code, subtype FROM series WHERE type = 'ba_interchange'
    UNION SELECT subtype, ba_code FROM series WHERE type = 'ba_interchange'),
  reach (ba) AS (SELECT $${param}::text UNION SELECT link.b FROM reach JOIN link ON link.a = reach.ba) `;

/** Sorted hour starts as runs of consecutive hours, [from, to). */
function hourRuns(ts: readonly Date[]): { from: Date[]; to: Date[] } {
  const from: Date[] = [];
  const to: Date[] = [];
  for (const t of ts) {
    const last = to.at(-1);
    if (last && last.getTime() === t.getTime()) to[to.length - 1] = new Date(t.getTime() + HOUR_MS);
    else { from.push(t); to.push(new Date(t.getTime() + HOUR_MS)); }
  }
  return { from, to };
}

/**
 * Reads the scope's columns at the hours `ts` in one query, one row per series (the driver decodes a few
 * dozen rows, not one per series-hour), with only what tracing needs: the non-null values and their instants.
 * `runs`: the hours are separate runs of consecutive hours (a pulse's six days), each read as an index range
 * on (series_id, ts) per series; OFFSET 0 keeps the planner from flattening that into a scan of each series'
 * whole month filtered down (3–4 times the rows for a pulse). Otherwise one plain range [first, last hour].
 */
async function loadSystem(db: Db, ts: Date[], scope: SystemScope, runs: boolean): Promise<SystemHours> {
  if (ts.length === 0) return toSystem(ts, []);
  if (!runs && ts.length > SYSTEM_READ_HOURS) {
    // a long range in pieces: toSystem places several rows of one series on the same column
    const rows: SeriesRow[] = [];
    for (let i = 0; i < ts.length; i += SYSTEM_READ_HOURS) rows.push(...await readSystemRows(db, ts.slice(i, i + SYSTEM_READ_HOURS), scope, false));
    return { ...toSystem(ts, rows), spans: await loadSpans(db, scope) };
  }
  return { ...toSystem(ts, await readSystemRows(db, ts, scope, runs)), spans: await loadSpans(db, scope) };
}

/**
 * Hours read per query of a long range: on PGlite one query runs on the event loop's thread, and four weeks of every BA
 * in one query held it for seconds; a week at a time lets requests in between.
 */
const SYSTEM_READ_HOURS = 7 * 24;

async function readSystemRows(db: Db, ts: Date[], scope: SystemScope, runs: boolean): Promise<SeriesRow[]> {
  const bounds = runs ? hourRuns(ts) : { from: [ts[0]!], to: [new Date(ts.at(-1)!.getTime() + HOUR_MS)] };
  const observations = runs
    ? `series s CROSS JOIN unnest($1::timestamptz[], $2::timestamptz[]) AS r (lo, hi)
       CROSS JOIN LATERAL (SELECT o.ts, o.value FROM observations o WHERE o.series_id = s.id AND o.ts >= r.lo AND o.ts < r.hi OFFSET 0) o`
    : `series s JOIN observations o ON o.series_id = s.id AND o.ts >= $1::timestamptz AND o.ts < $2::timestamptz`;
  const filter = scopeFilter(scope, 3);
  return db.query<SeriesRow>(
    `${scope && 'reaching' in scope ? REACH(3) : ''}SELECT s.ba_code AS ba, s.type, s.subtype, s.source,
            coalesce(array_agg(extract(epoch FROM o.ts)::float8 * 1000) FILTER (WHERE o.value IS NOT NULL), '{}') AS ms,
            coalesce(array_agg(o.value) FILTER (WHERE o.value IS NOT NULL), '{}') AS vals
       FROM ${observations}
      WHERE ${filter.sql}
      GROUP BY s.id ORDER BY s.id`,
    [...runs ? [bounds.from.map((t) => t.toISOString()), bounds.to.map((t) => t.toISOString())] : [bounds.from[0]!.toISOString(), bounds.to[0]!.toISOString()], ...filter.params]);
}

/**
 * The span of every fuel and BA-to-BA interchange series of the scope: first and last non-null hour, two index
 * probes per series. Independent of the hours asked, so an hour's expected inputs are the same in any range.
 */
export async function loadSpans(db: Db, scope: SystemScope): Promise<NonNullable<SystemHours['spans']>> {
  const filter = scopeFilter(scope, 1);
  const [rows, registry] = await Promise.all([db.query<{ ba: string; type: string; subtype: string; first: number; last: number }>(
    `${scope && 'reaching' in scope ? REACH(1) : ''}SELECT s.ba_code AS ba, s.type, s.subtype,
            extract(epoch FROM f.ts)::float8 * 1000 AS first, extract(epoch FROM l.ts)::float8 * 1000 AS last
       FROM series s
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id AND value IS NOT NULL ORDER BY ts LIMIT 1) f
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id AND value IS NOT NULL ORDER BY ts DESC LIMIT 1) l
      WHERE ${filter.sql}`, filter.params), listBas(db, { includeRetired: true })]);
  const byCode = new Map(registry.map((b) => [b.code, b]));
  // an interchange pair ends with the last active hour of whichever of its two BAs retires first (registry, activeHours)
  const pairEnd = (ba: string, neighbour: string): number | null => {
    const ends = [byCode.get(ba), byCode.get(neighbour)].map((b) => (b ? activeHours(b).last : null)).filter((d): d is Date => d !== null);
    return ends.length ? Math.min(...ends.map((d) => d.getTime())) : null;
  };
  const spans: NonNullable<SystemHours['spans']> = { fuels: new Map(), interchange: new Map() };
  for (const r of rows) {
    const target = r.type === 'generation_by_fuel' ? spans.fuels : spans.interchange;
    let record = target.get(r.ba);
    if (!record) target.set(r.ba, (record = {}));
    // several sources of one BA × subtype (eia and simulated): the union of their spans
    const prev = record[r.subtype];
    const first = Number(r.first);
    // interchange: expected through the pair's last active hour (or its last value, if later), or always;
    // expectedAt adds EXPECTED_AFTER_LAST_MS to `last`, so it is taken off here
    const ends = r.type === 'generation_by_fuel' ? null : pairEnd(r.ba, r.subtype);
    const last = r.type === 'generation_by_fuel' ? Number(r.last)
      : ends === null ? Number.POSITIVE_INFINITY : Math.max(Number(r.last), ends) - EXPECTED_AFTER_LAST_MS;
    record[r.subtype] = prev ? { first: Math.min(prev.first, first), last: Math.max(prev.last, last) } : { first, last };
  }
  return spans;
}

/** Loads fuel and BA-to-BA interchange columns over [from, to) in one query, of the BAs of `scope`. */
export async function loadSystemHours(db: Db, from: Date, to: Date, scope?: SystemScope): Promise<SystemHours> {
  return loadSystem(db, hourStarts(from, to), scope, false);
}

/** The same for a set of separate hours (e.g. each BA's newest hour, for GET /now; a pulse's six days). */
export async function loadSystemAt(db: Db, hours: readonly Date[], scope?: SystemScope): Promise<SystemHours> {
  return loadSystem(db, [...new Set(hours.map((h) => h.getTime()))].sort((a, b) => a - b).map((t) => new Date(t)), scope, true);
}

function newestValue(points: readonly IntensityPoint[]): Date | null {
  for (let i = points.length - 1; i >= 0; i--) if (points[i]!.value !== null) return points[i]!.ts;
  return null;
}

/** Production-based points of one BA from the system columns (no extra query). */
export function productionFromSystem(system: SystemHours, ba: string, set: FactorSetName, overrides: readonly FactorOverride[] = []): IntensityPoint[] {
  return productionPoints(system.ts, system.fuels.get(ba) ?? {}, factorLookup(set, ba, overrides), spansOf(system).fuels.get(ba) ?? {});
}

/** consumptionPoints of one BA (null with 'no-fuel-data' when the trace has none): what hourlyIntensity keeps. */
export function consumptionPointsOf(system: SystemHours, set: FactorSetName, overrides: readonly FactorOverride[], ba: string): IntensityPoint[] {
  return consumptionPoints(system, set, overrides).get(ba) ?? system.ts.map((ts) => ({ ts, value: null, flags: ['no-fuel-data' as const] }));
}

/** The same on a worker thread (platform/off-loop.ts): only the BA's points cross back. */
const consumptionPointsOffLoop = offLoop(import.meta.url, 'consumptionPointsOf', consumptionPointsOf);

/**
 * Ranges of at least this many hours are traced on a worker thread: tracing costs about 0.3 ms per hour of a
 * connected system of 60 BAs, so a month would hold the event loop that serves every other request for 0.2–1 s,
 * while a day or two costs less than the hop to a thread.
 */
export const OFF_LOOP_TRACE_HOURS = 72;

/**
 * Hourly carbon intensity of one BA over [from, to) (hour starts), in gCO2eq/kWh. Consumption-based
 * intensity traces the flows of every BA connected to it, so it reads that part of the system for the range.
 * `undefined` for an unknown BA.
 * Source: production → the BA's own fuel series; consumption → every series that entered the trace.
 * `set`: a named factor set given as overrides of `factors` (the eGRID sets), in place of the stored overrides.
 */
export async function hourlyIntensity(db: Db, ba: string, from: Date, to: Date, basis: IntensityBasis, factors: FactorSetName,
  set?: { name: string; overrides: readonly FactorOverride[] }): Promise<IntensitySeries | undefined> {
  if (!(await getBa(db, ba))) return undefined;
  const [system, overrides] = await Promise.all([
    loadSystemHours(db, from, to, basis === 'production' ? { ba } : { reaching: ba }),
    set?.overrides ?? loadFactorOverrides(db),
  ]);
  const points = basis === 'production'
    ? productionFromSystem(system, ba, factors, overrides)
    : system.ts.length >= OFF_LOOP_TRACE_HOURS
      ? await consumptionPointsOffLoop(system, factors, overrides, ba)
      : consumptionPointsOf(system, factors, overrides, ba);
  const sources = basis === 'production' ? system.sources.get(ba) ?? [] : [...system.sources.values()].flatMap((s) => [...s]);
  return { ba, basis, factors: set?.name ?? factors, unit: INTENSITY_UNIT, points, dataThrough: newestValue(points), source: combineSources(sources) };
}
