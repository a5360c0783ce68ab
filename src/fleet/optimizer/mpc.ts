import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import { metricsOf, once, type Metrics } from '../../platform/metrics.ts';
import { offLoop } from '../../platform/off-loop.ts';
import { HOUR_MS } from '../../grid/time.ts';
import { localHourOf } from '../../grid/local-day.ts';
import { getBa } from '../../grid/ba-repository.ts';
import type { ScheduleInterval } from '../messages.ts';
import { plan as planHere, type Battery, type Plan, type PlanInput } from './lp.ts';
import { planningPriceSeries, readPrices } from '../prices/price-repository.ts';
import { tariffPrices, tariffSchema, type Tariff } from '../prices/tariff.ts';
import { storedIntensityForecasts } from './intensity-source.ts';
import { activeEventOverrides, type HourOverride } from '../../openadr/event-overrides.ts';
import { groupsOf } from '../device-groups.ts';
import { OPTIMIZER_PRIORITY } from './fleet-issuer.ts';

/**
 * Model predictive control of one battery (src/fleet/optimizer/mpc.ts): at every re-plan the device's plan is made
 * again from now on what is known now — its tariff's prices (published hours only), the newest stored intensity
 * forecast of its BA, its last reported SoC, the OpenADR events aimed at it (src/openadr/event-overrides.ts: PRICE
 * and EXPORT_PRICE override the tariff's prices, GHG the intensity, DISPATCH_SETPOINT and capacity limits constrain
 * the LP) — and the plan becomes the device's next schedule. A re-plan is skipped when none of those inputs changed
 * since the last stored plan (same fingerprint), so an event created or changed re-plans its devices at the next run.
 */

/** Plans on a worker thread (src/platform/off-loop.ts); HiGHS loads once per thread. */
export const planOffLoop = offLoop(new URL('./lp.ts', import.meta.url).href, 'plan', planHere);

/** Seconds, for one device's solve (HiGHS on a worker thread: milliseconds to a few seconds). */
export const SOLVE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const SOLVE_OUTCOMES = ['optimal', 'rule_fallback', 'error'] as const;
const REPLAN_OUTCOMES = ['planned', 'unchanged', 'no_prices', 'outranked', 'failed'] as const;

/**
 * The optimizer's metrics of a registry: `gridpulse_optimizer_solves_total{outcome}` — `optimal` (the LP's plan),
 * `rule_fallback` (the solver failed and the rule planned: lp.ts), `error` (the solve threw) —,
 * `gridpulse_optimizer_solve_duration_seconds{outcome}` and `gridpulse_optimizer_replan_devices_total{outcome}` (the
 * re-plan job's devices: planned, unchanged, no_prices, outranked, failed). Every label starts at 0 (the alert rules'
 * ratios and increases need the series before the first event); called at startup by the roles that plan.
 */
export function optimizerMetrics(m: Metrics) {
  const solves = m.counter('gridpulse_optimizer_solves_total', 'optimizer solves by outcome (optimal, rule_fallback, error)', ['outcome']);
  const duration = m.histogram('gridpulse_optimizer_solve_duration_seconds', 'one device\'s optimizer solve, seconds, by outcome', ['outcome'], SOLVE_BUCKETS);
  const replanDevices = m.counter('gridpulse_optimizer_replan_devices_total',
    'devices of the re-plan job by outcome (planned, unchanged, no_prices, outranked, failed; fallbacks are planned by the rule)', ['outcome']);
  if (once(m, 'optimizer')) {
    for (const outcome of SOLVE_OUTCOMES) { solves.inc({ outcome }, 0); duration.zero({ outcome }); }
    for (const outcome of REPLAN_OUTCOMES) replanDevices.inc({ outcome }, 0);
  }
  return { solves, duration, replanDevices };
}

/** Runs one solve and counts it (optimizerMetrics) in the registry attached to `db` (none attached: not measured). */
export async function solveMeasured(db: Db, solve: () => Promise<Plan>): Promise<Plan> {
  const m = metricsOf(db);
  const started = performance.now();
  const count = (outcome: typeof SOLVE_OUTCOMES[number]) => {
    if (!m) return;
    const { solves, duration } = optimizerMetrics(m);
    solves.inc({ outcome });
    duration.observe({ outcome }, (performance.now() - started) / 1000);
  };
  try {
    const p = await solve();
    count(p.method === 'lp' ? 'optimal' : 'rule_fallback');
    return p;
  } catch (err) {
    count('error');
    throw err;
  }
}

/** What the MPC needs of a device (the fleet's devices table, or a test's). Percentages are of the capacity. */
export interface DeviceState {
  id: string;
  battery: Battery;
  /** last reported SoC, percent (null: never reported → the reserve) */
  socPct: number | null;
  baCode: string | null;
  /** the home's expected load, kW (0: the battery plans against the grid alone) */
  loadKW?: number;
  /** the device's group ids and names, for OpenADR GROUP targets (read from device_group_members when absent) */
  groups?: readonly string[];
}

/** Hands a plan's intervals to the fleet's distribution (fleet-core's schedule creation); resolves with the version. */
export type ScheduleIssuer = (deviceId: string, intervals: ScheduleInterval[], note: string) => Promise<{ version: number } | null>;

export interface MpcDeps {
  db: Db;
  logger: Pick<Logger, 'info' | 'warn'>;
  issue: ScheduleIssuer;
  /** the planner (default: on a worker thread) */
  plan?: (input: PlanInput) => Promise<Plan>;
  /** false: no OpenADR event is active (replanFleet checks once per run), so the per-device event query is skipped */
  events?: boolean;
}

export const STEP_MINUTES = 60;
export const HORIZON_HOURS = 36;
/** Below this many kW a step is idle. */
const IDLE_KW = 0.01;

/** SoC limits of the schedule, percent of the capacity: a target never leaves [reservePct, maxPct]. */
export interface SocLimits { reservePct: number; maxPct: number }

/**
 * A plan as schedule intervals (gridpulse.schedule/1): per step the net battery power — charge minus discharge,
 * both can happen within a step at negative prices — as `charge`/`discharge` with `powerKw`, `idle` under 10 W;
 * consecutive steps with the same action and power (to 10 W) merge. `targetSoc` stops a charge or discharge at
 * the plan's SoC at the end of the interval (percent, kept within the device's reserve and maximum, so the
 * fleet's feasibility check holds from any start). The first interval starts at `notBefore` when the step is
 * already under way (a schedule never starts in the past); a remainder under a minute is dropped.
 */
export function planToIntervals(plan: Pick<Plan, 'chargeKW' | 'dischargeKW' | 'socKWh'>, start: Date, stepMinutes: number, capacityKWh: number,
  limits: SocLimits = { reservePct: 0, maxPct: 100 }, notBefore: Date = start): ScheduleInterval[] {
  const out: ScheduleInterval[] = [];
  const stepMs = stepMinutes * 60_000;
  for (let t = 0; t < plan.chargeKW.length; t++) {
    const net = plan.chargeKW[t]! - plan.dischargeKW[t]!;
    const action: ScheduleInterval['action'] = Math.abs(net) < IDLE_KW ? 'idle' : net > 0 ? 'charge' : 'discharge';
    const powerKw = action === 'idle' ? undefined : Math.round(Math.abs(net) * 100) / 100;
    const socPct = Math.round((plan.socKWh[t]! / capacityKWh) * 1000) / 10;
    const targetSoc = Math.min(limits.maxPct, Math.max(limits.reservePct, socPct));
    const fromMs = Math.max(start.getTime() + t * stepMs, notBefore.getTime()), toMs = start.getTime() + (t + 1) * stepMs;
    if (toMs - fromMs < 60_000) continue;
    const from = new Date(fromMs).toISOString(), to = new Date(toMs).toISOString();
    const last = out.at(-1);
    if (last && last.action === action && last.powerKw === powerKw) {
      last.end = to;
      if (action !== 'idle') last.targetSoc = targetSoc;
    } else out.push({ start: from, end: to, action, ...(powerKw !== undefined ? { powerKw, targetSoc } : {}) });
  }
  return out;
}

/** The fingerprint of a plan's inputs: prices, intensities, SoC (to 1 %), the first hour, and event setpoints and limits. */
export function fingerprint(input: PlanInput, start: Date): string {
  const round = (a: ArrayLike<number | null> | null | undefined) => (a ? Array.from(a, (v) => (v === null ? null : Math.round(v * 1e5))) : null);
  const socPct = Math.round((input.initialSoCKWh / input.battery.capacityKWh) * 100);
  return createHash('sha256').update(JSON.stringify([start.toISOString(), socPct, round(input.importPrice), round(input.exportPrice), round(input.intensity), input.carbonPrice ?? 0, input.battery,
    round(input.setpointKW), round(input.importLimitKW), round(input.exportLimitKW)])).digest('hex').slice(0, 32);
}

/** Whether any OpenADR event is active at or after `now` (one query per fleet run; false when the VTN's table is absent). */
export async function anyActiveEvent(db: Db, now: Date): Promise<boolean> {
  const [exists] = await db.query<{ t: string | null }>(`SELECT to_regclass('openadr_objects')::text AS t`);
  if (!exists?.t) return false;
  return (await db.query(`SELECT 1 FROM openadr_objects WHERE object_type = 'EVENT' AND (ends_at IS NULL OR ends_at > $1) LIMIT 1`, [now])).length > 0;
}

/** One hour's override field per hour of `hours` (null where no event sets it). */
function perHour(overrides: ReadonlyMap<number, HourOverride>, hours: readonly Date[], field: Exclude<keyof HourOverride, 'hour' | 'eventIds'>): Array<number | null> | undefined {
  const out = hours.map((h) => overrides.get(h.getTime())?.[field] ?? null);
  return out.some((v) => v !== null) ? out : undefined;
}

/** A device's tariff and carbon price (device_tariffs); a flat $0.15/kWh without export credit when none is set. */
async function tariffOf(db: Db, deviceId: string): Promise<{ tariff: Tariff; carbonPrice: number }> {
  const [row] = await db.query<{ tariff: Record<string, unknown> }>('SELECT tariff FROM device_tariffs WHERE device_id = $1', [deviceId]);
  if (!row) return { tariff: { kind: 'flat', price: 0.15, exportCredit: { kind: 'none' } }, carbonPrice: 0 };
  const raw = row.tariff;
  const carbonPrice = typeof raw.carbonPrice === 'number' ? raw.carbonPrice : 0;
  return { tariff: tariffSchema.parse(raw), carbonPrice };
}

/** Power within this many kW (or MATERIAL_POWER_FRACTION of it), and a target within MATERIAL_SOC_PCT points, is the same step. */
const MATERIAL_POWER_KW = 0.1, MATERIAL_POWER_FRACTION = 0.05, MATERIAL_SOC_PCT = 5;
/** A plan still in force is re-issued when it ends sooner than this before the new plan's end (the horizon moves on). */
const HORIZON_REFRESH_MS = 12 * HOUR_MS;

/**
 * Whether `next` is materially the same as `current` from `now` on (source: this module's rule, not a standard):
 * at every 15 minutes from `now` to the end of `next` the two say the same action, powers within
 * max(MATERIAL_POWER_KW, MATERIAL_POWER_FRACTION of it) kW and targets within MATERIAL_SOC_PCT points; and
 * `current` still runs to at least HORIZON_REFRESH_MS before `next` ends (an hour gap counts as idle).
 */
export function materiallySame(current: readonly ScheduleInterval[], next: readonly ScheduleInterval[], now: Date): boolean {
  if (next.length === 0) return current.length > 0;
  const endOf = (l: readonly ScheduleInterval[]) => (l.length ? Date.parse(l.at(-1)!.end) : 0);
  const nextEnd = endOf(next);
  if (endOf(current) < nextEnd - HORIZON_REFRESH_MS) return false;
  const at = (l: readonly ScheduleInterval[], t: number) => l.find((iv) => Date.parse(iv.start) <= t && t < Date.parse(iv.end));
  for (let t = now.getTime(); t < Math.min(nextEnd, endOf(current)); t += 15 * 60_000) {
    const a = at(current, t), b = at(next, t);
    const actA = a?.action ?? 'idle', actB = b?.action ?? 'idle';
    if (actA !== actB) return false;
    const pa = a?.powerKw ?? 0, pb = b?.powerKw ?? 0;
    if (Math.abs(pa - pb) > Math.max(MATERIAL_POWER_KW, MATERIAL_POWER_FRACTION * Math.max(pa, pb))) return false;
    if (a?.targetSoc !== undefined && b?.targetSoc !== undefined && Math.abs(a.targetSoc - b.targetSoc) > MATERIAL_SOC_PCT) return false;
  }
  return true;
}

/** The device's desired version when it is still unfinished (queued … executing): its number, priority and intervals. */
async function currentVersion(db: Db, deviceId: string, now: Date): Promise<{ version: number; priority: number; intervals: ScheduleInterval[] } | undefined> {
  const [exists] = await db.query<{ t: string | null }>(`SELECT to_regclass('schedule_versions')::text AS t`);
  if (!exists?.t) return undefined;
  const [row] = await db.query<{ version: number; priority: number; intervals: ScheduleInterval[] }>(
    `SELECT v.version, v.priority, v.intervals FROM devices d JOIN schedule_versions v ON v.device_id = d.id AND v.version = d.desired_version
     WHERE d.id = $1 AND v.state IN ('queued', 'sent', 'acknowledged', 'executing') AND v.ends_at > $2`, [deviceId, now]);
  return row ? { version: Number(row.version), priority: Number(row.priority), intervals: row.intervals } : undefined;
}

export interface ReplanResult {
  /** outranked: an operator's or a market's unfinished schedule (priority above the optimizer's) runs; nothing planned */
  deviceId: string; outcome: 'planned' | 'unchanged' | 'no-prices' | 'outranked'; method?: Plan['method']; version?: number | null; fallbackReason?: string;
  /** the OpenADR events that set an input of the plan */
  eventIds?: string[];
}

/**
 * Re-plans one device from `now` (rounded down to the hour) and issues the plan as its next schedule when the
 * inputs changed (or `force`). Dynamic tariffs plan over the published prices only (from now to the first missing
 * hour, at most HORIZON_HOURS; an hour an OpenADR PRICE event prices counts as published); time-of-use and flat
 * tariffs over HORIZON_HOURS. Carbon is priced with the newest stored intensity forecast of the device's BA made by
 * `now`, a GHG event's value replacing it in its hours. Events are those activeEventOverrides gives for the device
 * (its id, its groups, its BA). The plan is stored (optimizer_plans) with its
 * expected cost against no battery; a solver failure plans by the rule and the stored plan says so.
 */
export async function replanDevice(deps: MpcDeps, device: DeviceState, now: Date, opts: { force?: boolean } = {}): Promise<ReplanResult> {
  const { db } = deps;
  const start = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
  // an operator's or a market dispatch's schedule outranks the optimizer while it runs: no plan, nothing stored (the
  // next run after it ended plans afresh)
  const current = await currentVersion(db, device.id, now);
  if (current && current.priority > OPTIMIZER_PRIORITY) return { deviceId: device.id, outcome: 'outranked', version: current.version };
  const { tariff, carbonPrice } = await tariffOf(db, device.id);
  let hours = Array.from({ length: HORIZON_HOURS }, (_, i) => new Date(start.getTime() + i * HOUR_MS));
  const end = new Date(start.getTime() + HORIZON_HOURS * HOUR_MS);
  const groups = deps.events === false ? [] : device.groups ?? (await groupsOf(db, device.id)).flatMap((g) => [g.id, g.name]);
  const overrides = new Map(deps.events === false ? [] : (await activeEventOverrides(db, { deviceId: device.id, ba: device.baCode ?? undefined, groups }, start, end)).map((o) => [Date.parse(o.hour), o]));
  let wholesale: Array<number | null> | undefined;
  if (tariff.kind === 'dynamic') {
    // an hour priced by an event counts as published; a real-time tariff plans on its node's day-ahead prices
    wholesale = (await readPrices(db, planningPriceSeries(tariff.priceSeries), start, end) ?? []).map((v, i) => overrides.get(start.getTime() + i * HOUR_MS)?.priceUsdPerMwh ?? v);
    const known = wholesale.findIndex((v) => v === null);
    const n = known < 0 ? wholesale.length : known;
    if (n === 0) return { deviceId: device.id, outcome: 'no-prices' };
    hours = hours.slice(0, n); wholesale = wholesale.slice(0, n);
  }
  const prices = tariffPrices(tariff, hours, wholesale, perHour(overrides, hours, 'priceUsdPerMwh'));
  const exportOverride = perHour(overrides, hours, 'exportPriceUsdPerMwh');
  if (exportOverride) prices.exportPrice = hours.map((_, i) => (exportOverride[i] ?? null) === null ? prices.exportPrice?.[i] ?? 0 : exportOverride[i]! / 1000);
  let intensity: number[] | undefined;
  let timeZone = 'UTC';
  if (device.baCode) timeZone = (await getBa(db, device.baCode))?.timeZone ?? 'UTC';
  if (carbonPrice > 0) {
    const f = device.baCode ? await storedIntensityForecasts(db, device.baCode, start, new Date(now.getTime() + 1)) : undefined;
    // a GHG event's value replaces the forecast of its hours
    const values = hours.map((h) => overrides.get(h.getTime())?.ghgGPerKwh ?? (f ? f(now, h) : null));
    const known = values.filter((v): v is number => v !== null);
    if (known.length) {
      const fill = known.reduce((s, v) => s + v, 0) / known.length;
      intensity = values.map((v) => v ?? fill);
    }
  }
  const b = device.battery;
  const input: PlanInput = {
    stepHours: STEP_MINUTES / 60, battery: b,
    initialSoCKWh: device.socPct === null ? b.reserveKWh ?? 0 : (device.socPct / 100) * b.capacityKWh,
    importPrice: prices.importPrice, exportPrice: prices.exportPrice, loadKW: hours.map(() => device.loadKW ?? 0),
    intensity, carbonPrice: intensity ? carbonPrice : 0, localHour: hours.map((h) => localHourOf(h, timeZone)),
    setpointKW: perHour(overrides, hours, 'setpointKw'), importLimitKW: perHour(overrides, hours, 'importLimitKw'), exportLimitKW: perHour(overrides, hours, 'exportLimitKw'),
  };
  const eventIds = [...new Set(hours.flatMap((h) => overrides.get(h.getTime())?.eventIds ?? []))];
  const fp = fingerprint(input, start);
  const [last] = await db.query<{ fingerprint: string }>('SELECT fingerprint FROM optimizer_plans WHERE device_id = $1 ORDER BY made_at DESC, id DESC LIMIT 1', [device.id]);
  if (!opts.force && last?.fingerprint === fp) return { deviceId: device.id, outcome: 'unchanged' };
  const p = await solveMeasured(db, () => (deps.plan ?? planOffLoop)(input));
  const cost = (imp: number[], exp: number[]) => imp.reduce((s, v, i) => s + v * prices.importPrice[i]! - exp[i]! * (prices.exportPrice ? prices.exportPrice[i]! : 0), 0) * input.stepHours;
  const co2 = (imp: number[], exp: number[]) => (intensity ? imp.reduce((s, v, i) => s + ((v - exp[i]!) * intensity![i]!) / 1000, 0) * input.stepHours : null);
  const load = input.loadKW as number[], none = load.map(() => 0);
  const limits = { reservePct: ((b.reserveKWh ?? 0) / b.capacityKWh) * 100, maxPct: ((b.maxSoCKWh ?? b.capacityKWh) / b.capacityKWh) * 100 };
  const intervals = planToIntervals(p, start, STEP_MINUTES, b.capacityKWh, limits, now);
  const note = p.method === 'lp' ? 'optimizer: LP plan' : `optimizer: rule plan (solver failed: ${p.fallbackReason})`;
  if (p.method !== 'lp') deps.logger.warn({ deviceId: device.id, reason: p.fallbackReason }, 'optimizer fell back to the rule');
  // a plan materially the same as the unfinished version the device has is not issued again (SoC drifts by a point
  // every few minutes; a new version each time would only churn the broker and the device)
  const same = !opts.force && current !== undefined && materiallySame(current.intervals, intervals, now);
  const issued = same ? { version: current.version } : await deps.issue(device.id, intervals, note);
  await db.query(
    `INSERT INTO optimizer_plans (device_id, starts_at, step_minutes, method, fallback_reason, fingerprint, cost_usd, no_battery_cost_usd, co2_kg, no_battery_co2_kg, plan)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)`,
    [device.id, start, STEP_MINUTES, p.method, p.fallbackReason ?? null, fp, cost(p.importKW, p.exportKW), cost(load, none), co2(p.importKW, p.exportKW), co2(load, none),
      JSON.stringify({ intervals, socKWh: p.socKWh, importPrice: prices.importPrice, version: issued?.version ?? null, eventIds })]);
  if (same) {
    deps.logger.info({ deviceId: device.id, version: current.version }, 'device re-planned; the plan is materially the same as its current version, none issued');
    return { deviceId: device.id, outcome: 'unchanged', method: p.method, version: current.version, eventIds };
  }
  deps.logger.info({ deviceId: device.id, method: p.method, intervals: intervals.length, version: issued?.version ?? null, eventIds }, 'device re-planned');
  return { deviceId: device.id, outcome: 'planned', method: p.method, version: issued?.version ?? null, eventIds, ...(p.fallbackReason ? { fallbackReason: p.fallbackReason } : {}) };
}

/**
 * The fleet's devices the optimizer plans, from fleet-core's `devices` table (migration 0030): only devices OPTED IN,
 * i.e. with a tariff set (PUT /api/v1/devices/{id}/tariff; DELETE opts out) — a device without one is never planned,
 * whatever its BA. An empty list when those tables do not exist yet. SoC limits: reserve = max(min SoC, reserve
 * SoC), upper = max SoC.
 */
export async function loadDevices(db: Db): Promise<DeviceState[]> {
  const [exists] = await db.query<{ t: string | null; tariffs: string | null }>(`SELECT to_regclass('devices')::text AS t, to_regclass('device_tariffs')::text AS tariffs`);
  if (!exists?.t || !exists.tariffs) return [];
  const rows = await db.query<{ id: string; capacity_kwh: number; max_charge_kw: number; max_discharge_kw: number; charge_efficiency: number; discharge_efficiency: number; min_soc_pct: number; max_soc_pct: number; reserve_soc_pct: number; ba_code: string | null; soc_pct: number | null }>(
    'SELECT id, capacity_kwh, max_charge_kw, max_discharge_kw, charge_efficiency, discharge_efficiency, min_soc_pct, max_soc_pct, reserve_soc_pct, ba_code, soc_pct FROM devices d WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM device_tariffs t WHERE t.device_id = d.id) ORDER BY id');
  return rows.map((r) => ({
    id: r.id, baCode: r.ba_code, socPct: r.soc_pct === null ? null : Number(r.soc_pct),
    battery: {
      capacityKWh: Number(r.capacity_kwh), powerKW: Number(r.max_charge_kw), dischargePowerKW: Number(r.max_discharge_kw),
      chargeEfficiency: Number(r.charge_efficiency), dischargeEfficiency: Number(r.discharge_efficiency),
      reserveKWh: (Math.max(Number(r.min_soc_pct), Number(r.reserve_soc_pct)) / 100) * Number(r.capacity_kwh),
      maxSoCKWh: (Number(r.max_soc_pct) / 100) * Number(r.capacity_kwh),
    },
  }));
}

/**
 * The re-plan job (worker): every device whose inputs changed gets a new plan and schedule. Logs progress every
 * 500 devices with the job id; one device's failure is logged and does not stop the others.
 */
export async function replanFleet(deps: MpcDeps, now = new Date(), devices?: DeviceState[]): Promise<{ planned: number; unchanged: number; noPrices: number; outranked: number; failed: number; fallbacks: number }> {
  const list = devices ?? await loadDevices(deps.db);
  const events = deps.events ?? await anyActiveEvent(deps.db, now);
  const out = { planned: 0, unchanged: 0, noPrices: 0, outranked: 0, failed: 0, fallbacks: 0 };
  for (const [i, d] of list.entries()) {
    try {
      const r = await replanDevice({ ...deps, events }, d, now);
      if (r.outcome === 'planned') { out.planned++; if (r.method !== 'lp') out.fallbacks++; } else if (r.outcome === 'unchanged') out.unchanged++; else if (r.outcome === 'outranked') out.outranked++; else out.noPrices++;
    } catch (err) {
      out.failed++;
      deps.logger.warn({ deviceId: d.id, err: (err as Error).message }, 're-plan failed');
    }
    if ((i + 1) % 500 === 0) deps.logger.info({ done: i + 1, total: list.length }, 're-planning the fleet');
  }
  deps.logger.info({ ...out, total: list.length }, 'fleet re-planned');
  const m = metricsOf(deps.db);
  if (m) {
    const { replanDevices } = optimizerMetrics(m);
    for (const [outcome, n] of [['planned', out.planned], ['unchanged', out.unchanged], ['no_prices', out.noPrices], ['outranked', out.outranked], ['failed', out.failed]] as const) replanDevices.inc({ outcome }, n);
  }
  return out;
}
