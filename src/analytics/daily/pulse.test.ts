import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dailyPulse } from './pulse.ts';
import { dayMetrics, forecastError, type DayHours } from './day-metrics.ts';
import { compareDays } from './baseline.ts';
import { localDay, localDateOf, sameDateLastYear, isCalendarDate, latestCompleteDay, addDays } from '../../grid/local-day.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { seedHours } from './daily-test-support.ts';
import { consumptionPoints, loadSystemAt } from '../intensity/intensity.ts';
import { hourStarts } from '../shared/hourly.ts';

const H = 3_600_000;
const hoursFrom = (iso: string, n: number) => Array.from({ length: n }, (_, i) => new Date(Date.parse(iso) + i * H));

describe('BA-local days', () => {
  it('2025-03-09 in Los Angeles has 23 hours, 2025-11-02 has 25', () => {
    const spring = localDay('2025-03-09', 'America/Los_Angeles');
    assert.equal(spring.from.toISOString(), '2025-03-09T08:00:00.000Z');
    assert.equal(spring.to.toISOString(), '2025-03-10T07:00:00.000Z');
    assert.equal(spring.hours, 23);
    const fall = localDay('2025-11-02', 'America/Los_Angeles');
    assert.equal(fall.from.toISOString(), '2025-11-02T07:00:00.000Z');
    assert.equal(fall.to.toISOString(), '2025-11-03T08:00:00.000Z');
    assert.equal(fall.hours, 25);
    assert.equal(localDay('2025-07-01', 'America/New_York').from.toISOString(), '2025-07-01T04:00:00.000Z');
    assert.equal(localDay('2025-03-09', 'America/Phoenix').hours, 24);
  });

  it('every local day starts and ends on its own date, with 23 to 25 hours', () => {
    const zones = ['America/Los_Angeles', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Phoenix', 'Pacific/Honolulu', 'America/Anchorage'];
    fc.assert(fc.property(fc.date({ min: new Date('2016-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }), fc.constantFrom(...zones), (d, tz) => {
      const date = d.toISOString().slice(0, 10);
      const day = localDay(date, tz);
      return [23, 24, 25].includes(day.hours) && localDateOf(day.from, tz) === date
        && localDateOf(new Date(day.to.getTime() - 1), tz) === date && localDateOf(day.to, tz) !== date;
    }));
  });

  it('maps 29 February to 28 February a year earlier; validates dates; yesterday is the latest complete day', () => {
    assert.equal(sameDateLastYear('2024-02-29'), '2023-02-28');
    assert.equal(sameDateLastYear('2025-08-01'), '2024-08-01');
    assert.equal(isCalendarDate('2025-02-30'), false);
    assert.equal(isCalendarDate('2025-2-3'), false);
    assert.equal(isCalendarDate('2024-02-29'), true);
    // 05:00 UTC on 1 August is still 31 July in Los Angeles
    assert.equal(latestCompleteDay(new Date('2025-08-01T05:00:00Z'), 'America/Los_Angeles'), '2025-07-30');
  });
});

describe('daily metrics', () => {
  const ts = hoursFrom('2025-08-01T07:00:00Z', 4);
  const day: DayHours = {
    ts,
    demand: [100, 300, null, 200],
    forecast: [110, 270, 50, null],
    totalInterchange: [10, -20, null, 5],
    fuels: { SUN: [0, 50, null, 30], NG: [100, 250, null, 170], BAT: [-10, 10, null, 0] },
    intensity: [490, 400, null, 430],
  };

  it('computes every metric by hand, counting missing hours without filling them', () => {
    const m = dayMetrics(day);
    assert.equal(m.hours, 4);
    assert.deepEqual(m.missingHours, { demand: 1, forecast: 1, fuels: 1, intensity: 1, interchange: 1 });
    // demand misses 1 of 4 hours: extremes stand (a quarter may miss), the day's energy does not (a sum needs every hour)
    assert.deepEqual(m.demand, { peakMw: 300, peakAt: ts[1]!.toISOString(), minMw: 100, minAt: ts[0]!.toISOString(), energyMwh: null });
    assert.equal(m.reasons['demand.energyMwh'], 'demand missing for 1 of 4 hours (needs every hour)');
    // hours 0 and 1 have both: APE 10/100 and 30/300 → 10 %; bias (10 − 30) / 400 → −5 % …
    const error = forecastError(day.demand, day.forecast);
    assert.ok(Math.abs(error.mapePct! - 10) < 1e-9);
    assert.ok(Math.abs(error.biasPct! + 5) < 1e-9);
    // … but 2 of 4 hours compared is less than all but a quarter: the day's forecast error is null, with why
    assert.deepEqual(m.forecast, { mapePct: null, biasPct: null, hoursCompared: 2 });
    assert.equal(m.reasons['forecast.mapePct'], 'demand or its day-ahead forecast missing for 2 of 4 hours (needs all but a quarter of the hours)');
    // positive generation: SUN 80, NG 520, BAT 10 (charging −10 left out) → 610; each fuel misses hour 2: no day's MWh
    assert.deepEqual(m.mix.map((f) => [f.fuel, f.mwh, f.share]), [['NG', null, 520 / 610], ['SUN', null, 80 / 610], ['BAT', null, 10 / 610]]);
    assert.ok(Math.abs(m.renewableShare! - 80 / 610) < 1e-12);
    assert.ok(Math.abs(m.carbonFreeShare! - 80 / 610) < 1e-12);
    assert.equal(m.intensity.avg, 440);
    assert.deepEqual(m.intensity.cleanest, { ts: ts[1]!.toISOString(), value: 400 });
    assert.deepEqual(m.intensity.dirtiest, { ts: ts[0]!.toISOString(), value: 490 });
    assert.equal(m.netInterchangeMwh, null);
    assert.equal(m.reasons.netInterchangeMwh, 'total interchange missing for 1 of 4 hours (needs every hour)');
    // complete: every figure, no reason
    const full = dayMetrics({ ...day, demand: [100, 300, 250, 200], totalInterchange: [10, -20, 0, 5] });
    assert.equal(full.demand.energyMwh, 850);
    assert.equal(full.netInterchangeMwh, -5);
    assert.equal(full.reasons['demand.energyMwh'], undefined);
  });

  it('a day with 23 of 24 demand hours missing gives no energy, no peak, and the same reason in pulse and baseline', () => {
    const hours = hoursFrom('2025-08-01T07:00:00Z', 24);
    const demand = hours.map((_, i) => (i === 5 ? 900 : null));
    const nulls = hours.map(() => null);
    const sparse = dayMetrics({ ts: hours, demand, forecast: nulls, totalInterchange: nulls, fuels: {}, intensity: nulls });
    assert.deepEqual(sparse.demand, { peakMw: null, peakAt: null, minMw: null, minAt: null, energyMwh: null });
    assert.equal(sparse.reasons['demand.energyMwh'], 'demand missing for 23 of 24 hours (needs every hour)');
    assert.equal(sparse.reasons['demand.peakMw'], 'demand missing for 23 of 24 hours (needs all but a quarter of the hours)');
    const full = dayMetrics({ ts: hours, demand: hours.map(() => 1_000), forecast: nulls, totalInterchange: nulls, fuels: {}, intensity: nulls });
    const energy = compareDays({ date: '2025-08-01', metrics: sparse }, [{ date: '2025-07-25', metrics: full }], { date: '2024-08-01', metrics: full })
      .find((b) => b.metric === 'demandEnergy')!;
    assert.equal(energy.value, null);
    assert.equal(energy.reasons.value, sparse.reasons['demand.energyMwh']);
    assert.equal(energy.priorWeeks, null);
  });

  it('gives nulls, not zeros, for a day without data', () => {
    const empty = dayMetrics({ ts, demand: [null, null, null, null], forecast: [null, null, null, null], totalInterchange: [null, null, null, null], fuels: {}, intensity: [null, null, null, null] });
    assert.equal(empty.demand.energyMwh, null);
    assert.equal(empty.demand.peakMw, null);
    assert.equal(empty.forecast.mapePct, null);
    assert.equal(empty.renewableShare, null);
    assert.equal(empty.intensity.avg, null);
    assert.equal(empty.netInterchangeMwh, null);
    assert.equal(empty.missingHours.demand, 4);
  });

  it('MAPE is zero exactly when the forecast equals demand, and bias is the sign of the error', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 1, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 25 }), fc.double({ min: 0.5, max: 2, noNaN: true }), (d, k) => {
      const same = forecastError(d, d);
      const scaled = forecastError(d, d.map((v) => v * k));
      return same.mapePct === 0 && same.biasPct === 0 && Math.abs(scaled.mapePct! - Math.abs(k - 1) * 100) < 1e-6 && Math.abs(scaled.biasPct! - (k - 1) * 100) < 1e-6;
    }));
  });
});

for (const target of testDatabases()) {
  describe(`Daily Pulse on the consumption basis on ${target.name}`, () => {
    let db: Db;
    const DATE = '2025-08-14';
    const WEEK_BEFORE = addDays(DATE, -7);
    const day = localDay(DATE, 'America/Los_Angeles');
    const before1 = localDay(WEEK_BEFORE, 'America/Los_Angeles');
    const now = new Date('2025-08-20T12:00:00Z');
    const n = day.hours;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // The day: PACW coal 100 exports 50 MW to BPAT (wind 100) every hour, both sides report.
      // The week before: PACW exports 20 MW to BPAT (wind 80).
      for (const [d, wind, flow] of [[day, 100, 50], [before1, 80, 20]] as const) {
        await seedHours(db, 'BPAT', 'demand', '', d.from, new Array(n).fill(150));
        await seedHours(db, 'BPAT', 'generation_by_fuel', 'WND', d.from, new Array(n).fill(wind));
        await seedHours(db, 'PACW', 'generation_by_fuel', 'COL', d.from, new Array(n).fill(100));
        await seedHours(db, 'PACW', 'ba_interchange', 'BPAT', d.from, new Array(n).fill(flow));
        await seedHours(db, 'BPAT', 'ba_interchange', 'PACW', d.from, new Array(n).fill(-flow));
      }
      // Another island, simulated: not connected to BPAT, so neither read nor named as a source.
      await seedHours(db, 'ERCO', 'generation_by_fuel', 'NG', day.from, new Array(n).fill(500), 'simulated');
      await seedHours(db, 'ERCO', 'ba_interchange', 'SWPP', day.from, new Array(n).fill(100), 'simulated');
      await seedHours(db, 'SWPP', 'generation_by_fuel', 'WND', day.from, new Array(n).fill(300), 'simulated');
    });
    after(async () => { await db.close(); });

    it('traces the BA\'s imports on the day and its comparison days (hand-computed)', async () => {
      const p = (await dailyPulse(db, 'BPAT', { date: DATE, basis: 'consumption', now }))!;
      // (100 · 11 + 50 · 820) / 150 = 42 100 / 150; the week before (80 · 11 + 20 · 820) / 100 = 172.8
      assert.ok(Math.abs(p.intensity.avg! - 42_100 / 150) < 1e-9, String(p.intensity.avg));
      assert.equal(p.missingHours.intensity, 0);
      assert.equal(p.source, 'eia');
      const avg = p.baseline.find((m) => m.metric === 'avgIntensity')!;
      assert.deepEqual(avg.priorWeeks?.days, [WEEK_BEFORE]);
      assert.ok(Math.abs(avg.priorWeeks!.value - 172.8) < 1e-9, String(avg.priorWeeks!.value));
      const production = (await dailyPulse(db, 'BPAT', { date: DATE, basis: 'production', now }))!;
      assert.equal(production.intensity.avg, 11);
    });

    it('gives every hour what tracing the whole system gives', async () => {
      const p = (await dailyPulse(db, 'BPAT', { date: DATE, basis: 'consumption', now }))!;
      const whole = consumptionPoints(await loadSystemAt(db, hourStarts(day.from, day.to)), 'lifecycle').get('BPAT')!;
      const values = whole.map((x) => x.value!);
      assert.equal(p.intensity.avg, values.reduce((a, b) => a + b, 0) / values.length);
      assert.equal(p.intensity.cleanest?.value, Math.min(...values));
    });
  });
}
