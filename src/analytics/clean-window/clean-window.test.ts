import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cleanWindow, formatDuration, isTied, parseDurationMinutes, type TimedPoint } from './clean-window.ts';

const H = 3_600_000;
const T0 = Date.parse('2025-08-01T00:00:00Z');
const hourly = (values: Array<number | null>): TimedPoint[] => values.map((value, i) => ({ start: T0 + i * H, durationMinutes: 60, value }));

describe('clean window: hand-computed', () => {
  it('finds the 3-hour window with the lowest average and compares with running now', () => {
    // windows of 3 h: [300,200,100]=200, [200,100,100]=133.3, [100,100,400]=200, [100,400,500]=333.3
    const r = cleanWindow(hourly([300, 200, 100, 100, 400, 500]), { durationMinutes: 180, from: T0, to: T0 + 6 * H, count: 2 });
    assert.deepEqual(r.optimal.map((w) => [w.start, w.end]), [[T0 + H, T0 + 4 * H]]);
    assert.ok(Math.abs(r.optimal[0]!.avg - 400 / 3) < 1e-9);
    // best non-overlapping: [1,4) first; every other window ([0,3), [2,5), [3,6)) overlaps it
    assert.equal(r.best.length, 1);
    assert.equal(r.runNow!.avg, 200);
    assert.ok(Math.abs(r.runNow!.savingsPct! - ((200 - 400 / 3) / 200) * 100) < 1e-9);
    assert.equal(r.candidates, 4);
  });

  it('returns every tied window', () => {
    const r = cleanWindow(hourly([5, 1, 9, 1, 7, 1]), { durationMinutes: 60, from: T0, to: T0 + 6 * H, count: 3 });
    assert.deepEqual(r.optimal.map((w) => (w.start - T0) / H), [1, 3, 5]);
    assert.deepEqual(r.best.map((w) => (w.start - T0) / H), [1, 3, 5]);
  });

  it('weights partial hours by time (90-minute job)', () => {
    // start 0: (100 × 60 + 200 × 30) / 90 = 133.3; start 1: (200 × 60 + 40 × 30) / 90 = 146.7; start 2: needs hour 3, absent
    const r = cleanWindow(hourly([100, 200, 40]), { durationMinutes: 90, from: T0, to: T0 + 3 * H, count: 1 });
    assert.equal(r.candidates, 2);
    assert.ok(Math.abs(r.optimal[0]!.avg - 12_000 / 90) < 1e-9);
  });

  it('skips windows over missing hours and gaps', () => {
    const pts = hourly([100, null, 50, 60, 70]).filter((p) => p.start !== T0 + 3 * H); // null at 1, gap at 3
    const r = cleanWindow(pts, { durationMinutes: 120, from: T0, to: T0 + 5 * H, count: 3 });
    assert.equal(r.candidates, 0);
    assert.equal(r.runNow, null);
  });

  it('parses and formats ISO 8601 durations', () => {
    assert.equal(parseDurationMinutes('PT3H'), 180);
    assert.equal(parseDurationMinutes('PT1H30M'), 90);
    assert.equal(parseDurationMinutes('P1D'), 1440);
    for (const bad of ['3H', 'P', 'PT', 'PT3X', 'P1W']) assert.equal(parseDurationMinutes(bad), undefined, bad);
    assert.equal(formatDuration(180), 'PT3H');
    assert.equal(formatDuration(90), 'PT1H30M');
    assert.equal(formatDuration(45), 'PT45M');
  });
});

/** Brute force: expand every point to minutes and average every aligned start's minutes directly. */
function bruteForce(points: TimedPoint[], minutes: number, to: number) {
  const byMinute = new Map<number, number | null>();
  for (const p of points) for (let m = 0; m < p.durationMinutes; m++) byMinute.set(p.start + m * 60_000, p.value);
  const avgs: Array<{ start: number; avg: number }> = [];
  for (const p of points) {
    if (p.start + minutes * 60_000 > to) continue;
    let sum = 0, ok = true;
    for (let m = 0; m < minutes && ok; m++) {
      const v = byMinute.get(p.start + m * 60_000);
      if (v === undefined || v === null) ok = false; else sum += v;
    }
    if (ok) avgs.push({ start: p.start, avg: sum / minutes });
  }
  if (avgs.length === 0) return [];
  const min = Math.min(...avgs.map((a) => a.avg));
  return avgs.filter((a) => isTied(a.avg, min)).map((a) => a.start).sort((a, b) => a - b);
}

describe('clean window: properties', () => {
  const pointsArb = fc.array(fc.option(fc.integer({ min: 0, max: 20 }).map((v) => v * 25), { nil: null, freq: 8 }), { minLength: 1, maxLength: 30 })
    .chain((values) => fc.subarray(values.map((v, i) => i), { minLength: 1 }).map((kept) => kept.map((i) => ({ start: T0 + i * H, durationMinutes: 60, value: values[i]! }))));

  it('the optimum equals a brute-force search, ties included', () => {
    fc.assert(fc.property(pointsArb, fc.integer({ min: 15, max: 300 }), (points, minutes) => {
      const to = T0 + 30 * H;
      const r = cleanWindow(points, { durationMinutes: minutes, from: T0, to, count: 3 });
      assert.deepEqual(r.optimal.map((w) => w.start), bruteForce(points, minutes, to));
    }), { numRuns: 300 });
  });

  it('best windows never overlap and start with an optimal one', () => {
    fc.assert(fc.property(pointsArb, fc.integer({ min: 30, max: 240 }), fc.integer({ min: 1, max: 5 }), (points, minutes, count) => {
      const r = cleanWindow(points, { durationMinutes: minutes, from: T0, to: T0 + 30 * H, count });
      assert.ok(r.best.length <= count);
      if (r.optimal.length) assert.deepEqual(r.best[0], r.optimal[0]);
      for (const a of r.best) for (const b of r.best) if (a !== b) assert.ok(a.end <= b.start || b.end <= a.start);
    }), { numRuns: 200 });
  });
});
