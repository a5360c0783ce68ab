import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { flatlines, interchangeMismatch, negativeDemand, netGenerationVsFuels, runChecks, spikes, type SeriesHours } from './quality-checks.ts';

const series = (key: string, type: string, subtype: string, values: Array<number | null>, id = 1): SeriesHours =>
  ({ id, key, ba: key.split('.')[0]!, type, subtype, values });
const strip = (f: object) => { const { detail: _d, points: _p, ...rest } = f as Record<string, unknown>; return rest; };
/** 24 hours of 100, 101, 102, 103, …: median 101.5, MAD 1, so a spike needs |x − 101.5| > 8 × 1.4826 = 11.86. */
const base = Array.from({ length: 24 }, (_, h) => 100 + (h % 4));

describe('quality checks (hand-computed fixtures)', () => {
  it('negative demand: one finding per run of negative hours, as point defects; generation may be negative', () => {
    const f = negativeDemand(series('CISO.demand', 'demand', '', [100, -5, -3, 50, -1]));
    assert.deepEqual(f.map(strip), [
      { check: 'negative_demand', severity: 'error', ba: 'CISO', seriesKey: 'CISO.demand', from: 1, to: 2, count: 2 },
      { check: 'negative_demand', severity: 'error', ba: 'CISO', seriesKey: 'CISO.demand', from: 4, to: 4, count: 1 },
    ]);
    assert.deepEqual(f[0]!.points, { seriesId: 1, hours: [1, 2] });
    assert.deepEqual(negativeDemand(series('CISO.fuel.WND', 'generation_by_fuel', 'WND', [-5, -3])), []);
  });

  it('spike: 200 against median 101.5 / MAD 1 that comes back is flagged; a level shift that stays is not', () => {
    const f = spikes(series('CISO.demand', 'demand', '', [...base, 200, 101, 102]), 24);
    assert.equal(f.length, 1);
    assert.deepEqual(strip(f[0]!), { check: 'spike', severity: 'warning', ba: 'CISO', seriesKey: 'CISO.demand', from: 24, to: 24, count: 1 });
    assert.deepEqual((f[0]!.detail.hours as unknown[])[0], { hour: 24, value: 200, median: 101.5, mad: 1 });
    assert.deepEqual(f[0]!.points, { seriesId: 1, hours: [24] });
    assert.deepEqual(spikes(series('CISO.demand', 'demand', '', [...base, 200, 201, 199, 200, 202]), 24), [], 'level shift');
    assert.deepEqual(spikes(series('CISO.demand', 'demand', '', [...base, 113, 101]), 24), [], '113 is within 11.86 of 101.5');
    assert.deepEqual(spikes(series('CISO.demand', 'demand', '', [...base, 114, 101]), 24).map((x) => x.count), [1]);
    assert.deepEqual(spikes(series('CISO.fuel.NG', 'generation_by_fuel', 'NG', [...base, 200, 101]), 24), [], 'single fuels are not judged');
    assert.deepEqual(spikes(series('CISO.net_generation', 'net_generation', '', [...base, 200, 101]), 24).map((x) => x.count), [1]);
    assert.deepEqual(spikes(series('CISO.demand', 'demand', '', [...base, 200]), 24), [], 'not judged until the next hour shows it came back');
  });

  it('flat line: the same value (≥ 10 MW) for 6 hours or more', () => {
    const f = flatlines(series('CISO.net_generation', 'net_generation', '', [50, 70, 70, 70, 70, 70, 70, 80]));
    assert.deepEqual(f.map(strip), [{ check: 'flatline', severity: 'warning', ba: 'CISO', seriesKey: 'CISO.net_generation', from: 1, to: 6, count: 6 }]);
    assert.deepEqual(f[0]!.detail, { value: 70, minHours: 6 });
    assert.equal(f[0]!.points, undefined, 'a flat line is not a point defect');
    assert.deepEqual(flatlines(series('X.demand', 'demand', '', [70, 70, 70, 70, 70, 71])), [], 'five hours');
    assert.deepEqual(flatlines(series('X.demand', 'demand', '', [0, 0, 0, 0, 0, 0, 0])), [], 'zero');
    assert.deepEqual(flatlines(series('X.demand', 'demand', '', [5, 5, 5, 5, 5, 5, 5])), [], 'under 10 MW');
    assert.deepEqual(flatlines(series('X.fuel.NUC', 'generation_by_fuel', 'NUC', [900, 900, 900, 900, 900, 900])), [], 'nuclear');
  });

  it('net generation vs fuels: 12 % apart is flagged, 10 % is not, hours with a missing fuel are skipped', () => {
    const ng = series('CISO.net_generation', 'net_generation', '', [100, 100, 100, 100]);
    const sun = series('CISO.fuel.SUN', 'generation_by_fuel', 'SUN', [50, 50, 50, null], 2);
    const gas = series('CISO.fuel.NG', 'generation_by_fuel', 'NG', [50, 60, 38, 0], 3);
    const f = netGenerationVsFuels(ng, [sun, gas]);
    assert.deepEqual(f.map(strip), [{ check: 'net_generation_vs_fuels', severity: 'warning', ba: 'CISO', seriesKey: 'CISO.net_generation', from: 2, to: 2, count: 1 }]);
    assert.deepEqual(f[0]!.detail.worst, { hour: 2, netGeneration: 100, sumOfFuels: 88, diffPct: 12 });
  });

  it('interchange pairs: same sign and > 10 % apart are flagged, ±1 MW noise is not', () => {
    const ab = series('CISO.interchange.BANC', 'ba_interchange', 'BANC', [100, 100, 100, 50, 0]);
    const ba = series('BANC.interchange.CISO', 'ba_interchange', 'CISO', [-100, -95, 100, -40, -0.5], 2);
    const f = interchangeMismatch(ab, ba);
    assert.deepEqual(f.map(strip), [{ check: 'interchange_mismatch', severity: 'warning', ba: 'CISO', seriesKey: 'CISO.interchange.BANC', from: 2, to: 3, count: 2 }]);
    assert.deepEqual({ sign: f[0]!.detail.signDisagreements, size: f[0]!.detail.sizeDisagreements }, { sign: 1, size: 1 });
    // runChecks finds the pair from both sides
    assert.deepEqual(runChecks([ab, ba], [ab, ba]).map((x) => x.seriesKey).sort(), ['BANC.interchange.CISO', 'CISO.interchange.BANC']);
  });
});

const hourValues = (min: number, max: number) => fc.array(fc.integer({ min, max }), { minLength: 30, maxLength: 80 });

describe('quality checks (properties)', () => {
  it('a constant offset or a power-of-two scale never creates or removes spikes', () => {
    fc.assert(fc.property(hourValues(0, 5000), fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom(0.5, 1, 2, 4), (values, offset, scale) => {
      const hoursOf = (vs: number[]) => spikes(series('X.demand', 'demand', '', vs), 24).flatMap((f) => f.points!.hours);
      assert.deepEqual(hoursOf(values.map((v) => v * scale + offset)), hoursOf(values));
    }));
  });

  it('a constant series never spikes, whatever its level', () => {
    fc.assert(fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 25, max: 100 }), (c, n) => {
      assert.deepEqual(spikes(series('X.demand', 'demand', '', new Array(n).fill(c))), []);
    }));
  });

  it('checks never change the values they judge', () => {
    fc.assert(fc.property(fc.array(hourValues(-500, 5000), { minLength: 2, maxLength: 5 }), (arrays) => {
      const list = arrays.map((vs, i) => series(`X.${i}`, i === 0 ? 'net_generation' : 'generation_by_fuel', i === 0 ? '' : `F${i}`, Object.freeze(vs.map((v) => (v % 7 === 0 ? null : v))) as number[], i + 1));
      const before = JSON.stringify(list);
      runChecks(list, list);
      assert.equal(JSON.stringify(list), before);
    }));
  });
});
