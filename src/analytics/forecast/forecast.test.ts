import { openTestApp } from '../../../test/support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';
import type { Db } from '../../platform/db.ts';
import { calendarFor, fitModels, MODEL_NAMES, predictAhead, quantile, type ForecastTarget, type History } from './forecast-model.ts';
import { forecastTarget, INTENSITY_SERVED_BY_LEAD } from './target-run.ts';
import { NAIVE_NAMES } from './scoring.ts';
import { bucketOf, fitDirect, predictDirect } from './direct-model.ts';
import { backtest } from './backtest.ts';
import { forecastFrom, latestForecast, refreshForecasts } from './forecast.ts';
import { backtestReplay, readDemandCsv } from '../../cli/forecast-command.ts';
import { assertServesTheBetter } from './forecast-test-support.ts';
import { seeded } from '../../platform/random.ts';
import { seedHours } from '../daily/daily-test-support.ts';

const H = 3_600_000;
const TZ = 'America/Los_Angeles';

const TARGETS: readonly ForecastTarget[] = ['demand', 'intensity'];

function close(actual: number | null, expected: number, eps = 1e-6): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${actual} vs ${expected}`);
}

/** `days` of an exactly repeating daily shape (UTC-hour based), weekdays `weekly` higher than weekends. */
function periodic(days: number, start = Date.UTC(2025, 0, 6), weekly = 0.1): History {
  const ts = Array.from({ length: days * 24 }, (_, i) => new Date(start + i * H));
  const y = ts.map((t) => {
    const local = new Date(t.getTime() - 8 * H);
    const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
    return (1000 + 300 * Math.sin((2 * Math.PI * local.getUTCHours()) / 24)) * (weekend ? 1 : 1 + weekly);
  });
  return { ts, y };
}

/**
 * A daily profile times weather that persists: ln(anomaly) is an AR(1) process (φ = 0.97 per hour, so a
 * windy spell lasts about a day and a half), as wind-driven carbon intensity behaves. Seeded: the same series everywhere.
 */
function persistent(days: number, seed: number): History {
  const rand = seeded(seed);
  const start = Date.UTC(2025, 2, 3);
  let anomaly = 0;
  const ts = Array.from({ length: days * 24 }, (_, i) => new Date(start + i * H));
  const y = ts.map((t) => {
    const gauss = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    anomaly = 0.97 * anomaly + 0.06 * gauss;
    return 300 * (1 - 0.3 * Math.sin((2 * Math.PI * (t.getUTCHours() - 14)) / 24)) * Math.exp(anomaly);
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

  it('the intensity model reproduces an exactly repeating daily pattern within 2 %, bands around it', () => {
    const h = periodic(30, Date.UTC(2025, 0, 6), 0);
    const from = h.ts.length - 48;
    const model = fitDirect(h, 0, from, 48)!;
    const points = predictDirect(h, model, from, 48);
    assert.equal(points.length, 48);
    for (const p of points) {
      const actual = h.y[Math.round((p.ts.getTime() - h.ts[0]!.getTime()) / H)]!;
      assert.ok(Math.abs(p.value - actual) / actual < 0.02, `${p.ts.toISOString()}: ${p.value} vs ${actual}`);
      assert.ok(p.low <= p.value && p.value <= p.high);
    }
  });

  it('the intensity model follows persistent weather: beats both seasonal-naive forecasts, and its band widens with the horizon', () => {
    let model = 0;
    let naive = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const h = persistent(70, seed);
      const r = backtest(h, 'UTC', { target: 'intensity', testDays: 21, trainDays: 35 });
      assert.equal(r.days, 21);
      assert.ok(r.mapePct.model! < r.mapePct.naiveDay!, `seed ${seed}: model ${r.mapePct.model} vs same hour yesterday ${r.mapePct.naiveDay}`);
      assert.ok(r.mapePct.model! < r.mapePct.naiveWeek!, `seed ${seed}: model ${r.mapePct.model} vs same hour last week ${r.mapePct.naiveWeek}`);
      model += r.mapePct.model!;
      naive += r.mapePct.naiveDay!;
      const fit = fitDirect(h, 0, h.ts.length, 48)!;
      const width = (k: number) => fit.buckets[bucketOf(k)]!.band.high - fit.buckets[bucketOf(k)]!.band.low;
      assert.ok(width(0) < width(23) && width(23) < width(47), `seed ${seed}: band widths ${width(0)}, ${width(23)}, ${width(47)}`);
    }
    // a forecast that knew the true profile and φ scores about 0.8 of naive here; the fitted model must come near
    assert.ok(model < 0.92 * naive, `over five series: model ${model / 5} vs same hour yesterday ${naive / 5}`);
  });

  it('serves a naive reference in the lead buckets given to it, with its own band, and names it; the backtest scores what is served', () => {
    // every hour of the week has its own (seeded) value and the week repeats exactly: the week-before reference is
    // exact, the ridge model (penalised, and mixing in the day-before references) is not
    const rand = seeded(7);
    const week = Array.from({ length: 168 }, () => 200 + 300 * rand());
    const start = Date.UTC(2025, 2, 3);
    const h: History = { ts: Array.from({ length: 50 * 24 }, (_, i) => new Date(start + i * H)), y: Array.from({ length: 50 * 24 }, (_, i) => week[i % 168]!) };
    const from = h.ts.length - 48;
    const servedByLead = ['model', 'naiveDay', 'naiveWeek'] as const;
    const run = forecastTarget('intensity', h, calendarFor(h.ts, 'UTC'), { trainStart: from - 35 * 24, from, horizon: 48, servedByLead })!;
    for (const [k, p] of run.points.entries()) {
      const lead = k + 1;
      const [method, value] = lead <= 6 ? [MODEL_NAMES.intensity, run.modelPoints[k]!.value] : lead <= 24 ? [NAIVE_NAMES.naiveDay, h.y[from + k - 24]] : [NAIVE_NAMES.naiveWeek, h.y[from + k - 168]];
      assert.equal(p.method, method, `lead ${lead}`);
      assert.equal(p.value, value, `lead ${lead}`);
      assert.ok(p.low <= p.value && p.value <= p.high);
    }
    // the week-before reference is exact, so its band (from its own errors over the training hours) is zero-width
    assert.ok(run.points.slice(24).every((p) => p.low === p.value && p.high === p.value));
    assert.ok(run.modelPoints.some((p, k) => Math.abs(p.value - h.y[from + k]!) > 1e-6), 'the model alone is not exact here');
    const r = backtest(h, 'UTC', { target: 'intensity', testDays: 7, trainDays: 35, servedByLead });
    assert.equal(r.origins, 7);
    assert.deepEqual(r.byLead.map((c) => c.servedBy), [{ model: 7, naiveDay: 0, naiveWeek: 0 }, { model: 0, naiveDay: 7, naiveWeek: 0 }, { model: 0, naiveDay: 0, naiveWeek: 7 }]);
    close(r.byLead[0]!.mapePct.served, r.byLead[0]!.mapePct.model!);
    close(r.byLead[1]!.mapePct.served, r.byLead[1]!.mapePct.naiveDay!);
    close(r.byLead[2]!.mapePct.served, 0);
    assert.ok(r.byLead[2]!.mapePct.model! > 0);
  });

  it('serves the model in every lead bucket by default and names it', () => {
    const h = persistent(60, 3);
    const from = h.ts.length - 48;
    const run = forecastTarget('intensity', h, calendarFor(h.ts, 'UTC'), { trainStart: from - 35 * 24, from, horizon: 48 })!;
    assert.deepEqual(run.choice.methods, INTENSITY_SERVED_BY_LEAD);
    assert.deepEqual([...INTENSITY_SERVED_BY_LEAD], ['model', 'model', 'model']);
    assert.ok(run.points.every((p, k) => p.method === MODEL_NAMES.intensity && p.value === run.modelPoints[k]!.value));
  });

  it('refuses to fit under two weeks of history, and reports why', () => {
    const h = periodic(13);
    assert.equal(fitModels(h, calendarFor(h.ts, TZ), 0, h.ts.length), undefined);
    assert.equal(fitDirect(h, 0, h.ts.length, 48), undefined);
    for (const target of TARGETS) {
      assert.equal(forecastFrom(target, { history: h, source: 'eia' }, TZ, new Date(h.ts.at(-1)!.getTime() + H)), 'under two weeks of usable history');
      assert.equal(forecastFrom(target, { history: { ts: h.ts, y: h.y.map(() => null) }, source: 'eia' }, TZ, new Date()), 'no data');
      assert.match(forecastFrom(target, { history: periodic(40), source: 'eia' }, TZ, new Date(Date.UTC(2025, 5, 1))) as string, /older than/);
    }
    // the demand model also needs a week of lags before its two weeks of rows
    assert.equal(forecastFrom('demand', { history: periodic(20), source: 'eia' }, TZ, new Date(Date.UTC(2025, 0, 26))), 'under two weeks of usable history');
    assert.ok(typeof forecastFrom('intensity', { history: periodic(20), source: 'eia' }, TZ, new Date(Date.UTC(2025, 0, 26))) !== 'string');
  });

  it('forecasts 48 h past now, starting right after the data', () => {
    const h = periodic(40);
    const now = new Date(h.ts.at(-1)!.getTime() + 2.5 * H);
    for (const target of TARGETS) {
      const f = forecastFrom(target, { history: h, source: 'eia' }, TZ, now);
      assert.ok(typeof f !== 'string', target);
      assert.equal(f.points[0]!.ts.getTime(), h.ts.at(-1)!.getTime() + H, target);
      assert.equal(f.points.at(-1)!.ts.getTime(), Math.floor(now.getTime() / H) * H + 47 * H, target);
    }
  });

  it('scaling the history scales the forecast', () => {
    fc.assert(fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.constantFrom(...TARGETS), fc.integer({ min: 1, max: 1000 }), (k, target, seed) => {
      const h = persistent(30, seed);
      const scaled = { ts: h.ts, y: h.y.map((v) => v! * k) };
      const now = new Date(h.ts.at(-1)!.getTime() + H);
      const a = forecastFrom(target, { history: h, source: 'eia' }, TZ, now);
      const b = forecastFrom(target, { history: scaled, source: 'eia' }, TZ, now);
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
      const r = backtest(history, tz, { target: 'demand', testDays: 14, trainDays: 365 });
      assert.equal(r.days, 14);
      assert.ok(r.hours > 600, `${ba}: ${r.hours} hours compared`);
      assert.ok(r.mapePct.model! < r.mapePct.naiveDay!, `${ba}: model ${r.mapePct.model} vs same hour yesterday ${r.mapePct.naiveDay}`);
      assert.ok(r.mapePct.model! < r.mapePct.naiveWeek!, `${ba}: model ${r.mapePct.model} vs same hour last week ${r.mapePct.naiveWeek}`);
      // on the day-ahead hours the model has EIA's DF as a feature: it must not be much worse than DF alone
      assert.ok(r.mapePct.modelDayAhead! < 1.1 * r.mapePct.eiaDayAhead!, `${ba}: day 1 model ${r.mapePct.modelDayAhead} vs EIA DF ${r.mapePct.eiaDayAhead}`);
    }
  });
});

describe('intensity forecast on real EIA-930 fuel mix', () => {
  it('beats seasonal naive in every lead bucket on PACW, January–February 2024 (recorded EIA responses, replayed)', sharedDataTest(), async () => {
    const [row, ...rest] = await backtestReplay(sharedPath('eia930', 'v2_json', 'pacw_2024'), { days: 28 });
    assert.equal(rest.length, 0, 'only PACW intensity has two weeks of history there');
    assert.equal(row!.ba, 'PACW');
    assert.equal(row!.target, 'intensity');
    assert.ok(row!.days >= 25 && row!.hours > 1100, `${row!.days} days, ${row!.hours} hours`);
    assert.ok(row!.mapePct.served! < row!.mapePct.naiveDay!, `served ${row!.mapePct.served} vs same hour yesterday ${row!.mapePct.naiveDay}`);
    assert.ok(row!.mapePct.served! < row!.mapePct.naiveWeek!, `served ${row!.mapePct.served} vs same hour last week ${row!.mapePct.naiveWeek}`);
    assertServesTheBetter(row!);
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
      assert.deepEqual(stored.models, { demand: 'ridge-log-calendar-lags-v1', intensity: 'direct-ridge-log-v2' });
      assert.deepEqual(stored.models, MODEL_NAMES);
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
        assert.equal(p.demandMethod, MODEL_NAMES.demand);
        assert.ok([MODEL_NAMES.intensity, ...Object.values(NAIVE_NAMES)].includes(p.intensityMethod), p.intensityMethod);
      }
      const csv = await app.inject('/api/v1/bas/CISO/forecast?hours=24&format=csv');
      assert.equal(csv.body.trim().split('\n').length, 25);
    });

    it('a second refresh adds a run and the newest one is served', async () => {
      const later = new Date(now.getTime() + 60 * 60_000);
      await refreshForecasts({ db, logger: pino({ level: 'silent' }) }, { now: later, bas: ['CISO'] });
      const [{ runs }] = await db.query<{ runs: number }>(`SELECT count(*)::int AS runs FROM forecast_runs WHERE ba_code = 'CISO'`) as [{ runs: number }];
      assert.equal(runs, 4);
      const madeAt = new Date(Math.floor(later.getTime() / 60_000) * 60_000).toISOString();
      assert.equal((await latestForecast(db, 'CISO'))!.madeAt, madeAt);
      // The refresh ran without this app's cache, as a separate worker does: its notice drops the app's cached answer.
      let served: string | undefined;
      for (let i = 0; i < 100 && served !== madeAt; i++) {
        served = (await app.inject('/api/v1/bas/CISO/forecast?hours=48')).json<{ madeAt: string }>().madeAt;
        if (served !== madeAt) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(served, madeAt, 'the app serves the new run, not its cached answer');
    });

    it('scores stored forecasts against what was then observed, by lead time, beside seasonal naive (hand-computed)', async () => {
      // PJM: 30 days of the periodic demand; gas 0.7 and solar 0.3 of it in hours 0-9 of each day (counted from `from`):
      // intensity is exactly 490 outside those hours and (0.7 × 490 + 0.3 × 45) = 356.5 inside them, every day.
      const from = new Date(Math.floor(now.getTime() / H) * H - 30 * 24 * H);
      const h = periodic(30, from.getTime());
      await seedHours(db, 'PJM', 'demand', '', from, h.y);
      await seedHours(db, 'PJM', 'generation_by_fuel', 'NG', from, h.y.map((v) => v! * 0.7));
      await seedHours(db, 'PJM', 'generation_by_fuel', 'SUN', from, h.y.map((v, i) => (i % 24 < 10 ? v! * 0.3 : 0)));
      const d = 20 * 24; // the forecasts' data end: index of the newest hour they were made from
      const dataThrough = new Date(from.getTime() + d * H);
      const madeAt = new Date(dataThrough.getTime() + 90 * 60_000);
      const sunny = (i: number) => i % 24 < 10;
      const intensityAt = (i: number) => (sunny(i) ? 0.7 * 490 + 0.3 * 45 : 490);
      // demand: 10 % high for leads 1-6, 20 % low for 7-24, exact for 25-48; intensity: always 490
      const demandAt = (lead: number) => h.y[d + lead]! * (lead <= 6 ? 1.1 : lead <= 24 ? 0.8 : 1);
      for (const [target, value] of [['demand', demandAt], ['intensity', () => 490]] as const) {
        await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('PJM', $1, $2, 'm', 'eia', $3, 1)`, [target, madeAt, dataThrough]);
        for (let lead = 1; lead <= 60; lead++) {
          await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ('PJM', $1, $2, $3, $4, $4, $4, 'm')`,
            [target, madeAt, new Date(dataThrough.getTime() + lead * H), value(lead)]);
        }
      }
      const res = await app.inject('/api/v1/bas/PJM/forecast/accuracy?days=30');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.source, 'eia');
      const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length) * 100;
      const leads = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
      const naive = (lead: number, y: (i: number) => number) => Math.abs(y(d + lead - 24 * Math.ceil(lead / 24)) - y(d + lead)) / y(d + lead);
      const demandY = (i: number) => h.y[i]!;
      const buckets = [[1, 6], [7, 24], [25, 48]] as const;
      assert.equal(body.targets.demand.runs, 1);
      assert.equal(body.targets.demand.all.hours, 48, 'leads beyond 48 h are not scored');
      assert.deepEqual(body.targets.demand.byLead.map((c: { lead: string; hours: number }) => [c.lead, c.hours]), [['1-6 h', 6], ['7-24 h', 18], ['25-48 h', 24]]);
      close(body.targets.demand.byLead[0].mapePct, 10);
      close(body.targets.demand.byLead[1].mapePct, 20);
      close(body.targets.demand.byLead[2].mapePct, 0);
      close(body.targets.demand.all.mapePct, (6 * 10 + 18 * 20) / 48);
      buckets.forEach(([a, b], k) => close(body.targets.demand.byLead[k].naiveMapePct, mean(leads(a, b).map((l) => naive(l, demandY)))));
      // both series repeat every week exactly: the week-before reference is exact
      for (const target of ['demand', 'intensity']) for (const c of body.targets[target].byLead) close(c.naiveWeekMapePct, 0);
      buckets.forEach(([a, b], k) => {
        close(body.targets.intensity.byLead[k].mapePct, mean(leads(a, b).map((l) => Math.abs(490 - intensityAt(d + l)) / intensityAt(d + l))));
        close(body.targets.intensity.byLead[k].naiveMapePct, 0);
      });
      assert.equal((await app.inject('/api/v1/bas/PJM/forecast/accuracy?days=0')).json().field, 'days');
      assert.equal((await app.inject('/api/v1/bas/NOPE/forecast/accuracy')).statusCode, 404);
    });
  });
}
