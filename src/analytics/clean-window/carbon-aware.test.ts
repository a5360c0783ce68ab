import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sdkBest, sdkEmissionsData, sdkForecast, sdkTimeSpan } from './carbon-aware.ts';
import { averageOverPeriod } from './clean-window.ts';
import type { TimedPoint } from './clean-window.ts';

const T0 = Date.parse('2025-08-01T12:00:00Z');
const H = 3_600_000;
const points: TimedPoint[] = [300, 250, 100, 120, 400, 380].map((value, i) => ({ start: T0 + i * H, durationMinutes: 60, value }));
const base = { location: 'CISO', points, generatedAt: new Date('2025-08-01T06:00:00Z'), requestedAt: new Date('2025-08-01T11:30:00Z') };

describe('Carbon Aware SDK forecast shape', () => {
  it('returns the SDK EmissionsForecast fields with the optimal window of windowSize minutes', () => {
    // 2-hour windows: 275, 175, 110, 260, 390 → optimum starts at 14:00 with (100 + 120) / 2 = 110
    const f = sdkForecast({ ...base, windowSize: 120 });
    assert.deepEqual(Object.keys(f), ['generatedAt', 'requestedAt', 'location', 'dataStartAt', 'dataEndAt', 'windowSize', 'optimalDataPoints', 'forecastData']);
    assert.deepEqual(f.optimalDataPoints, [{ location: 'CISO', timestamp: '2025-08-01T14:00:00.000Z', duration: 120, value: 110 }]);
    assert.equal(f.dataStartAt, '2025-08-01T12:00:00.000Z');
    assert.equal(f.dataEndAt, '2025-08-01T18:00:00.000Z');
    assert.equal(f.forecastData.length, 6);
    assert.deepEqual(f.forecastData[0], { location: 'CISO', timestamp: '2025-08-01T12:00:00.000Z', duration: 60, value: 300 });
    assert.equal(f.generatedAt, '2025-08-01T06:00:00.000Z');
  });

  it('defaults windowSize to one point and honours dataStartAt / dataEndAt', () => {
    const f = sdkForecast({ ...base, dataStartAt: new Date(T0 + 3 * H), dataEndAt: new Date(T0 + 6 * H) });
    assert.equal(f.windowSize, 60);
    assert.deepEqual(f.forecastData.map((p) => p.value), [120, 400, 380]);
    assert.deepEqual(f.optimalDataPoints.map((p) => [p.timestamp, p.value]), [['2025-08-01T15:00:00.000Z', 120]]);
  });

  it('returns every tied window and none when the job does not fit', () => {
    const flat = points.map((p) => ({ ...p, value: 200 }));
    assert.equal(sdkForecast({ ...base, points: flat, windowSize: 300 }).optimalDataPoints.length, 2);
    assert.deepEqual(sdkForecast({ ...base, windowSize: 600 }).optimalDataPoints, []);
  });
});

describe('Carbon Aware SDK emissions data and average', () => {
  it('writes durations as .NET TimeSpan strings', () => {
    assert.deepEqual([sdkTimeSpan(60), sdkTimeSpan(5), sdkTimeSpan(90), sdkTimeSpan(1440 + 30)], ['01:00:00', '00:05:00', '01:30:00', '1.00:30:00']);
  });

  it('returns the points overlapping [from, to], or the one containing from when to = from', () => {
    const d = sdkEmissionsData('CISO', points, T0 + 1.5 * H, T0 + 3 * H);
    assert.deepEqual(d, [
      { location: 'CISO', time: '2025-08-01T13:00:00.000Z', rating: 250, duration: '01:00:00' },
      { location: 'CISO', time: '2025-08-01T14:00:00.000Z', rating: 100, duration: '01:00:00' },
    ]);
    assert.deepEqual(sdkEmissionsData('CISO', points, T0 + 2.5 * H, T0 + 2.5 * H).map((p) => p.rating), [100]);
    assert.deepEqual(sdkEmissionsData('CISO', [...points.slice(0, 2), { start: T0 + 2 * H, durationMinutes: 60, value: null }], T0, T0 + 3 * H).length, 2);
  });

  it('best keeps every tie, across locations', () => {
    const a = sdkEmissionsData('A', points, T0, T0 + 6 * H), b = sdkEmissionsData('B', points.map((p) => ({ ...p, value: 100 })), T0, T0 + 2 * H);
    assert.deepEqual(sdkBest([...a, ...b]).map((d) => `${d.location}@${d.time.slice(11, 13)}`), ['A@14', 'B@12', 'B@13']);
    assert.deepEqual(sdkBest([]), []);
  });

  it('averages time-weighted with partial hours, and reports the first uncovered instant', () => {
    // 12:30–14:15: 30 min × 300 + 60 min × 250 + 15 min × 100 over 105 min
    assert.deepEqual(averageOverPeriod(points, T0 + 0.5 * H, T0 + 2.25 * H), { value: (30 * 300 + 60 * 250 + 15 * 100) / 105 });
    assert.deepEqual(averageOverPeriod(points, T0 + 0.25 * H, T0 + 0.75 * H), { value: 300 });
    assert.deepEqual(averageOverPeriod(points, T0 + 5 * H, T0 + 7 * H), { gapAt: T0 + 6 * H });
    assert.deepEqual(averageOverPeriod(points, T0 - H, T0 + H), { gapAt: T0 - H });
    const holed = points.map((p, i) => (i === 2 ? { ...p, value: null } : p));
    assert.deepEqual(averageOverPeriod(holed, T0, T0 + 4 * H), { gapAt: T0 + 2 * H });
  });
});
