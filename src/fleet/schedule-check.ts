import { MAX_INTERVALS, MAX_SCHEDULE_MESSAGE_BYTES, MIN_POWER_KW, scheduleMessageBytes, type ScheduleInterval } from './messages.ts';

/**
 * Whether a device can execute a schedule: the checks behind POST /api/v1/schedules, run before anything is
 * stored or sent. Pure (no I/O), so it runs for 10,000 devices of a rollout in milliseconds and is tested with
 * fast-check properties against a minute-by-minute simulation (schedule-check.test.ts).
 *
 * Energy model (the one the simulated battery of the agent follows): charging at P kW for h hours adds
 * P·h·ηc kWh to the battery; discharging at P kW (delivered) for h hours takes P·h/ηd kWh out of it; SoC in percent
 * of usable capacity. Self-discharge is neglected (< 0.1 %/day for Li-ion home batteries).
 *
 * SoC is tracked as a range [lo, hi] of what the device may hold, so one check holds for every start in it:
 * - the start is the device's last reported SoC; a device that never reported one may hold anything in
 *   [minSoc, maxSoc];
 * - between intervals (and from now until the first) the device runs its fallback: `idle` and `hold-soc` keep
 *   the SoC, `self-consumption` may move it anywhere in [reserveSoc, maxSoc] (so the range widens to cover it).
 * An interval is infeasible when, for some SoC in the range, it would charge above maxSoc or discharge below
 * reserveSoc (the reserve is kept for the home; minSoc is the hardware floor below it). `targetSoc` on a charge
 * or discharge interval is a stop: the device stops at it, which makes the interval feasible from any start.
 */

export interface DeviceLimits {
  capacityKwh: number;
  maxChargeKw: number;
  maxDischargeKw: number;
  /** fraction (0, 1] */
  chargeEfficiency: number;
  /** fraction (0, 1] */
  dischargeEfficiency: number;
  minSocPct: number;
  maxSocPct: number;
  reserveSocPct: number;
  fallback: 'hold-soc' | 'idle' | 'self-consumption';
}

/** A schedule's first problem: the field at fault (`intervals/3/powerKw`, the path style of every problem's `field`) and what is wrong with it. */
export interface ScheduleProblem {
  field: string;
  detail: string;
  /** 'request': wrong whatever the device (overlap, past, length); 'device': beyond this device's limits or SoC */
  kind: 'request' | 'device';
  /** of a 'device' problem: 'limit' beyond the device's power or SoC bounds whatever its SoC; 'soc' its SoC would leave them on the way */
  cause?: 'limit' | 'soc';
}

/**
 * Why one device of a group or fleet schedule cannot take it (the rollout skips it): it never reported a SoC and the
 * schedule is not feasible from every SoC it could hold; its reported SoC would leave its bounds; the schedule is
 * beyond its power or SoC limits whatever its SoC; it runs a higher-priority version; it is no longer active.
 */
export const SKIP_REASONS = ['no-reported-soc', 'soc-infeasible', 'beyond-limits', 'priority-conflict', 'not-active'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export const MAX_HORIZON_MS = 7 * 86_400_000;
export const MAX_LEAD_MS = 30 * 86_400_000;
export const MIN_INTERVAL_MS = 60_000;
/** A first interval may start this much before the server's clock (the caller's clock may run behind). */
export const CLOCK_SKEW_MS = 60_000;
const EPS = 1e-9;
const HOUR_MS = 3_600_000;

export interface SocRange { lo: number; hi: number }

const pct = (n: number) => `${Math.round(n * 100) / 100} %`;

const request = (field: string, detail: string): ScheduleProblem => ({ field, detail: `${field}: ${detail}`, kind: 'request' });

/**
 * Whether the schedule fits the device bus: at most MAX_INTERVALS intervals, and its message as the device will
 * receive it (scheduleMessageBytes) at most `maxBytes`, so it is refused when accepted, never failing at publish time.
 */
export function checkScheduleSize(intervals: readonly ScheduleInterval[], maxBytes = MAX_SCHEDULE_MESSAGE_BYTES): ScheduleProblem | null {
  if (intervals.length > MAX_INTERVALS) return request('intervals', `${intervals.length} intervals: a schedule holds at most ${MAX_INTERVALS}`);
  const bytes = scheduleMessageBytes(intervals);
  if (bytes > maxBytes) return request('intervals', `the schedule message would take ${bytes} bytes; a schedule message takes at most ${maxBytes} bytes (the MQTT packet limit less its headers): send fewer intervals`);
  return null;
}

/** The request-only checks: order, overlaps, durations, in the future, bounded length and size, fields per action. */
export function checkIntervals(intervals: readonly ScheduleInterval[], nowMs: number): ScheduleProblem | null {
  if (intervals.length === 0) return request('intervals', 'at least one interval');
  const tooBig = checkScheduleSize(intervals);
  if (tooBig) return tooBig;
  const first = Date.parse(intervals[0]!.start);
  if (first < nowMs - CLOCK_SKEW_MS) return request('intervals/0/start', `is in the past (now is ${new Date(nowMs).toISOString()})`);
  if (first > nowMs + MAX_LEAD_MS) return request('intervals/0/start', 'starts more than 30 days ahead');
  let prevEnd = -Infinity;
  for (let i = 0; i < intervals.length; i++) {
    const iv = intervals[i]!;
    const s = Date.parse(iv.start);
    const e = Date.parse(iv.end);
    if (e <= s) return request(`intervals/${i}/end`, 'must be after start');
    if (e - s < MIN_INTERVAL_MS) return request(`intervals/${i}/end`, 'an interval lasts at least one minute');
    if (s < prevEnd) return request(`intervals/${i}/start`, `overlaps intervals/${i - 1} (which ends ${intervals[i - 1]!.end}); intervals must be in order and not overlap`);
    if (e - first > MAX_HORIZON_MS) return request(`intervals/${i}/end`, 'a schedule spans at most 7 days from its first start');
    if ((iv.action === 'charge' || iv.action === 'discharge') && !(iv.powerKw !== undefined && iv.powerKw >= MIN_POWER_KW)) {
      return request(`intervals/${i}/powerKw`, iv.powerKw === undefined || iv.powerKw === 0
        ? `required (> 0 kW) for ${iv.action}`
        : `${iv.powerKw} kW is below the ${MIN_POWER_KW} kW (1 W) resolution of schedules: send at least ${MIN_POWER_KW} kW, or idle`);
    }
    if (iv.action === 'idle' && iv.powerKw !== undefined && iv.powerKw !== 0) return request(`intervals/${i}/powerKw`, 'idle takes no power');
    if (iv.action === 'hold-soc' && iv.targetSoc === undefined) return request(`intervals/${i}/targetSoc`, 'required for hold-soc');
    prevEnd = e;
  }
  return null;
}

/**
 * The first problem of a schedule for a device, or null when it is feasible. `startSoc` is the device's last
 * reported SoC (percent), null when it never reported one.
 */
export function checkSchedule(intervals: readonly ScheduleInterval[], d: DeviceLimits, startSoc: number | null, nowMs: number): ScheduleProblem | null {
  const bad = checkIntervals(intervals, nowMs);
  if (bad) return bad;
  const p = checkSoc(intervals, d, startSoc, nowMs);
  // a device that never reported is checked from every SoC it could be at: the refusal says so
  return p && startSoc === null ? { ...p, detail: `${p.detail} (${socAssumption(d)})` } : p;
}

/** What checkSchedule assumes of a device that never reported its SoC (said in refusals and acceptances). */
export const socAssumption = (d: Pick<DeviceLimits, 'minSocPct' | 'maxSocPct'>) =>
  `the device has not reported its SoC yet: checked as if it could start anywhere from its minimum ${d.minSocPct} % to its maximum ${d.maxSocPct} %`;

function checkSoc(intervals: readonly ScheduleInterval[], d: DeviceLimits, startSoc: number | null, nowMs: number): ScheduleProblem | null {
  let range: SocRange = startSoc === null ? { lo: d.minSocPct, hi: d.maxSocPct } : { lo: startSoc, hi: startSoc };
  let t = nowMs;
  for (let i = 0; i < intervals.length; i++) {
    const iv = intervals[i]!;
    const s = Date.parse(iv.start);
    if (s > t) range = fallbackRange(range, d);
    const step = stepInterval(range, iv, d, i);
    if ('field' in step) return step;
    range = step;
    t = Date.parse(iv.end);
  }
  return null;
}

/** The SoC range after running the fallback for some time. */
export function fallbackRange(r: SocRange, d: DeviceLimits): SocRange {
  return d.fallback === 'self-consumption' ? { lo: Math.min(r.lo, d.reserveSocPct), hi: Math.max(r.hi, d.maxSocPct) } : r;
}

/** SoC change of charging at powerKw for ms (percent points, ≥ 0). */
export const chargeDelta = (powerKw: number, ms: number, d: DeviceLimits) => (powerKw * (ms / HOUR_MS) * d.chargeEfficiency / d.capacityKwh) * 100;
/** SoC change of discharging (delivering) powerKw for ms (percent points, ≥ 0). */
export const dischargeDelta = (powerKw: number, ms: number, d: DeviceLimits) => (powerKw * (ms / HOUR_MS) / d.dischargeEfficiency / d.capacityKwh) * 100;

/**
 * One interval applied to a SoC range: the range after it, or the problem it has. Each action's end SoC is a
 * non-decreasing function of its start SoC, so the range's ends map to the new range's ends.
 */
export function stepInterval(r: SocRange, iv: ScheduleInterval, d: DeviceLimits, i: number): SocRange | ScheduleProblem {
  const device = (field: string, detail: string, cause: 'limit' | 'soc' = 'limit'): ScheduleProblem => ({ field: `intervals/${i}/${field}`, detail: `intervals/${i}/${field}: ${detail}`, kind: 'device', cause });
  const ms = Date.parse(iv.end) - Date.parse(iv.start);
  const T = iv.targetSoc;
  switch (iv.action) {
    case 'idle': return r;
    case 'charge': {
      const p = iv.powerKw!;
      if (p > d.maxChargeKw + EPS) return device('powerKw', `${p} kW is above the device's maximum charge power of ${d.maxChargeKw} kW`);
      const delta = chargeDelta(p, ms, d);
      if (T !== undefined) {
        if (T > d.maxSocPct + EPS) return device('targetSoc', `${pct(T)} is above the device's maximum SoC of ${pct(d.maxSocPct)}`);
        const f = (s: number) => (s >= T ? s : Math.min(s + delta, T));
        return { lo: f(r.lo), hi: f(r.hi) };
      }
      if (r.hi + delta > d.maxSocPct + EPS) {
        return device('powerKw', `charging ${p} kW for ${ms / 60_000} min adds ${pct(delta)} and would take the SoC from ${pct(r.hi)} to ${pct(r.hi + delta)}, above the maximum of ${pct(d.maxSocPct)} (give a targetSoc to stop at, or less power)`, 'soc');
      }
      return { lo: r.lo + delta, hi: r.hi + delta };
    }
    case 'discharge': {
      const p = iv.powerKw!;
      if (p > d.maxDischargeKw + EPS) return device('powerKw', `${p} kW is above the device's maximum discharge power of ${d.maxDischargeKw} kW`);
      const delta = dischargeDelta(p, ms, d);
      if (T !== undefined) {
        if (T < d.reserveSocPct - EPS) return device('targetSoc', `${pct(T)} is below the device's reserve SoC of ${pct(d.reserveSocPct)}`);
        const g = (s: number) => (s <= T ? s : Math.max(s - delta, T));
        return { lo: g(r.lo), hi: g(r.hi) };
      }
      if (r.lo - delta < d.reserveSocPct - EPS) {
        return device('powerKw', `discharging ${p} kW for ${ms / 60_000} min takes ${pct(delta)} and would take the SoC from ${pct(r.lo)} to ${pct(r.lo - delta)}, below the reserve of ${pct(d.reserveSocPct)} (give a targetSoc to stop at, or less power)`, 'soc');
      }
      return { lo: r.lo - delta, hi: r.hi - delta };
    }
    case 'hold-soc': {
      const target = T!;
      if (target < d.reserveSocPct - EPS || target > d.maxSocPct + EPS) {
        return device('targetSoc', `${pct(target)} is outside the device's reserve-to-maximum SoC (${pct(d.reserveSocPct)}–${pct(d.maxSocPct)})`);
      }
      const p = iv.powerKw;
      if (p !== undefined && p > Math.max(d.maxChargeKw, d.maxDischargeKw) + EPS) return device('powerKw', `${p} kW is above the device's power limits`);
      const up = chargeDelta(Math.min(p ?? d.maxChargeKw, d.maxChargeKw), ms, d);
      const down = dischargeDelta(Math.min(p ?? d.maxDischargeKw, d.maxDischargeKw), ms, d);
      const h = (s: number) => (s < target ? Math.min(s + up, target) : Math.max(s - down, target));
      return { lo: h(r.lo), hi: h(r.hi) };
    }
  }
}
