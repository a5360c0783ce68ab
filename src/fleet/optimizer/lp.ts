import highsPackage from 'highs';
import { ruleDispatch } from './rule.ts';
import { stepLimits } from './step-limits.ts';

/**
 * One battery's plan as a linear program solved by HiGHS (the `highs` npm package: the HiGHS C++ solver of the
 * University of Edinburgh compiled to WebAssembly, loaded once per thread and kept warm).
 *
 * Per step t (length `stepHours` h) the variables are, all ≥ 0: charge c_t and discharge d_t (kW, AC side),
 * grid import g_t and export e_t (kW), state of charge s_t (kWh at the END of step t), and two soft-bound slacks
 * u_t (kWh below the reserve SoC) and w_t (kWh above the upper SoC target). The constraints are
 *   balance:   g_t − e_t − c_t + d_t = load_t − pv_t
 *   dynamics:  s_t − s_{t−1} − η_c·Δt·c_t + Δt/η_d·d_t = 0          (s_{−1} = the reported SoC)
 *   reserve:   s_t + u_t ≥ reserve                                   (soft: penalty per kWh short)
 *   upper:     s_t − w_t ≤ maxSoC                                    (soft)
 * with hard bounds 0 ≤ c_t, d_t ≤ power, 0 ≤ s_t ≤ capacity (physics cannot be violated; preferences may), and
 * e_t ≤ 0 when export is forbidden beyond the PV surplus. A step's setpoint (PlanInput.setpointKW: an OpenADR
 * DISPATCH_SETPOINT) bars the other direction, caps the asked one and rewards each kWh toward it by the soft-bound
 * penalty; import and export caps (OpenADR capacity limits) bound g_t and e_t. The objective (minimised, $) is
 *   Σ_t Δt·[ p^imp_t·g_t − p^exp_t·e_t + k·I_t·(g_t − e_t) + δ·(c_t + d_t) ] + P·Σ_t (u_t + w_t) − V·s_{T−1}
 * where k is the carbon price ($/t) × 1e−6 (I_t in gCO2eq/kWh), δ the degradation cost ($/kWh throughput), P the
 * soft-bound penalty ($/kWh) and V the value of energy left in the battery at the end of the horizon ($/kWh; by
 * default η_d × the mean import price of the horizon: what a kWh stored will save later, so the plan neither
 * dumps the battery in its last hours nor is forced back to its starting SoC). Exported energy is credited with
 * the same intensity it displaces (consumption-based accounting).
 *
 * A charge and a discharge in the same step are allowed (within an hour a battery can do both in turn); with
 * efficiencies below 1 the LP only does so when prices are negative.
 */

/** The battery as the optimizer sees it. Energies in kWh, powers in kW, efficiencies as fractions (0, 1]. */
export interface Battery {
  capacityKWh: number;
  /** maximum charge power (AC), kW; also the discharge limit unless `dischargePowerKW` is given */
  powerKW: number;
  /** maximum discharge power (AC), kW; `powerKW` when absent */
  dischargePowerKW?: number;
  chargeEfficiency: number;
  dischargeEfficiency: number;
  /** soft lower SoC bound (backup reserve), kWh; 0 by default */
  reserveKWh?: number;
  /** soft upper SoC bound, kWh; the capacity by default */
  maxSoCKWh?: number;
}

/** Everything one plan needs; arrays have one entry per step. Prices in $/kWh, intensities in gCO2eq/kWh. */
export interface PlanInput {
  stepHours: number;
  battery: Battery;
  /** SoC when the first step starts, kWh (clamped to [0, capacity]) */
  initialSoCKWh: number;
  importPrice: ArrayLike<number>;
  /** export credit per kWh; null → no credit (exports priced at 0) */
  exportPrice: ArrayLike<number> | null;
  loadKW: ArrayLike<number>;
  pvKW?: ArrayLike<number> | undefined;
  /** no export beyond the PV surplus (the battery never discharges to the grid) */
  noExport?: boolean;
  /** grid intensity forecast of the device's BA (consumption-based), gCO2eq/kWh */
  intensity?: ArrayLike<number> | undefined;
  /** $/tonne CO2 */
  carbonPrice?: number;
  /** $/kWh of throughput (charge + discharge) */
  degradationCost?: number;
  /** $/kWh of SoC left at the end; default η_d × mean import price */
  terminalValue?: number;
  /** $/kWh outside the soft SoC bounds; default 10 */
  softPenalty?: number;
  /** seconds the solver may take (default SOLVE_TIME_LIMIT_S); a long perfect-foresight LP over a year needs more */
  timeLimitS?: number;
  /** local hour of day (0–23) of each step start, for the rule fallback */
  localHour?: ArrayLike<number> | undefined;
  /**
   * Battery power asked per step, kW (+ charge, − discharge; null: none), e.g. an OpenADR DISPATCH_SETPOINT. The plan
   * follows it as far as the battery can: the other direction is barred, power is capped at the setpoint, and each
   * kWh toward it earns `softPenalty` (a soft lower bound: an empty or full battery, or the reserve, stop it).
   */
  setpointKW?: ReadonlyArray<number | null> | undefined;
  /** grid import cap per step at the meter, kW (null: none), e.g. an OpenADR IMPORT_CAPACITY_LIMIT; never cuts the home's own net load */
  importLimitKW?: ReadonlyArray<number | null> | undefined;
  /** grid export cap per step at the meter, kW (null: none), e.g. an OpenADR EXPORT_CAPACITY_LIMIT; never cuts the PV surplus */
  exportLimitKW?: ReadonlyArray<number | null> | undefined;
}


export type PlanMethod = 'lp' | 'rule-fallback';

/** A plan: kW per step (positive), SoC at the end of each step (kWh). */
export interface Plan {
  method: PlanMethod;
  /** why the rule was used instead of the LP */
  fallbackReason?: string;
  chargeKW: number[];
  dischargeKW: number[];
  importKW: number[];
  exportKW: number[];
  socKWh: number[];
  /** LP objective ($), NaN for a rule plan */
  objective: number;
}

// The package's types describe a CommonJS module (default = the namespace) while Node's ESM import gets its .mjs
// build (default = the loader): take whichever is the function.
type Loader = typeof highsPackage.default;
const loadHighs: Loader = (highsPackage as unknown as { default?: Loader }).default ?? (highsPackage as unknown as Loader);
type HighsModule = Awaited<ReturnType<Loader>>;
/** The thread's HiGHS: the WASM module and one persistent solver instance reused by every plan of the thread. */
export interface Highs {
  module: HighsModule; solver: ReturnType<HighsModule['raw']['createModel']>;
  /** the last optimal basis and the model shape it belongs to: a warm start for the next plan of the same shape */
  warm?: { cols: number; rows: number; colStatus: Int32Array; rowStatus: Int32Array } | undefined;
}
/** Seconds one solve may take before the rule plans instead (the clock is reset before each solve). */
export const SOLVE_TIME_LIMIT_S = 2;
let loaded: Highs | undefined;
let loading: Promise<Highs> | undefined;

/**
 * The thread's HiGHS (the WASM module loads once per thread, ~30–60 ms, then stays warm). The solver instance runs
 * without presolve (these LPs are small and already tight: presolve costs more than it saves) and without output.
 * Each optimal basis warm-starts the next plan of the same shape (a fleet's plans share it): about half the
 * simplex work of a cold start, the same optimum.
 */
export async function highs(): Promise<Highs> {
  if (loaded) return loaded;
  loading ??= loadHighs().then((module: HighsModule) => {
    const solver = module.raw.createModel();
    solver.setOptionValue('output_flag', false);
    solver.setOptionValue('presolve', 'off');
    solver.setOptionValue('time_limit', SOLVE_TIME_LIMIT_S);
    loaded = { module, solver };
    return loaded;
  });
  return loading;
}

function check(input: PlanInput): number {
  const n = input.importPrice.length;
  const { battery: b } = input;
  if (n < 1) throw new RangeError('plan: importPrice must have at least one step');
  if (!(input.stepHours > 0 && input.stepHours <= 24)) throw new RangeError('plan: stepHours must be in (0, 24]');
  for (const [name, a] of [['loadKW', input.loadKW], ['exportPrice', input.exportPrice], ['pvKW', input.pvKW], ['intensity', input.intensity],
    ['setpointKW', input.setpointKW], ['importLimitKW', input.importLimitKW], ['exportLimitKW', input.exportLimitKW]] as const) {
    if (a && a.length !== n) throw new RangeError(`plan: ${name} has ${a.length} steps, importPrice ${n}`);
  }
  if (!(b.capacityKWh > 0) || !(b.powerKW >= 0)) throw new RangeError('plan: battery capacity must be > 0 and power ≥ 0');
  for (const eff of [b.chargeEfficiency, b.dischargeEfficiency]) if (!(eff > 0 && eff <= 1)) throw new RangeError('plan: efficiencies must be in (0, 1]');
  return n;
}
/** Mean of an array-like (0 when empty). */
function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length ? s / a.length : 0;
}

/**
 * Column and row layout of one step: c d g e s, then u (with a reserve) and w (with an upper SoC target below the
 * capacity); rows balance, dynamics, then reserve and upper when present. Soft-bound rows and slacks are left out
 * when their bound cannot bind (reserve 0, upper = capacity): a smaller LP solves faster.
 */
function layout(input: PlanInput) {
  const b = input.battery;
  const reserve = Math.min(b.reserveKWh ?? 0, b.capacityKWh);
  const upper = Math.min(b.maxSoCKWh ?? b.capacityKWh, b.capacityKWh);
  const hasReserve = reserve > 0, hasUpper = upper < b.capacityKWh;
  return { reserve, upper, hasReserve, hasUpper, cols: 5 + Number(hasReserve) + Number(hasUpper), rows: 2 + Number(hasReserve) + Number(hasUpper) };
}

/** The HiGHS model (column-wise sparse) of a plan; exported for the benchmark's bare-LP reference and for tests. */
export function buildModel(input: PlanInput) {
  const n = check(input);
  const b = input.battery;
  const dt = input.stepHours;
  const etaC = b.chargeEfficiency, etaD = b.dischargeEfficiency;
  const { reserve, upper, hasReserve, hasUpper, cols, rows } = layout(input);
  const s0 = Math.min(Math.max(input.initialSoCKWh, 0), b.capacityKWh);
  const k = (input.carbonPrice ?? 0) * 1e-6;
  const deg = input.degradationCost ?? 0;
  const penalty = input.softPenalty ?? 10;
  const terminal = input.terminalValue ?? etaD * mean(input.importPrice);
  const numCols = n * cols, numRows = n * rows;
  const colCost = new Float64Array(numCols), colLower = new Float64Array(numCols), colUpper = new Float64Array(numCols);
  const rowLower = new Float64Array(numRows), rowUpper = new Float64Array(numRows);
  // nonzeros per step: c 2, d 2, g 1, e 1, s 2–4 (own dynamics, reserve, upper, next dynamics), u 1, w 1
  const nnz = n * (8 + 2 * (Number(hasReserve) + Number(hasUpper)));
  const starts = new Int32Array(numCols + 1), indices = new Int32Array(nnz), values = new Float64Array(nnz);
  let p = 0;
  const put = (row: number, v: number) => { indices[p] = row; values[p] = v; p++; };
  for (let t = 0; t < n; t++) {
    const load = input.loadKW[t]!, pv = input.pvKW ? input.pvKW[t]! : 0;
    const carbon = input.intensity ? k * input.intensity[t]! : 0;
    const exp = input.exportPrice ? input.exportPrice[t]! : 0;
    const c = t * cols, r = t * rows;
    const rb = r, rd = r + 1, rr = r + 2, ru = r + 2 + Number(hasReserve);
    const lim = stepLimits(input, t);
    const impCap = input.importLimitKW?.[t] ?? null, expCap = input.exportLimitKW?.[t] ?? null;
    // c
    starts[c] = p; put(rb, -1); put(rd, -etaC * dt);
    colCost[c] = (deg - (lim.toward === 'charge' ? penalty : 0)) * dt; colUpper[c] = lim.maxChargeKW;
    // d
    starts[c + 1] = p; put(rb, 1); put(rd, dt / etaD);
    colCost[c + 1] = (deg - (lim.toward === 'discharge' ? penalty : 0)) * dt; colUpper[c + 1] = lim.maxDischargeKW;
    // g: never more than the load plus a full charge (keeps the LP bounded whatever the tariff)
    starts[c + 2] = p; put(rb, 1);
    colCost[c + 2] = (input.importPrice[t]! + carbon) * dt;
    colUpper[c + 2] = Math.min(Math.max(0, load - pv) + b.powerKW, impCap === null ? Infinity : Math.max(impCap, load - pv, 0));
    // e
    starts[c + 3] = p; put(rb, -1);
    colCost[c + 3] = -(exp + carbon) * dt;
    colUpper[c + 3] = Math.min(input.noExport ? Math.max(0, pv - load) : Math.max(0, pv - load) + (b.dischargePowerKW ?? b.powerKW),
      expCap === null ? Infinity : Math.max(expCap, pv - load, 0));
    // s (rows in increasing order: own dynamics, reserve, upper, next step's dynamics)
    starts[c + 4] = p; put(rd, 1);
    if (hasReserve) put(rr, 1);
    if (hasUpper) put(ru, 1);
    if (t + 1 < n) put(rd + rows, -1);
    colUpper[c + 4] = b.capacityKWh; colCost[c + 4] = t === n - 1 ? -terminal : 0;
    let next = c + 5;
    if (hasReserve) { starts[next] = p; put(rr, 1); colCost[next] = penalty; colUpper[next] = b.capacityKWh; next++; }
    if (hasUpper) { starts[next] = p; put(ru, -1); colCost[next] = penalty; colUpper[next] = b.capacityKWh; }
    rowLower[rb] = rowUpper[rb] = load - pv;
    rowLower[rd] = rowUpper[rd] = t === 0 ? s0 : 0;
    if (hasReserve) { rowLower[rr] = reserve; rowUpper[rr] = Infinity; }
    if (hasUpper) { rowLower[ru] = -Infinity; rowUpper[ru] = upper; }
  }
  starts[numCols] = p;
  return {
    numCols, numRows, colCost, colLower, colUpper, rowLower, rowUpper,
    matrix: { format: 'csc' as const, numRows, numCols, starts, indices: indices.subarray(0, p), values: values.subarray(0, p) },
  };
}

/** Reads a plan out of a solved column vector (`cols` columns per step). */
function planFrom(x: ArrayLike<number>, n: number, cols: number, objective: number): Plan {
  const plan: Plan = { method: 'lp', chargeKW: [], dischargeKW: [], importKW: [], exportKW: [], socKWh: [], objective };
  const clean = (v: number) => (Math.abs(v) < 1e-9 ? 0 : v);
  for (let t = 0; t < n; t++) {
    const c = t * cols;
    plan.chargeKW.push(clean(x[c]!)); plan.dischargeKW.push(clean(x[c + 1]!));
    // simultaneous import and export only ever happens when export pays more than import: report the net
    const net = x[c + 2]! - x[c + 3]!;
    plan.importKW.push(clean(Math.max(0, net))); plan.exportKW.push(clean(Math.max(0, -net)));
    plan.socKWh.push(clean(x[c + 4]!));
  }
  return plan;
}

/**
 * Plans one battery with HiGHS, synchronously, on an already loaded instance (see `highs()`). When the solver
 * fails or does not prove optimality, the rule (src/fleet/optimizer/rule.ts) plans instead, and the plan says so
 * (`method: 'rule-fallback'`, `fallbackReason`). Throws RangeError on malformed input (lengths, efficiencies).
 */
export function planWith(h: Highs, input: PlanInput): Plan {
  const n = check(input);
  let reason: string;
  try {
    const model = buildModel(input);
    const { solver, module } = h;
    solver.setOptionValue('time_limit', input.timeLimitS ?? SOLVE_TIME_LIMIT_S);
    if (solver.passModel(model).status === -1) reason = 'HiGHS refused the model';
    else if (h.warm && h.warm.cols === model.numCols && h.warm.rows === model.numRows && solver.setBasis({ colStatus: h.warm.colStatus, rowStatus: h.warm.rowStatus }).status === -1) reason = 'HiGHS refused the warm-start basis';
    else if (solver.zeroAllClocks().status === -1 || solver.run().status === -1) reason = 'HiGHS returned an error';
    else if (solver.getModelStatus() !== module.constants.modelStatus.optimal) reason = `HiGHS model status ${solver.getModelStatus()} (not optimal)`;
    else {
      const sol = solver.getSolution();
      if (sol.status === -1) reason = 'HiGHS gave no solution';
      else {
        const basis = solver.getBasis();
        h.warm = basis.status === -1 ? undefined : { cols: model.numCols, rows: model.numRows, colStatus: basis.value.colStatus, rowStatus: basis.value.rowStatus };
        return planFrom(sol.value.colValue, n, layout(input).cols, solver.getObjectiveValue());
      }
    }
  } catch (err) {
    reason = `HiGHS failed: ${(err as Error).message}`;
  }
  return { ...ruleDispatch(input), fallbackReason: reason };
}

/**
 * The LP's objective ($) evaluated for any plan of the same input (a rule plan, a hand-made one): energy cost, carbon
 * cost, degradation, soft-bound penalties and the terminal SoC value, with the grid exchange of each step netted.
 * Used to compare plans on the LP's own terms (tests, the savings report).
 */
export function planObjective(input: PlanInput, plan: Pick<Plan, 'chargeKW' | 'dischargeKW' | 'socKWh'>): number {
  const n = check(input), dt = input.stepHours, b = input.battery;
  const reserve = Math.min(b.reserveKWh ?? 0, b.capacityKWh), upper = Math.min(b.maxSoCKWh ?? b.capacityKWh, b.capacityKWh);
  const k = (input.carbonPrice ?? 0) * 1e-6, deg = input.degradationCost ?? 0, penalty = input.softPenalty ?? 10;
  const terminal = input.terminalValue ?? b.dischargeEfficiency * mean(input.importPrice);
  let obj = 0;
  for (let t = 0; t < n; t++) {
    const c = plan.chargeKW[t]!, d = plan.dischargeKW[t]!, s = plan.socKWh[t]!;
    const grid = input.loadKW[t]! - (input.pvKW ? input.pvKW[t]! : 0) + c - d;
    const carbon = input.intensity ? k * input.intensity[t]! : 0;
    const exp = input.exportPrice ? input.exportPrice[t]! : 0;
    obj += dt * (grid > 0 ? (input.importPrice[t]! + carbon) * grid : (exp + carbon) * grid);
    const toward = stepLimits(input, t).toward;
    obj += dt * deg * (c + d) + penalty * (Math.max(0, reserve - s) + Math.max(0, s - upper));
    obj -= dt * penalty * (toward === 'charge' ? c : toward === 'discharge' ? d : 0);
  }
  return obj - terminal * plan.socKWh[n - 1]!;
}

/** Plans one battery (see planWith); loads HiGHS on first use in this thread. */
export async function plan(input: PlanInput): Promise<Plan> {
  return planWith(await highs(), input);
}

/** Plans many batteries in one call (the unit of work sent to a worker thread). */
export async function planMany(inputs: PlanInput[]): Promise<Plan[]> {
  const h = await highs();
  return inputs.map((i) => planWith(h, i));
}
