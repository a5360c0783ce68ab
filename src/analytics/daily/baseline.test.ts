import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { baselineDates, compareDays } from './baseline.ts';
import { dayMetrics, type DayHours } from './day-metrics.ts';

const H = 3_600_000;

/** A 24-hour day with flat demand `mw` (null hours where `gaps` says), SUN and NG as given, flat intensity. */
function day(date: string, mw: number, opts: { gaps?: number[]; sun?: number; ng?: number; intensity?: number } = {}) {
  const ts = Array.from({ length: 24 }, (_, i) => new Date(Date.parse(`${date}T07:00:00Z`) + i * H));
  const col = (v: number) => ts.map((_, i) => (opts.gaps?.includes(i) ? null : v));
  const hours: DayHours = {
    ts, demand: col(mw), forecast: col(mw * 1.1), totalInterchange: col(-10),
    fuels: { SUN: col(opts.sun ?? 0), NG: col(opts.ng ?? mw) }, intensity: col(opts.intensity ?? 400),
  };
  return { date, metrics: dayMetrics(hours) };
}

const metric = (rows: ReturnType<typeof compareDays>, name: string) => rows.find((r) => r.metric === name)!;

describe('baseline', () => {
  it('compares with the same weekday of the four weeks before and the same date a year earlier', () => {
    assert.deepEqual(baselineDates('2025-08-01'), { priorWeeks: ['2025-07-25', '2025-07-18', '2025-07-11', '2025-07-04'], lastYear: '2024-08-01' });
  });

  it('gives the mean of the prior weeks and last year, as differences and percentages', () => {
    const rows = compareDays(
      day('2025-08-01', 1200, { sun: 300, ng: 900, intensity: 300 }),
      [day('2025-07-25', 1000), day('2025-07-18', 1100), day('2025-07-11', 900), day('2025-07-04', 1000)],
      day('2024-08-01', 1500, { intensity: 500 }));
    const energy = metric(rows, 'demandEnergy');
    assert.equal(energy.value, 28_800);
    assert.equal(energy.unit, 'MWh');
    // prior mean = 24 × 1000
    assert.deepEqual(energy.priorWeeks, { value: 24_000, diff: 4_800, pct: 20, days: ['2025-07-25', '2025-07-18', '2025-07-11', '2025-07-04'] });
    assert.deepEqual(energy.lastYear, { value: 36_000, diff: -7_200, pct: -20, days: ['2024-08-01'] });
    const share = metric(rows, 'renewableShare');
    assert.equal(share.value, 0.25);
    assert.deepEqual(share.priorWeeks, { value: 0, diff: 0.25, pct: null, days: ['2025-07-25', '2025-07-18', '2025-07-11', '2025-07-04'] });
    const intensity = metric(rows, 'avgIntensity');
    assert.equal(intensity.priorWeeks!.diff, -100);
    assert.equal(intensity.lastYear!.pct, -40);
    assert.deepEqual(metric(rows, 'netInterchange').priorWeeks!.value, -240);
  });

  it('leaves days with missing hours out of sums, and says why a comparison is null', () => {
    const rows = compareDays(
      day('2025-08-01', 1000),
      [day('2025-07-25', 900, { gaps: [3] }), day('2025-07-18', 1100)],
      day('2024-08-01', 0, { gaps: Array.from({ length: 24 }, (_, i) => i) }));
    const energy = metric(rows, 'demandEnergy');
    // 2025-07-25 misses an hour: not usable for a sum, so only 2025-07-18 counts
    assert.deepEqual(energy.priorWeeks, { value: 26_400, diff: -2_400, pct: (-2_400 / 26_400) * 100, days: ['2025-07-18'] });
    assert.equal(energy.lastYear, null);
    assert.match(energy.reasons.lastYear!, /2024-08-01/);
    // a peak still counts with one hour missing
    assert.deepEqual(metric(rows, 'peakDemand').priorWeeks!.days, ['2025-07-25', '2025-07-18']);
  });

  it('compares nothing when the day itself lacks data', () => {
    const rows = compareDays(day('2025-08-01', 0, { gaps: Array.from({ length: 24 }, (_, i) => i) }), [day('2025-07-25', 900)], day('2024-08-01', 1000));
    for (const r of rows) {
      assert.equal(r.priorWeeks, null, r.metric);
      assert.equal(r.lastYear, null, r.metric);
      assert.ok(r.reasons.priorWeeks, r.metric);
    }
  });
});
