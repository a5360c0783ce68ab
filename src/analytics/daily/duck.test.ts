import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { duckDay, duckTrend, leastSquaresSlope, netLoad, type NetLoadHour } from './duck.ts';

const ts = Array.from({ length: 24 }, (_, i) => new Date(Date.UTC(2025, 3, 1, 7 + i)));
const localHours = Array.from({ length: 24 }, (_, i) => i);

function hoursOf(values: ReadonlyArray<number | null>): NetLoadHour[] {
  return values.map((v, i) => ({ ts: ts[i]!, demandMw: v, solarMw: 0, windMw: 0, netLoadMw: v }));
}

// a duck: 1000 MW all day, the belly dips to 400 at 13:00, the evening peaks at 1600 at 19:00
const duck: (number | null)[] = Array.from({ length: 24 }, (_, h) => (h === 13 ? 400 : h >= 10 && h <= 15 ? 600 : h === 19 ? 1600 : h >= 17 && h <= 21 ? 1400 : 1000));

describe('duck curve', () => {
  it('net load is demand minus solar minus wind, null when a reported series is missing', () => {
    const hours = netLoad(ts.slice(0, 3), [1000, 1000, null], { SUN: [300, null, 0], WND: [100, 50, 0], SNB: [10, 0, 0], NG: [500, 500, 500] });
    assert.deepEqual(hours.map((h) => h.netLoadMw), [590, null, null]);
    assert.deepEqual(hours.map((h) => h.solarMw), [310, null, 0]);
    // a BA without solar or wind series: net load = demand
    assert.equal(netLoad(ts.slice(0, 1), [800], { NG: [800] })[0]!.netLoadMw, 800);
  });

  it('scores the belly against the evening peak by hand', () => {
    const d = duckDay('2025-04-01', hoursOf(duck), localHours);
    assert.equal(d.bellyMw, 400);
    assert.equal(d.bellyAt, ts[13]!.toISOString());
    assert.equal(d.eveningPeakMw, 1600);
    assert.equal(d.eveningPeakAt, ts[19]!.toISOString());
    assert.equal(d.rampMw, 1200);
    assert.equal(d.score, 0.75);
  });

  it('gives no score when a window hour is missing, or the day is empty', () => {
    const gap = [...duck];
    gap[18] = null;
    assert.equal(duckDay('2025-04-01', hoursOf(gap), localHours).score, null);
    assert.equal(duckDay('2025-04-01', [], []).score, null);
  });

  it('the score does not change when every value is scaled', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 1, max: 1e5, noNaN: true }), { minLength: 24, maxLength: 24 }), fc.double({ min: 0.001, max: 1000, noNaN: true }),
      (values, k) => {
        const a = duckDay('d', hoursOf(values), localHours).score!;
        const b = duckDay('d', hoursOf(values.map((v) => v * k)), localHours).score!;
        return Math.abs(a - b) < 1e-9 && a < 1;
      }));
  });

  it('the trend is the least-squares slope of the daily scores', () => {
    assert.equal(leastSquaresSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.equal(leastSquaresSlope([{ x: 0, y: 1 }]), null);
    const days = ['2025-04-01', '2025-04-02', '2025-04-04'].map((date, i) => ({ date, score: [0.5, 0.6, 0.8][i]!, bellyMw: 0, bellyAt: null, eveningPeakMw: 0, eveningPeakAt: null, rampMw: 0 }));
    const trend = duckTrend([...days, { ...days[0]!, date: '2025-04-05', score: null }]);
    assert.equal(trend.days, 3);
    // x = 0, 1, 3; y = .5, .6, .8 → slope = Σ(x−4/3)(y−.6333) / Σ(x−4/3)² = 0.7 / 4.6667 = 0.1
    assert.ok(Math.abs(trend.slopePerDay! - 0.1) < 1e-12);
    fc.assert(fc.property(fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true }), (m, c) => {
      const slope = leastSquaresSlope([0, 1, 2, 5, 9].map((x) => ({ x, y: m * x + c })))!;
      return Math.abs(slope - m) < 1e-9;
    }));
  });
});
