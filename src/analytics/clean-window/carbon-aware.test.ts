import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sdkBest, sdkEmissionsData, sdkForecast, sdkHours, sdkTimeSpan, type SdkEmissionsForecast } from './carbon-aware.ts';
import { averageOverPeriod } from './clean-window.ts';
import type { TimedPoint } from './clean-window.ts';

const T0 = Date.parse('2025-08-01T12:00:00Z');
const H = 3_600_000;
const points: TimedPoint[] = [300, 250, 100, 120, 400, 380].map((value, i) => ({ start: T0 + i * H, durationMinutes: 60, value }));
const base = { location: 'CISO', points, generatedAt: new Date('2025-08-01T06:00:00Z'), requestedAt: new Date('2025-08-01T11:30:00Z') };

/** The answer, or a failed assertion naming the problem. */
function forecast(input: Parameters<typeof sdkForecast>[0]): SdkEmissionsForecast {
  const f = sdkForecast(input);
  if ('problem' in f) assert.fail(`unexpected problem: ${f.problem.field}: ${f.problem.detail}`);
  return f;
}

describe('Carbon Aware SDK forecast windows', () => {
  it('returns the SDK EmissionsForecast fields, forecastData as windows of windowSize and the optimal window', () => {
    // 2-hour windows from 12:00 stepping one hour: 275, 175, 110, 260, 390 → optimum starts at 14:00 with (100 + 120) / 2 = 110
    const f = forecast({ ...base, windowSize: 120 });
    assert.deepEqual(Object.keys(f), ['generatedAt', 'requestedAt', 'location', 'dataStartAt', 'dataEndAt', 'windowSize', 'optimalDataPoints', 'forecastData']);
    assert.deepEqual(f.optimalDataPoints, [{ location: 'CISO', timestamp: '2025-08-01T14:00:00.000Z', duration: 120, value: 110 }]);
    assert.equal(f.dataStartAt, '2025-08-01T12:00:00.000Z');
    assert.equal(f.dataEndAt, '2025-08-01T18:00:00.000Z');
    assert.deepEqual(f.forecastData.map((p) => [p.timestamp.slice(11, 16), p.duration, p.value]),
      [['12:00', 120, 275], ['13:00', 120, 175], ['14:00', 120, 110], ['15:00', 120, 260], ['16:00', 120, 390]]);
    assert.equal(f.generatedAt, '2025-08-01T06:00:00.000Z');
  });

  it("reproduces the SDK's own RollingAverage examples (EmissionsDataExtensions.cs: 5-minute data, 10-minute window)", () => {
    const fiveMinutes = (values: number[]) => values.map((value, i) => ({ start: T0 + i * 300_000, durationMinutes: 5, value }));
    const windows = (values: number[]) => forecast({ ...base, points: fiveMinutes(values), windowSize: 10 }).forecastData.map((p) => p.value);
    assert.deepEqual(windows([10, 20, 30, 40, 5]), [15, 25, 35, 22.5]);
    assert.deepEqual(windows([5, 55, 10, 10, 10]), [30, 32.5, 10, 10]);
    assert.deepEqual(windows([12, 11, 10, 12, 13]), [11.5, 10.5, 11, 12.5]);
  });

  it('starts windows at dataStartAt (even between points), weights partial points by time, and never runs past dataEndAt', () => {
    // 12:30–14:00 (90 min): 30 × 300 + 60 × 250; then 13:30: 30 × 250 + 60 × 100; 14:30: 30 × 100 + 60 × 120; 15:30 would end 17:00 > 16:45
    const f = forecast({ ...base, dataStartAt: new Date(T0 + 0.5 * H), dataEndAt: new Date(T0 + 4.75 * H), windowSize: 90 });
    assert.deepEqual(f.forecastData.map((p) => [p.timestamp.slice(11, 16), p.value]),
      [['12:30', (30 * 300 + 60 * 250) / 90], ['13:30', (30 * 250 + 60 * 100) / 90], ['14:30', (30 * 100 + 60 * 120) / 90]]);
    assert.deepEqual(f.optimalDataPoints.map((p) => p.timestamp.slice(11, 16)), ['14:30']);
    assert.equal(f.dataEndAt, '2025-08-01T16:45:00.000Z');
  });

  it('defaults windowSize to one point: the points inside [dataStartAt, dataEndAt]', () => {
    const f = forecast({ ...base, dataStartAt: new Date(T0 + 3 * H), dataEndAt: new Date(T0 + 6 * H) });
    assert.equal(f.windowSize, 60);
    assert.deepEqual(f.forecastData.map((p) => [p.value, p.duration]), [[120, 60], [400, 60], [380, 60]]);
    assert.deepEqual(f.optimalDataPoints.map((p) => [p.timestamp, p.value]), [['2025-08-01T15:00:00.000Z', 120]]);
  });

  it('returns every tied window; none when the job is longer than the span; skips windows over a gap', () => {
    const flat = points.map((p) => ({ ...p, value: 200 }));
    assert.equal(forecast({ ...base, points: flat, windowSize: 300 }).optimalDataPoints.length, 2);
    assert.deepEqual(forecast({ ...base, windowSize: 420 }).forecastData, []);
    assert.deepEqual(forecast({ ...base, windowSize: 420 }).optimalDataPoints, []);
    const holed = points.map((p, i) => (i === 2 ? { ...p, value: null } : p));
    assert.deepEqual(forecast({ ...base, points: holed, windowSize: 120 }).forecastData.map((p) => p.timestamp.slice(11, 13)), ['12', '15', '16']);
  });

  it('names dataStartAt or dataEndAt when it lies outside the forecast, or when the span is empty', () => {
    const problem = (over: Partial<Parameters<typeof sdkForecast>[0]>) => {
      const f = sdkForecast({ ...base, ...over });
      return 'problem' in f ? f.problem.field : 'answered';
    };
    assert.equal(problem({ dataStartAt: new Date(T0 - 1) }), 'dataStartAt');
    assert.equal(problem({ dataStartAt: new Date(T0 + 6 * H + 1) }), 'dataStartAt');
    assert.equal(problem({ dataEndAt: new Date(T0 + 6 * H + 1) }), 'dataEndAt');
    assert.equal(problem({ dataEndAt: new Date(T0 - H) }), 'dataEndAt');
    assert.equal(problem({ dataStartAt: new Date(T0 + 2 * H), dataEndAt: new Date(T0 + 2 * H) }), 'dataEndAt');
    // dataStartAt at the forecast's end leaves nothing before the default dataEndAt: the field given is at fault
    assert.equal(problem({ dataStartAt: new Date(T0 + 6 * H) }), 'dataStartAt');
    // the bounds themselves are inside, as in the SDK's EmissionsForecast.Validate
    assert.equal(problem({ dataStartAt: new Date(T0), dataEndAt: new Date(T0 + 6 * H) }), 'answered');
  });

  it('every window starts at dataStartAt plus whole steps, lasts windowSize and ends by dataEndAt (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 5 * 60 }), fc.integer({ min: 1, max: 6 * 60 }), fc.integer({ min: 1, max: 400 }),
      (startMinute, spanMinutes, windowSize) => {
        const dataStartAt = T0 + startMinute * 60_000;
        const dataEndAt = Math.min(T0 + 6 * H, dataStartAt + spanMinutes * 60_000);
        const f = sdkForecast({ ...base, dataStartAt: new Date(dataStartAt), dataEndAt: new Date(dataEndAt), windowSize });
        if ('problem' in f) return dataEndAt <= dataStartAt;
        const expected = Math.max(0, Math.floor((dataEndAt - dataStartAt - windowSize * 60_000) / H) + 1);
        return f.forecastData.length === expected && f.forecastData.every((p, k) =>
          Date.parse(p.timestamp) === dataStartAt + k * H && p.duration === windowSize && Date.parse(p.timestamp) + windowSize * 60_000 <= dataEndAt
          && p.value >= 100 && p.value <= 400);
      }));
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

  it("reproduces the SDK's AverageOverPeriod example (01:30–03:30 over hours 30, 100, 50 → 30/4 + 100/2 + 50/4)", () => {
    const hourly = [30, 100, 50].map((value, i) => ({ start: T0 + i * H, durationMinutes: 60, value }));
    assert.deepEqual(averageOverPeriod(hourly, T0 + 0.5 * H, T0 + 2.5 * H), { value: 30 / 4 + 100 / 2 + 50 / 4 });
  });

  it('turns hours whose consumption-based value lacks its interchange into gaps that say why', () => {
    const ts = (i: number) => new Date(T0 + i * H);
    const hours = sdkHours([
      { ts: ts(0), value: 415.5, flags: [] },
      { ts: ts(1), value: 11, flags: ['interchange-missing'] },
      { ts: ts(2), value: 300, flags: ['neighbour-missing', 'pair-mismatch'] },
      { ts: ts(3), value: null, flags: ['no-fuel-data'] },
    ]);
    assert.deepEqual(hours.map((h) => [h.value, h.incomplete]), [[415.5, undefined], [null, ['interchange-missing']], [300, undefined], [null, undefined]]);
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
