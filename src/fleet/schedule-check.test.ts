import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkSchedule, type DeviceLimits } from './schedule-check.ts';
import type { ScheduleInterval } from './messages.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const MIN = 60_000;
const at = (minutes: number) => new Date(NOW + minutes * MIN).toISOString();
const battery: DeviceLimits = {
  capacityKwh: 10, maxChargeKw: 5, maxDischargeKw: 5, chargeEfficiency: 0.95, dischargeEfficiency: 0.95,
  minSocPct: 5, maxSocPct: 100, reserveSocPct: 10, fallback: 'hold-soc',
};

/**
 * The reference: the battery simulated minute by minute (the agent's model, written independently of the range
 * arithmetic under test). The index of the first interval that takes the SoC above maxSoc (charging) or below
 * the reserve (discharging), or -1. `jump` moves the SoC during fallback gaps (self-consumption).
 */
function simulate(intervals: readonly ScheduleInterval[], d: DeviceLimits, start: number, jump: (s: number) => number = (s) => s): number {
  let s = start;
  let t = NOW;
  for (let i = 0; i < intervals.length; i++) {
    const iv = intervals[i]!;
    const from = Date.parse(iv.start);
    const to = Date.parse(iv.end);
    if (from > t) s = jump(s);
    for (let m = from; m < to; m += MIN) {
      const h = Math.min(MIN, to - m) / 3_600_000;
      const T = iv.targetSoc;
      if (iv.action === 'charge') {
        if (T !== undefined && s >= T) continue;
        s += (iv.powerKw! * h * d.chargeEfficiency / d.capacityKwh) * 100;
        if (T !== undefined) s = Math.min(s, T);
        else if (s > d.maxSocPct + 1e-7) return i;
      } else if (iv.action === 'discharge') {
        if (T !== undefined && s <= T) continue;
        s -= (iv.powerKw! * h / d.dischargeEfficiency / d.capacityKwh) * 100;
        if (T !== undefined) s = Math.max(s, T);
        else if (s < d.reserveSocPct - 1e-7) return i;
      } else if (iv.action === 'hold-soc') {
        const p = iv.powerKw;
        if (s < T!) s = Math.min(T!, s + (Math.min(p ?? d.maxChargeKw, d.maxChargeKw) * h * d.chargeEfficiency / d.capacityKwh) * 100);
        else s = Math.max(T!, s - (Math.min(p ?? d.maxDischargeKw, d.maxDischargeKw) * h / d.dischargeEfficiency / d.capacityKwh) * 100);
      }
    }
    t = to;
  }
  return -1;
}

const deviceArb = fc.record({
  capacityKwh: fc.double({ min: 2, max: 40, noNaN: true }),
  maxChargeKw: fc.double({ min: 1, max: 12, noNaN: true }),
  maxDischargeKw: fc.double({ min: 1, max: 12, noNaN: true }),
  chargeEfficiency: fc.double({ min: 0.8, max: 1, noNaN: true }),
  dischargeEfficiency: fc.double({ min: 0.8, max: 1, noNaN: true }),
  minSocPct: fc.integer({ min: 0, max: 10 }),
  reserveSocPct: fc.integer({ min: 10, max: 30 }),
  maxSocPct: fc.integer({ min: 80, max: 100 }),
  fallback: fc.constantFrom('hold-soc' as const, 'idle' as const),
});

/** Ordered, non-overlapping whole-minute intervals (with gaps) starting in the future, within the device's power limits. */
const intervalsArb = (d: DeviceLimits) => fc.array(fc.record({
  gap: fc.integer({ min: 0, max: 90 }),
  minutes: fc.integer({ min: 1, max: 240 }),
  action: fc.constantFrom('charge' as const, 'discharge' as const, 'idle' as const, 'hold-soc' as const),
  power: fc.double({ min: 0.05, max: 1, noNaN: true }),
  target: fc.option(fc.integer({ min: d.reserveSocPct, max: d.maxSocPct }), { nil: undefined }),
}), { minLength: 1, maxLength: 12 }).map((parts) => {
  let t = 1;
  return parts.map((p): ScheduleInterval => {
    const start = t + p.gap;
    t = start + p.minutes;
    const limit = p.action === 'discharge' ? d.maxDischargeKw : d.maxChargeKw;
    const iv: ScheduleInterval = { start: at(start), end: at(t), action: p.action };
    if (p.action === 'charge' || p.action === 'discharge') iv.powerKw = p.power * limit;
    if (p.action === 'hold-soc') iv.targetSoc = p.target ?? d.reserveSocPct;
    else if (p.target !== undefined && p.action !== 'idle') iv.targetSoc = p.target;
    return iv;
  });
});

describe('schedule feasibility', () => {
  it('refuses a discharge that would cross the reserve, naming the interval, and accepts a charge that fits', () => {
    // 10 kWh at 50 %: discharging 5 kW for 1 h takes 5 / 0.95 = 5.26 kWh = 52.6 points, below the 10 % reserve
    const bad = checkSchedule([{ start: at(10), end: at(70), action: 'discharge', powerKw: 5 }], battery, 50, NOW);
    assert.equal(bad?.field, 'intervals/0/powerKw');
    assert.match(bad!.detail, /below the reserve of 10 %/);
    // charging 5 kW for 1 h adds 5 × 0.95 = 4.75 kWh: 50 → 97.5 %
    assert.equal(checkSchedule([{ start: at(10), end: at(70), action: 'charge', powerKw: 5 }], battery, 50, NOW), null);
    // … but not twice: the second hour names intervals[1]
    const twice = checkSchedule([{ start: at(10), end: at(70), action: 'charge', powerKw: 5 }, { start: at(70), end: at(130), action: 'charge', powerKw: 1 }], battery, 50, NOW);
    assert.equal(twice?.field, 'intervals/1/powerKw');
    // with a stop at 95 % the same is feasible
    assert.equal(checkSchedule([{ start: at(10), end: at(70), action: 'charge', powerKw: 5 }, { start: at(70), end: at(130), action: 'charge', powerKw: 1, targetSoc: 95 }], battery, 50, NOW), null);
  });

  it('names overlaps, the past, power limits, missing fields and over-long schedules', () => {
    const cases: Array<[ScheduleInterval[], string]> = [
      [[{ start: at(10), end: at(70), action: 'idle' }, { start: at(60), end: at(90), action: 'idle' }], 'intervals/1/start'],
      [[{ start: at(-10), end: at(70), action: 'idle' }], 'intervals/0/start'],
      [[{ start: at(10), end: at(10), action: 'idle' }], 'intervals/0/end'],
      [[{ start: at(10), end: at(70), action: 'idle' }, { start: at(70), end: at(80), action: 'charge', powerKw: 5.5 }], 'intervals/1/powerKw'],
      [[{ start: at(10), end: at(70), action: 'charge' }], 'intervals/0/powerKw'],
      [[{ start: at(10), end: at(70), action: 'hold-soc' }], 'intervals/0/targetSoc'],
      [[{ start: at(10), end: at(70), action: 'hold-soc', targetSoc: 5 }], 'intervals/0/targetSoc'],
      [[{ start: at(10), end: at(70), action: 'idle' }, { start: at(8 * 24 * 60), end: at(8 * 24 * 60 + 10), action: 'idle' }], 'intervals/1/end'],
      [[], 'intervals'],
    ];
    for (const [intervals, field] of cases) assert.equal(checkSchedule(intervals, battery, 50, NOW)?.field, field, JSON.stringify(intervals));
  });

  it('from a reported SoC, refuses exactly the schedules the minute-by-minute simulation breaks, at the same interval (fast-check)', () => {
    fc.assert(fc.property(deviceArb.chain((d) => fc.tuple(fc.constant(d), intervalsArb(d), fc.double({ min: d.minSocPct, max: d.maxSocPct, noNaN: true }))),
      ([d, intervals, soc]) => {
        const problem = checkSchedule(intervals, d, soc, NOW);
        const broken = simulate(intervals, d, soc);
        assert.equal(problem === null, broken === -1, `check ${problem?.detail ?? 'ok'} vs simulation ${broken}`);
        if (problem) assert.equal(problem.field.startsWith(`intervals/${broken}/`), true, `${problem.field} vs ${broken}`);
      }), { numRuns: 400 });
  });

  it('with no reported SoC or a self-consumption fallback, an accepted schedule is safe from every SoC the device may hold (fast-check)', () => {
    fc.assert(fc.property(deviceArb.chain((d) => fc.tuple(
      fc.constant({ ...d, fallback: 'self-consumption' as const }), intervalsArb(d),
      fc.option(fc.double({ min: d.minSocPct, max: d.maxSocPct, noNaN: true }), { nil: null }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 13, maxLength: 13 }),
      fc.double({ min: 0, max: 1, noNaN: true }))),
    ([d, intervals, reported, jumps, startAt]) => {
      if (checkSchedule(intervals, d, reported, NOW) !== null) return;
      const start = reported ?? d.minSocPct + startAt * (d.maxSocPct - d.minSocPct);
      let k = 0;
      // self-consumption between intervals may leave the SoC anywhere between the reserve and the maximum
      const jump = () => d.reserveSocPct + jumps[k++ % jumps.length]! * (d.maxSocPct - d.reserveSocPct);
      assert.equal(simulate(intervals, d, start, jump), -1);
    }), { numRuns: 400 });
  });

  it('a problem caused by a limit refuses the schedule from every SoC, so a rollout skips such a device as beyond-limits whatever it reports (fast-check)', () => {
    fc.assert(fc.property(deviceArb.chain((d) => fc.tuple(fc.constant(d), intervalsArb(d), fc.double({ min: 0.5, max: 1.6, noNaN: true }),
      fc.double({ min: d.minSocPct, max: d.maxSocPct, noNaN: true }), fc.double({ min: d.minSocPct, max: d.maxSocPct, noNaN: true }))),
    ([d, base, scale, soc, other]) => {
      // powers scaled up to 1.6× the device's limits: some schedules are beyond them
      const intervals = base.map((iv) => (iv.powerKw === undefined ? iv : { ...iv, powerKw: iv.powerKw * scale }));
      const problem = checkSchedule(intervals, d, soc, NOW);
      if (problem?.kind === 'device') assert.ok(problem.cause === 'limit' || problem.cause === 'soc', problem.detail);
      if (problem?.cause !== 'limit') return;
      assert.notEqual(checkSchedule(intervals, d, other, NOW), null, `refused from ${soc} % (${problem.detail}) but accepted from ${other} %`);
      assert.notEqual(checkSchedule(intervals, d, null, NOW), null);
    }), { numRuns: 400 });
  });
});
