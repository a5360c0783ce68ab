import { HOUR_MS } from '../../grid/time.ts';
import { localDateOf, localHourOf, localMidnight, addDays } from '../../grid/local-day.ts';
import { lastDayLag } from '../../analytics/forecast/scoring.ts';
import { highs, planWith, type Battery, type Plan, type PlanInput } from './lp.ts';
import { ruleDispatch } from './rule.ts';

/**
 * Backtest of the optimizer on a past period, hour by hour, planning only on what was known at each hour
 * (src/fleet/optimizer/backtest.ts). Pure: the caller reads prices, load and intensities; this replays them.
 */

/** Published day-ahead prices: each local day's prices count as known from 12:00 local time the day before. */
export const DAY_AHEAD_PUBLISHED_HOUR = 12;
/** The longest horizon one plan looks at, hours. */
export const MAX_HORIZON_HOURS = 48;

export interface BacktestInput {
  /** UTC hour starts, consecutive (hour steps); every array below is parallel to it */
  hours: Date[];
  /** price actually paid, $/kWh (import; the tariff's export credit is `exportPrice`) */
  importPrice: number[];
  exportPrice: number[] | null;
  /**
   * What the planner sees of each hour's prices when they are published (by default the prices paid: a day-ahead
   * tariff). For a real-time tariff, the day-ahead prices: plans are made on them and paid at real-time prices.
   */
  planImportPrice?: number[] | undefined;
  planExportPrice?: number[] | null | undefined;
  loadKW: number[];
  /** actual grid intensity, gCO2eq/kWh (null where unknown) */
  intensity: Array<number | null> | null;
  /**
   * Intensity as it was forecast at decision hour `t` for hour `h` (h ≥ t), or null when no forecast is known:
   * the caller decides the source (stored forecast runs as made, or a stated stand-in).
   */
  intensityForecast?: ((t: number, h: number) => number | null) | undefined;
  battery: Battery;
  /** SoC at the start, kWh (default: the reserve) */
  initialSoCKWh?: number;
  timeZone: string;
  carbonPrice: number;
  degradationCost: number;
  noExport?: boolean;
}

export interface Outcome {
  /**
   * $ paid for energy over the period (imports − export credits), less the value of the energy left in the battery
   * at the end (η_d × the period's mean import price per kWh of SoC above the starting SoC, so a run that empties the
   * battery in its last hours gains nothing over one that keeps it, whatever the period's length)
   */
  cost: number;
  /** kg CO2 of the grid energy (imports − exports) at the actual intensity; null when intensities are unknown */
  co2Kg: number | null;
  /** kWh charged + discharged */
  throughputKWh: number;
}

export interface BacktestResult {
  hours: number;
  noBattery: Outcome;
  rule: Outcome;
  optimized: Outcome & { fallbackHours: number };
  perfect: Outcome;
  /** (noBattery − optimized) / noBattery × 100 */
  savingsPct: number;
  /** (noBattery − optimized) / (noBattery − perfect) × 100 */
  pctOfPerfect: number;
  /** where the intensity of each plan came from */
  intensitySource: string;
}

/** Index of the first hour whose price is not yet published at decision hour `hours[t]` (t < result ≤ n). */
export function knownUntil(hours: readonly Date[], t: number, timeZone: string): number {
  const now = hours[t]!;
  const today = localDateOf(now, timeZone);
  // after noon local, tomorrow's prices are out: known until the end of tomorrow; before, until the end of today
  const lastDay = localHourOf(now, timeZone) >= DAY_AHEAD_PUBLISHED_HOUR ? addDays(today, 1) : today;
  const end = localMidnight(addDays(lastDay, 1), timeZone).getTime();
  let i = t + 1;
  while (i < hours.length && hours[i]!.getTime() < end && i - t < MAX_HORIZON_HOURS) i++;
  return i;
}

/** Cash flow and CO2 of executing a plan's steps [from, to) against what actually happened. */
function account(input: BacktestInput, plan: Pick<Plan, 'chargeKW' | 'dischargeKW'>, offset: number, out: Outcome): void {
  for (let i = 0; i < plan.chargeKW.length; i++) {
    const h = offset + i;
    const c = plan.chargeKW[i]!, d = plan.dischargeKW[i]!;
    const grid = input.loadKW[h]! + c - d;
    const imp = Math.max(0, grid), exp = Math.max(0, -grid);
    out.cost += imp * input.importPrice[h]! - exp * (input.exportPrice ? input.exportPrice[h]! : 0);
    out.throughputKWh += c + d;
    const I = input.intensity?.[h];
    if (out.co2Kg !== null) out.co2Kg = I === null || I === undefined ? null : out.co2Kg + (grid * I) / 1000;
  }
}

const zero = (input: BacktestInput): Outcome => ({ cost: 0, co2Kg: input.intensity ? 0 : null, throughputKWh: 0 });

function baseInput(input: BacktestInput, from: number, to: number, soc: number, intensity: number[] | undefined, planned = false): PlanInput {
  const imp = planned && input.planImportPrice ? input.planImportPrice : input.importPrice;
  const exp = planned && input.planImportPrice ? input.planExportPrice ?? null : input.exportPrice;
  return {
    stepHours: 1, battery: input.battery, initialSoCKWh: soc,
    importPrice: imp.slice(from, to),
    exportPrice: exp ? exp.slice(from, to) : null,
    loadKW: input.loadKW.slice(from, to),
    intensity, carbonPrice: input.carbonPrice, degradationCost: input.degradationCost, noExport: input.noExport ?? false,
    localHour: input.hours.slice(from, to).map((h) => localHourOf(h, input.timeZone)),
  };
}

/** SoC after executing plan step 0 from `soc`. */
const step = (b: Battery, soc: number, c: number, d: number) => Math.min(b.capacityKWh, Math.max(0, soc + b.chargeEfficiency * c - d / b.dischargeEfficiency));

/**
 * Replays [hours[0], hours[n]) hour by hour: at each hour the optimizer plans on the prices published by then
 * (knownUntil) and the intensity forecasts known then, and the first hour of the plan is executed and paid at the
 * actual price. Baselines on the same period: no battery, the rule (RULE_DESCRIPTION), and perfect foresight (one
 * LP over the whole period on the actual prices and intensities). Costs are cash flows less the value of the energy
 * left in the battery at the end (Outcome.cost); every run starts from the same SoC. `onProgress(done, total)` is called every
 * 24 hours. Throws RangeError when the arrays disagree in length or the period is empty.
 */
export async function runBacktest(input: BacktestInput, onProgress?: (done: number, total: number) => void): Promise<BacktestResult> {
  const n = input.hours.length;
  if (n === 0) throw new RangeError('backtest: the period holds no priced hours');
  for (const [name, a] of [['importPrice', input.importPrice], ['loadKW', input.loadKW], ['exportPrice', input.exportPrice], ['intensity', input.intensity], ['planImportPrice', input.planImportPrice], ['planExportPrice', input.planExportPrice]] as const) {
    if (a && a.length !== n) throw new RangeError(`backtest: ${name} has ${a.length} hours, the period ${n}`);
  }
  for (let i = 1; i < n; i++) if (input.hours[i]!.getTime() - input.hours[i - 1]!.getTime() !== HOUR_MS) throw new RangeError(`backtest: hours must be consecutive (gap before ${input.hours[i]!.toISOString()})`);
  const h = await highs();
  const b = input.battery;
  const soc0 = Math.min(b.capacityKWh, Math.max(0, input.initialSoCKWh ?? b.reserveKWh ?? 0));
  const carbonOn = input.carbonPrice !== 0;

  const noBattery = zero(input);
  account(input, { chargeKW: new Array(n).fill(0), dischargeKW: new Array(n).fill(0) }, 0, noBattery);

  const endValue = b.dischargeEfficiency * (input.importPrice.reduce((x, v) => x + v, 0) / n);
  const settle = (o: Outcome, socEnd: number) => { o.cost -= endValue * (socEnd - soc0); };
  const rule = zero(input);
  const rulePlan = ruleDispatch(baseInput(input, 0, n, soc0, undefined));
  account(input, rulePlan, 0, rule);
  settle(rule, rulePlan.socKWh[n - 1]!);

  const actualIntensity = input.intensity && carbonOn ? input.intensity.map((v) => v ?? 0) : undefined;
  const perfectPlan = planWith(h, { ...baseInput(input, 0, n, soc0, actualIntensity), terminalValue: endValue, timeLimitS: 600 });
  if (perfectPlan.method !== 'lp') throw new Error(`backtest: the perfect-foresight LP failed (${perfectPlan.fallbackReason})`);
  const perfect = zero(input);
  account(input, perfectPlan, 0, perfect);
  settle(perfect, perfectPlan.socKWh[n - 1]!);

  const optimized = { ...zero(input), fallbackHours: 0 };
  let soc = soc0;
  for (let t = 0; t < n; t++) {
    const end = knownUntil(input.hours, t, input.timeZone);
    let intensity: number[] | undefined;
    if (carbonOn && input.intensityForecast) {
      intensity = [];
      for (let k = t; k < end; k++) intensity.push(input.intensityForecast(t, k) ?? 0);
    }
    const p = planWith(h, baseInput(input, t, end, soc, intensity, true));
    if (p.method !== 'lp') optimized.fallbackHours++;
    const c = p.chargeKW[0]!, d = p.dischargeKW[0]!;
    account(input, { chargeKW: [c], dischargeKW: [d] }, t, optimized);
    soc = step(b, soc, c, d);
    if (onProgress && (t + 1) % 24 === 0) onProgress(t + 1, n);
  }
  settle(optimized, soc);
  const saved = noBattery.cost - optimized.cost, best = noBattery.cost - perfect.cost;
  return {
    hours: n, noBattery, rule, optimized, perfect,
    savingsPct: noBattery.cost !== 0 ? (saved / Math.abs(noBattery.cost)) * 100 : 0,
    pctOfPerfect: best > 0 ? (saved / best) * 100 : 100,
    intensitySource: '',
  };
}

/**
 * The stand-in intensity forecast when no stored forecasts cover the period: the actual intensity of the same
 * hour on the last day already observed at decision time (`lastDayLag`: 24 h back for leads up to 24 h, 48 h for
 * 25–48 h), i.e. a persistence forecast made only from what was known then.
 */
export function persistenceForecast(actual: ReadonlyArray<number | null>): (t: number, h: number) => number | null {
  return (t, h) => {
    const j = h - lastDayLag(h - t);
    return j >= 0 ? actual[j] ?? null : null;
  };
}
