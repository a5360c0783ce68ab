import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { listBas, type BalancingAuthority } from '../grid/ba-repository.ts';
import { INTERCONNECTIONS } from '../grid/interconnections.ts';
import { activeHours } from '../grid/active-dates.ts';
import type { EiaPoint } from './eia-schema.ts';
import { PointStore, pointSeries } from './store-points.ts';
import { finishRun, heartbeat, startRun, type RunTotals } from './run-ledger.ts';
import { offLoop } from '../platform/off-loop.ts';
import { checkTouched } from './check-runner.ts';
import { seeded } from '../platform/random.ts';
import { SIMULATED_SCALE, type BaScale } from './simulated-scale.ts';

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** A uniform number in [0, 1) that depends only on (seed, absolute hour, k): the same hour always draws the same. */
function draw(seed: number, hour: number, k: number): number {
  let x = (seed ^ Math.imul(hour, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return ((x ^ (x >>> 16)) >>> 0) / 4_294_967_296;
}

/**
 * Slow weather-like noise in [0, 1] as a function of the absolute hour alone: cosine interpolation between
 * random knots every 12 h, plus a quarter of a 3-hour octave. Unlike a random walk it needs no earlier hours,
 * so any window of hours (a backfilled gap) comes out exactly as it did in a longer run.
 */
function weather(seed: number, hour: number, k: number): number {
  const octave = (every: number, kk: number) => {
    const knot = Math.floor(hour / every);
    const f = (hour - knot * every) / every;
    const w = (1 - Math.cos(Math.PI * f)) / 2;
    return draw(seed, knot, kk) * (1 - w) + draw(seed, knot + 1, kk) * w;
  };
  return 0.8 * octave(12, 100 + k) + 0.2 * octave(3, 200 + k);
}

const hourFormats = new Map<string, Intl.DateTimeFormat>();

function localHour(ts: Date, tz: string): number {
  let f = hourFormats.get(tz);
  if (!f) hourFormats.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', hourCycle: 'h23' })));
  return Number(f.format(ts));
}

/** The demand curve by local hour before scaling: an afternoon bulge and an evening peak. */
const BASE_SHAPE = Array.from({ length: 24 }, (_, lh) => 0.75 + 0.15 * Math.sin(((lh - 10) / 24) * 2 * Math.PI) + 0.1 * Math.exp(-((lh - 19) ** 2) / 6));
const BASE_MEAN = BASE_SHAPE.reduce((a, b) => a + b, 0) / 24;
const BASE_TOP = Math.max(...BASE_SHAPE) / BASE_MEAN - 1;
const BASE_BOTTOM = 1 - Math.min(...BASE_SHAPE) / BASE_MEAN;

/**
 * The daily curve by local hour with mean 1 whose top is `peakToMean` (the BA's 98th-percentile hour over its
 * mean hour), flattened where that would take the night below a fifth of the mean.
 */
function dailyShape(peakToMean: number): number[] {
  const k = Math.min(Math.max(0, (peakToMean - 1) / BASE_TOP), 0.8 / BASE_BOTTOM);
  return BASE_SHAPE.map((v) => 1 + k * (v / BASE_MEAN - 1));
}

/** The BA's demand factor relative to July at `ts`: its monthly factors, linear between mid-months so that there are no steps. */
function seasonal(season: readonly number[], ts: Date): number {
  const y = ts.getUTCFullYear();
  const m = ts.getUTCMonth();
  const start = Date.UTC(y, m, 1);
  const pos = m + (ts.getTime() - start) / (Date.UTC(y, m + 1, 1) - start) - 0.5;
  const i = Math.floor(pos);
  const f = pos - i;
  return season[(i + 12) % 12]! * (1 - f) + season[(i + 13) % 12]! * f;
}

/** Fuels a BA dispatches to follow its load, in this order; the rest (MUST_RUN) runs whatever the load. */
const DISPATCHABLE = ['COL', 'NG', 'OIL', 'OTH'] as const;
/** Must-run fuels in the order they are curtailed when there is more than the BA can use or export. */
const MUST_RUN = ['SUN', 'WND', 'WAT', 'NUC'] as const;

/**
 * What a BA dispatches, with shares: its fossil and other fuels in proportion to their real mean output. A BA
 * without any follows its load with its hydro (Seattle City Light); failing that, one with demand with gas (a
 * pure importer such as Homestead still has to generate what it cannot import here), and a generation-only
 * one with nothing (a wind farm generates its wind).
 */
function dispatchShares(fuels: Readonly<Record<string, number>>, generationOnly: boolean): Array<[string, number]> {
  const own = DISPATCHABLE.filter((c) => (fuels[c] ?? 0) > 0);
  if (own.length > 0) {
    const total = own.reduce((s, c) => s + fuels[c]!, 0);
    return own.map((c) => [c, fuels[c]! / total]);
  }
  if ((fuels.WAT ?? 0) > 0) return [['WAT', 1]];
  return generationOnly ? [] : [['NG', 1]];
}

/** Splits `amount` MW among the shares, rounded cumulatively so that the parts are whole MW that sum to it. */
function split(amount: number, shares: ReadonlyArray<readonly [string, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  let cum = 0;
  let before = 0;
  shares.forEach(([code, share], i) => {
    cum += share;
    const upTo = i === shares.length - 1 ? amount : Math.round(amount * cum);
    out[code] = upTo - before;
    before = upTo;
  });
  return out;
}

const sum = (r: Readonly<Record<string, number>>) => Object.values(r).reduce((a, b) => a + b, 0);

/** One BA's own hours before trading: demand, forecast and the generation it cannot dispatch. */
interface OwnHours {
  ba: BalancingAuthority;
  /** demand, 0 for a generation-only BA (it reports none) */
  demand: number[];
  /** the load its dispatchable fuels follow when it has no partner (a generation-only BA: its typical output) */
  load: number[];
  forecast: number[];
  /** must-run generation by fuel, each hour */
  mustRun: Array<Record<string, number>>;
  dispatch: Array<[string, number]>;
}

/**
 * Plausible hourly demand, day-ahead forecast and must-run generation of one BA at its real scale (`scale`, from
 * SIMULATED_SCALE): demand on a daily curve around its real mean that reaches its real peak, peaking in the
 * local evening, times its month's factor; solar following the sun up to its real midday level; wind around its
 * real mean with slow weather; flat nuclear and hydro on the daily curve, both at their real means.
 */
function ownHours(ba: BalancingAuthority, scale: BaScale, from: Date, hours: number): OwnHours {
  const level = scale.demandMean ?? scale.generationMean;
  const shape = dailyShape((scale.demandMean !== null ? scale.demandPeak! : scale.generationPeak) / Math.max(1, level));
  const dispatch = dispatchShares(scale.fuels, ba.generationOnly);
  const fuel = (code: string) => scale.fuels[code] ?? 0;
  const hydro = dispatch[0]?.[0] === 'WAT' ? 0 : fuel('WAT');
  const own: OwnHours = { ba, demand: [], load: [], forecast: [], mustRun: [], dispatch };
  const seed = hash(`${ba.code}|hourly`);
  for (let h = 0; h < hours; h++) {
    const ts = new Date(from.getTime() + h * 3_600_000);
    const hour = Math.floor(ts.getTime() / 3_600_000);
    // people and the sun keep the clocks of where the BA lies, not the zone it reports in (EPE: Mountain, reports in Arizona time)
    const lh = localHour(ts, ba.geographicTimeZone);
    const demand = Math.round(level * seasonal(scale.season, ts) * shape[lh]! * (0.97 + 0.06 * draw(seed, hour, 0)));
    own.demand.push(ba.generationOnly ? 0 : demand);
    own.load.push(demand);
    own.forecast.push(Math.round(demand * (0.96 + 0.08 * draw(seed, hour, 1))));
    const sun = Math.max(0, Math.sin(((lh - 6) / 13) * Math.PI)) * (lh >= 6 && lh <= 19 ? 1 : 0);
    const mustRun: Record<string, number> = {};
    if (scale.solarPeak > 0 || fuel('SUN') > 0) mustRun.SUN = Math.round(scale.solarPeak * sun);
    // gusts on top of the slow weather keep calm spells from reading as a stuck meter
    if (fuel('WND') > 0) mustRun.WND = Math.round(fuel('WND') * (0.1 + 1.8 * weather(seed, hour, 0)) * (0.95 + 0.1 * draw(seed, hour, 2)));
    if (hydro > 0) mustRun.WAT = Math.round(hydro * ((0.8 + 0.4 * shape[lh]!) / 1.2) * (0.97 + 0.06 * draw(seed, hour, 3)));
    if (fuel('NUC') > 0) mustRun.NUC = fuel('NUC');
    own.mustRun.push(mustRun);
  }
  return own;
}

/** A BA's imports over its trading pairs with BAs that have demand stay within this share of its demand, so it always has something left to generate; its imports from generation-only BAs within as much again. */
const IMPORT_SHARE = 0.4;

/** Takes `amount` MW off the fuels in `order` (curtailment), each down to zero; fuels the BA does not have are skipped. */
function curtail(fuels: Record<string, number>, amount: number, order: readonly string[]): void {
  for (const code of order) {
    if (amount <= 0) return;
    if (!(code in fuels)) continue;
    const cut = Math.min(fuels[code]!, amount);
    fuels[code]! -= cut;
    amount -= cut;
  }
}

interface Trade { i: number; j: number; seed: number; bias: number; phase: number; weight: number }

/**
 * Simulates the BAs together, hour by hour: each BA's own demand and must-run generation at its real scale
 * (ownHours, SIMULATED_SCALE), then a flow on every interconnected pair (INTERCONNECTIONS) of two simulated BAs,
 * then each BA's dispatch. A BA without a row in SIMULATED_SCALE (Canadian and Mexican BAs, for which EIA-930
 * has no demand or generation) gets no points, as in EIA-930.
 *
 * - A pair of BAs with demand trades a share of the smaller side's demand (divided among each side's pairs
 *   with demand, so that no BA imports more than IMPORT_SHARE of its demand from them): a fixed lean, a daily
 *   swing, slow weather-like noise, hourly noise, and a pull from the BA with more must-run generation per MW
 *   of demand towards the one with less (midday solar leaves California).
 * - A generation-only BA (no demand) sends all its generation to its partners with demand, in fixed
 *   proportions, within what each may import from generation-only BAs (IMPORT_SHARE of its demand, divided
 *   among them); anything more is curtailed. Two generation-only BAs do not trade.
 * - Every BA with a pair then generates demand + net exports: its dispatchable fuels in their real proportions
 *   (dispatchShares), or its must-run generation curtailed (solar, wind, hydro, then nuclear) when that alone
 *   is more.
 *
 * So per hour, with EIA's signs (positive = export): A→B = x and B→A = −x, TI = Σ pairs, NG − D = TI, and
 * the fuels sum to NG, all exactly (integer MW). A BA without a simulated partner (for instance one
 * simulated alone) has no interchange series: it dispatches for its demand and reports any surplus
 * as TI, and a generation-only one reports TI = NG.
 * Deterministic and window-independent: every random number is a function of the BA or pair and the absolute
 * hour (draw, weather), so simulating any sub-range of hours gives exactly the values of a longer run.
 */
export function simulateGrid(all: readonly BalancingAuthority[], from: Date, hours: number): Map<string, EiaPoint[]> {
  const out = new Map(all.map((b) => [b.code, [] as EiaPoint[]]));
  const bas = all.filter((b) => SIMULATED_SCALE[b.code]);
  const own = bas.map((ba) => ownHours(ba, SIMULATED_SCALE[ba.code]!, from, hours));
  const index = new Map(bas.map((b, i) => [b.code, i]));
  const trades: Trade[] = [];
  for (const [a, b] of INTERCONNECTIONS) {
    const i = index.get(a);
    const j = index.get(b);
    if (i === undefined || j === undefined || (bas[i]!.generationOnly && bas[j]!.generationOnly)) continue;
    const rand = seeded(hash(`${a}|${b}`));
    trades.push({ i, j, seed: hash(`${a}|${b}|hourly`), bias: (rand() - 0.5) * 0.6, phase: rand() * 24, weight: 0.5 + rand() });
  }
  const pairsOf = bas.map(() => [] as Trade[]);
  for (const t of trades) { pairsOf[t.i]!.push(t); pairsOf[t.j]!.push(t); }
  const withGenerationOnly = pairsOf.map((pairs, k) => pairs.filter((t) => bas[t.i === k ? t.j : t.i]!.generationOnly).length);
  const flow = new Map<Trade, number>();
  const share = new Map<Trade, number>();
  const room = new Array<number>(bas.length);
  const roomFromGenerationOnly = new Array<number>(bas.length);
  const pull = new Array<number>(bas.length);
  for (let h = 0; h < hours; h++) {
    const ts = new Date(from.getTime() + h * 3_600_000);
    const fuelsOf = own.map((o) => ({ ...o.mustRun[h]!, ...split(Math.max(0, o.load[h]! - sum(o.mustRun[h]!)), o.dispatch) }));
    own.forEach((o, k) => {
      const demand = o.demand[h]!;
      room[k] = IMPORT_SHARE * demand / Math.max(1, pairsOf[k]!.length - withGenerationOnly[k]!);
      roomFromGenerationOnly[k] = IMPORT_SHARE * demand / Math.max(1, withGenerationOnly[k]!);
      pull[k] = demand > 0 ? Math.min(1, sum(o.mustRun[h]!) / demand) : 0;
    });
    // a generation-only BA's output split by weight, rounded cumulatively so that the shares sum to it
    for (const [g, pairs] of pairsOf.entries()) {
      if (!bas[g]!.generationOnly || pairs.length === 0) continue;
      const total = sum(fuelsOf[g]!);
      const weights = pairs.reduce((s, p) => s + p.weight, 0);
      let cum = 0;
      for (const p of pairs) {
        const before = Math.round((total * cum) / weights);
        cum += p.weight;
        share.set(p, Math.round((total * cum) / weights) - before);
      }
    }
    for (const t of trades) {
      const gi = bas[t.i]!.generationOnly;
      const gj = bas[t.j]!.generationOnly;
      if (gi || gj) {
        // the generation-only side's share, within what the side with demand may import from generation-only BAs
        const d = gi ? t.j : t.i;
        const x = Math.min(share.get(t)!, Math.floor(roomFromGenerationOnly[d]!));
        flow.set(t, (gi ? x : -x) + 0);
        continue;
      }
      const hour = Math.floor(ts.getTime() / 3_600_000);
      const daily = 0.3 * Math.sin(((ts.getUTCHours() + t.phase) / 24) * 2 * Math.PI);
      const weatherLean = 0.8 * (weather(t.seed, hour, 0) - 0.5);
      const lean = t.bias + daily + weatherLean + 0.1 * (draw(t.seed, hour, 1) - 0.5) + 0.8 * (pull[t.i]! - pull[t.j]!);
      flow.set(t, Math.round(Math.min(1, Math.max(-1, lean)) * Math.min(room[t.i]!, room[t.j]!)) + 0);
    }
    own.forEach((o, k) => {
      const { ba } = o;
      const fuels = fuelsOf[k]!;
      const points = out.get(ba.code)!;
      const point = (route: EiaPoint['route'], code: string, value: number): EiaPoint => ({ route, ba: ba.code, code, ts, value });
      const pairs = pairsOf[k]!;
      let ng = sum(fuels);
      let ti = ba.generationOnly ? ng : ng - o.demand[h]!;
      if (pairs.length > 0) {
        ti = pairs.reduce((s, t) => s + (t.i === k ? flow.get(t)! : -flow.get(t)!), 0);
        const mustRun = sum(o.mustRun[h]!);
        const need = o.demand[h]! + ti;
        if (ba.generationOnly) curtail(fuels, ng - need, [...o.dispatch.map(([c]) => c), ...MUST_RUN]);
        else if (need >= mustRun) Object.assign(fuels, split(need - mustRun, o.dispatch));
        else {
          for (const [c] of o.dispatch) fuels[c] = 0;
          curtail(fuels, mustRun - need, MUST_RUN);
        }
        ng = need;
      }
      if (!ba.generationOnly) points.push(point('region', 'D', o.demand[h]!), point('region', 'DF', o.forecast[h]!));
      points.push(point('region', 'NG', ng), point('region', 'TI', ti));
      // a fuel the BA has is reported every hour (zero when idle), so an absent hour is a real gap
      for (const [code, v] of Object.entries(fuels)) points.push(point('fuel', code, v));
      for (const t of pairs) {
        const x = flow.get(t)!;
        const [neighbour, exported] = t.i === k ? [bas[t.j]!.code, x] : [bas[t.i]!.code, x === 0 ? 0 : -x];
        points.push(point('interchange', neighbour, exported));
      }
    });
  }
  return out;
}

/** One BA simulated on its own (no interchange; see simulateGrid). */
export function simulateBa(ba: BalancingAuthority, from: Date, hours: number): EiaPoint[] {
  return simulateGrid([ba], from, hours).get(ba.code)!;
}

/**
 * simulateGrid over the hours in which each BA reports to EIA-930 (registry dates): the range is cut
 * where the set of reporting BAs changes and each piece simulated with that set, so a retired BA has no
 * hours after its retirement day and its partners balance without it (the simulation depends on the
 * absolute hour only, so the pieces join seamlessly).
 */
export function simulateReportingGrid(bas: readonly BalancingAuthority[], from: Date, hours: number): Map<string, EiaPoint[]> {
  const out = new Map<string, EiaPoint[]>(bas.map((b) => [b.code, []]));
  let start = 0;
  const spans = bas.map((b) => activeHours(b));
  const activeAt = (h: number) => {
    const t = from.getTime() + h * 3_600_000;
    return bas.filter((_, i) => (spans[i]!.first === null || spans[i]!.first!.getTime() <= t) && (spans[i]!.last === null || spans[i]!.last!.getTime() >= t));
  };
  while (start < hours) {
    const set = activeAt(start);
    const key = set.map((b) => b.code).join();
    let end = start + 1;
    while (end < hours && activeAt(end).map((b) => b.code).join() === key) end++;
    if (set.length) for (const [code, points] of simulateGrid(set, new Date(from.getTime() + start * 3_600_000), end - start)) out.get(code)!.push(...points);
    start = end;
  }
  return out;
}

/**
 * The BA-routes the simulated grid gives points to at `at`: every BA with a row in SIMULATED_SCALE that reports
 * then gets region and fuel, and interchange when it has a simulated partner (Canadian and Mexican BAs get
 * nothing). The hourly pass plans only these, so a BA-route that never gets points is not asked for every hour.
 */
export function simulatedRoutes(bas: readonly BalancingAuthority[], at: Date): Map<string, Set<EiaPoint['route']>> {
  const out = new Map<string, Set<EiaPoint['route']>>();
  for (const [code, points] of simulateReportingGrid(bas, at, 1)) {
    if (points.length) out.set(code, new Set(points.map((p) => p.route)));
  }
  return out;
}

export interface SimulatedLoadOptions {
  /** store only these BAs' points, of the routes given for each (the grid is still simulated with every BA given, so flows balance) */
  only?: ReadonlyMap<string, ReadonlySet<EiaPoint['route']>> | undefined;
  /** Ctrl-C: stop after the BA being stored (each BA is one transaction); the run is recorded as partial */
  signal?: AbortSignal | undefined;
}

/** simulateReportingGrid on a worker thread (platform/off-loop.ts). */
const simulateReportingGridOffLoop = offLoop(import.meta.url, 'simulateReportingGrid', simulateReportingGrid);

/** Hours simulated per trip to a worker thread: a day of every BA is about 26,000 points, which the main thread receives (structured clone) in a few milliseconds. */
export const FILL_CHUNK_HOURS = 24;

export interface SimulatedLoadOptions {
  /** store only these BAs' points, of the routes given for each (the grid is still simulated with every BA given, so flows balance) */
  only?: ReadonlyMap<string, ReadonlySet<EiaPoint['route']>> | undefined;
  /** Ctrl-C: stop after the BA being stored (each BA is one transaction); the run is recorded as partial */
  signal?: AbortSignal | undefined;
}

/**
 * Fills the store with a clearly labelled simulated grid (source=simulated) for the BAs and hours. The grid is
 * simulated a day at a time on a worker thread (the simulation of any sub-range equals that of a longer run), so the
 * event loop that serves the site only receives the points; then each BA is stored in one transaction (all its
 * routes and hours), so a crash leaves each BA either whole or untouched for the range and the next pass (planned
 * per BA and route from what is stored) completes exactly the missing ones. Progress is logged per BA (info when
 * the fill is long, as the first one is) with the run id, and the run's heartbeat carries the running totals.
 */
export async function loadSimulatedGrid(deps: { db: Db; logger: Logger }, bas: BalancingAuthority[], from: Date, hours: number, opts: SimulatedLoadOptions = {}): Promise<RunTotals & { runId: number }> {
  const only = opts.only;
  const targets = only ? bas.filter((b) => only.has(b.code)) : bas;
  const runId = await startRun(deps.db, 'simulated', 'simulated', { from: from.toISOString(), hours, bas: targets.length });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(deps.db, logger, 'simulated');
  const t: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const grid = new Map<string, EiaPoint[]>();
  for (let start = 0; start < hours && !opts.signal?.aborted; start += FILL_CHUNK_HOURS) {
    const chunk = await simulateReportingGridOffLoop(bas, new Date(from.getTime() + start * 3_600_000), Math.min(FILL_CHUNK_HOURS, hours - start));
    for (const [code, points] of chunk) {
      const all = grid.get(code);
      if (all) for (const p of points) all.push(p); else grid.set(code, points);
    }
  }
  const long = hours * targets.length > 24 * 100;
  let done = 0;
  for (const ba of targets) {
    if (opts.signal?.aborted) {
      t.errors.push(`aborted after ${done}/${targets.length} BAs`);
      logger.warn({ done, total: targets.length }, 'simulated fill stopped; the next start completes it');
      break;
    }
    const routes = only?.get(ba.code);
    const all = grid.get(ba.code) ?? [];
    const points = routes ? all.filter((p) => routes.has(p.route)) : all;
    const r = await store.store(points);
    t.fetched += points.length; t.inserted += r.inserted; t.updated += r.updated; t.rejected += r.rejected;
    await heartbeat(deps.db, runId, t);
    done++;
    // the fill's progress by BA, for the site's "Filling…" notice (fill-state.ts): each BA lands whole, so the newest hour
    // stored says nothing of how far the fill is
    await deps.db.query(`UPDATE ingest_runs SET params = params || $2::text::jsonb WHERE id = $1`, [runId, JSON.stringify({ basDone: done })]);
    logger[long ? 'info' : 'debug']({ ba: ba.code, done, total: targets.length, inserted: r.inserted }, 'simulated grid: BA stored');
  }
  // quality checks after a stop would hold up the Ctrl-C: the next pass checks what it touches
  if (!opts.signal?.aborted) await checkTouched({ db: deps.db, logger }, t, { bas: targets.map((b) => b.code), from, to: new Date(from.getTime() + (hours - 1) * 3_600_000), runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}

/**
 * Backfills a gap of the simulated grid: only hours that have no row are written, so the simulated
 * history around the gap is left as it was. The BA is simulated together with the BAs that have
 * simulated series (the grid it was simulated with) and the simulation depends on the absolute hour
 * only, so the refilled values are exactly those the first run stored: they balance against the rows
 * kept (NG − D = TI, fuels = NG) and mirror the partners' interchange.
 */
export async function fillSimulatedGap(deps: { db: Db; logger: Logger }, ba: BalancingAuthority, route: EiaPoint['route'], from: Date, to: Date): Promise<RunTotals & { runId: number }> {
  const hours = Math.floor((to.getTime() - from.getTime()) / 3_600_000) + 1;
  const runId = await startRun(deps.db, 'backfill', 'simulated', { bas: [ba.code], from: from.toISOString(), to: to.toISOString(), routes: [route] });
  const logger = deps.logger.child({ runId });
  const stored = await deps.db.query<{ type: string; subtype: string; ts: Date | string }>(
    `SELECT s.type, s.subtype, o.ts FROM observations o JOIN series s ON s.id = o.series_id
     WHERE s.ba_code = $1 AND o.ts >= $2 AND o.ts <= $3`, [ba.code, from, to]);
  const have = new Set(stored.map((r) => `${r.type}|${r.subtype}|${new Date(r.ts).getTime()}`));
  const simulated = new Set((await deps.db.query<{ ba: string }>(`SELECT DISTINCT ba_code AS ba FROM series WHERE source = 'simulated'`)).map((r) => r.ba));
  const grid = (await listBas(deps.db)).filter((b) => b.code !== ba.code && simulated.has(b.code));
  const points = simulateReportingGrid([ba, ...grid], from, hours).get(ba.code)!.filter((p) => {
    const { type, subtype } = pointSeries(p);
    return p.route === route && !have.has(`${type}|${subtype}|${p.ts.getTime()}`);
  });
  const r = await new PointStore(deps.db, logger, 'simulated').store(points);
  const t: RunTotals = { fetched: points.length, inserted: r.inserted, updated: r.updated, rejected: r.rejected, requests: 0, retries: 0, errors: [] };
  await checkTouched({ db: deps.db, logger }, t, { bas: [ba.code], from, to, runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}
