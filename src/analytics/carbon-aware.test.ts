import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sdkForecast } from './carbon-aware.ts';
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
