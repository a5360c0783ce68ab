import { openTestApp } from '../../test/support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import type { Db } from '../platform/db.ts';
import { backtest, calendarFor, fitModels, predictAhead, quantile, type History } from './forecast-model.ts';
import { forecastFrom, latestForecast, refreshForecasts } from './forecast.ts';
import { readDemandCsv } from '../cli/forecast-command.ts';
import { seedHours } from './daily-test-support.ts';

const H = 3_600_000;
const TZ = 'America/Los_Angeles';

/** `days` of an exactly repeating daily shape (UTC-hour based), weekdays 10 % higher than weekends. */
function periodic(days: number, start = Date.UTC(2025, 0, 6)): History {
  const ts = Array.from({ length: days * 24 }, (_, i) => new Date(start + i * H));
  const y = ts.map((t) => {
    const local = new Date(t.getTime() - 8 * H);
    const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
    return (1000 + 300 * Math.sin((2 * Math.PI * local.getUTCHours()) / 24)) * (weekend ? 1 : 1.1);
  });
  return { ts, y };
}

describe('forecast model', () => {
  it('reproduces an exactly repeating daily and weekly pattern within 2 %', () => {
    const h = periodic(35);
    const calendar = calendarFor([...h.ts, ...Array.from({ length: 48 }, (_, k) => new Date(h.ts.at(-1)!.getTime() + (k + 1) * H))], TZ);
    const from = h.ts.length - 48;
    const models = fitModels(h, calendar, 0, from)!;
    const points = predictAhead(h, calendar, models, from, 48);
    assert.equal(points.length, 48);
    for (const p of points) {
      const actual = h.y[Math.round((p.ts.getTime() - h.ts[0]!.getTime()) / H)]!;
      assert.ok(Math.abs(p.value - actual) / actual < 0.02, `${p.ts.toISOString()}: ${p.value} vs ${actual}`);
      assert.ok(p.low <= p.value && p.value <= p.high);
    }
  });

  it('refuses to fit under two weeks of history, and reports why', () => {
    const h = periodic(20);
    assert.equal(fitModels(h, calendarFor(h.ts, TZ), 0, h.ts.length), undefined);
    assert.equal(forecastFrom({ history: h, source: 'eia' }, TZ, new Date(h.ts.at(-1)!.getTime() + H)), 'under two weeks of usable history');
    assert.equal(forecastFrom({ history: { ts: h.ts, y: h.y.map(() => null) }, source: 'eia' }, TZ, new Date()), 'no data');
    assert.match(forecastFrom({ history: periodic(40), source: 'eia' }, TZ, new Date(Date.UTC(2025, 5, 1))) as string, /older than/);
  });

  it('forecasts 48 h past now, starting right after the data', () => {
    const h = periodic(40);
    const now = new Date(h.ts.at(-1)!.getTime() + 2.5 * H);
    const f = forecastFrom({ history: h, source: 'eia' }, TZ, now);
    assert.ok(typeof f !== 'string');
    assert.equal(f.points[0]!.ts.getTime(), h.ts.at(-1)!.getTime() + H);
    assert.equal(f.points.at(-1)!.ts.getTime(), Math.floor(now.getTime() / H) * H + 47 * H);
  });

  it('scaling the history scales the forecast', () => {
    fc.assert(fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), (k) => {
      const h = periodic(30);
      const scaled = { ts: h.ts, y: h.y.map((v) => v! * k) };
      const now = new Date(h.ts.at(-1)!.getTime() + H);
      const a = forecastFrom({ history: h, source: 'eia' }, TZ, now);
      const b = forecastFrom({ history: scaled, source: 'eia' }, TZ, now);
      if (typeof a === 'string' || typeof b === 'string') return false;
      return a.points.every((p, i) => Math.abs(b.points[i]!.value - p.value * k) <= 1e-6 * Math.abs(p.value * k));
    }), { numRuns: 20 });
  });

  it('interpolates quantiles', () => {
    assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
    assert.equal(quantile([1, 2, 3, 4, 5], 0.05), 1.2);
  });

  it('beats seasonal naive on real EIA demand (CISO and PJM, 2019)', sharedDataTest(), () => {
    for (const [ba, tz] of [['CISO', 'America/Los_Angeles'], ['PJM', 'America/New_York']] as const) {
      const history = readDemandCsv(readFileSync(sharedPath('eia930', 'demand_2015_2019', `${ba}.csv`), 'utf8'));
      const r = backtest(history, tz, { testDays: 14, trainDays: 365 });
      assert.equal(r.days, 14);
      assert.ok(r.hours > 600, `${ba}: ${r.hours} hours compared`);
      assert.ok(r.mapePct.model! < r.mapePct.naiveDay!, `${ba}: model ${r.mapePct.model} vs same hour yesterday ${r.mapePct.naiveDay}`);
      assert.ok(r.mapePct.model! < r.mapePct.naiveWeek!, `${ba}: model ${r.mapePct.model} vs same hour last week ${r.mapePct.naiveWeek}`);
    }
  });
});

for (const target of testDatabases()) {
  describe(`stored forecasts on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    const now = new Date(Math.floor(Date.now() / H) * H + 20 * 60_000);
    before(async () => {
      ({ db, app } = await openTestApp(target));
      // 30 days of CISO demand through the last hour, and gas + solar generation through 3 hours ago
      const from = new Date(Math.floor(now.getTime() / H) * H - 30 * 24 * H);
      const h = periodic(30, from.getTime());
      await seedHours(db, 'CISO', 'demand', '', from, h.y);
      await seedHours(db, 'CISO', 'generation_by_fuel', 'NG', from, h.y.slice(0, -3).map((v) => v! * 0.7));
      await seedHours(db, 'CISO', 'generation_by_fuel', 'SUN', from, h.y.slice(0, -3).map((v, i) => (i % 24 < 10 ? v! * 0.3 : 0)));
    });
    after(async () => { await app.close(); await db.close(); });

    it('the 404 before any forecast is stored', async () => {
      const res = await app.inject('/api/v1/bas/CISO/forecast');
      assert.equal(res.statusCode, 404);
      assert.equal((await app.inject('/api/v1/bas/NOPE/forecast')).json().field, 'code');
      assert.equal((await app.inject('/api/v1/bas/CISO/forecast?hours=500')).json().field, 'hours');
    });

    it('refreshes, stores with made-at, and serves the next 48 hours', async () => {
      const summary = await refreshForecasts({ db, logger: pino({ level: 'silent' }) }, { now, bas: ['CISO', 'PJM'] });
      assert.equal(summary.stored, 2);
      assert.deepEqual(summary.failed, []);
      assert.deepEqual(summary.skipped.filter((s) => s.ba === 'PJM').map((s) => s.reason), ['no data', 'no data']);
      const stored = (await latestForecast(db, 'CISO'))!;
      assert.equal(stored.madeAt, new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString());
      assert.equal(stored.source, 'eia');
      // demand data end the hour before now; intensity three hours earlier: dataThrough is the older
      assert.equal(stored.dataThrough, new Date(Math.floor(now.getTime() / H) * H - 4 * H).toISOString());
      const res = await app.inject('/api/v1/bas/CISO/forecast?hours=48');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.points.length, 48);
      assert.equal(body.points[0].ts, new Date(Math.floor(Date.now() / H) * H).toISOString());
      for (const p of body.points) {
        assert.ok(p.demandMw > 500 && p.demandMw < 2000, `${p.ts} ${p.demandMw}`);
        assert.ok(p.intensity > 0 && p.intensity <= 490 + 1e-9, `${p.ts} ${p.intensity}`);
        assert.ok(p.intensityLow <= p.intensity && p.intensity <= p.intensityHigh);
      }
      const csv = await app.inject('/api/v1/bas/CISO/forecast?hours=24&format=csv');
      assert.equal(csv.body.trim().split('\n').length, 25);
    });

    it('a second refresh adds a run and the newest one is served', async () => {
      const later = new Date(now.getTime() + 60 * 60_000);
      await refreshForecasts({ db, logger: pino({ level: 'silent' }) }, { now: later, bas: ['CISO'] });
      const [{ runs }] = await db.query<{ runs: number }>(`SELECT count(*)::int AS runs FROM forecast_runs WHERE ba_code = 'CISO'`) as [{ runs: number }];
      assert.equal(runs, 4);
      assert.equal((await latestForecast(db, 'CISO'))!.madeAt, new Date(Math.floor(later.getTime() / 60_000) * 60_000).toISOString());
    });
  });
}
