import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import { createHttp } from '../../platform/http.ts';
import { memoryCache } from '../../platform/cache.ts';
import type { Db } from '../../platform/db.ts';
import { PointStore } from '../../ingest/store-points.ts';
import type { EiaPoint } from '../../ingest/eia-schema.ts';
import { intensityRoutes } from './intensity-routes.ts';
import { cleanWindowRoutes } from '../clean-window/clean-window-routes.ts';
import { sdkRoutes } from '../clean-window/sdk-routes.ts';
import { rangeOf, toCsv } from '../shared/route-support.ts';
import { invalidateBa } from '../shared/analytics-cache.ts';

const T0 = new Date('2025-06-01T00:00:00Z');
const HOURS = 48;
const at = (h: number) => new Date(T0.getTime() + h * 3_600_000);
const q = (h: number) => at(h).toISOString();
/** BPAT wind: 100 MW, except a windy spell of 400 MW at hours 10–12. */
const wind = (h: number) => (h >= 10 && h <= 12 ? 400 : 100);
/** BPAT consumption intensity with 50 MW of PACW coal imported: (11 w + 50 × 820) / (w + 50). */
const bpatConsumption = (w: number) => (11 * w + 50 * 820) / (w + 50);

function fixturePoints(): EiaPoint[] {
  const out: EiaPoint[] = [];
  for (let h = 0; h < HOURS; h++) {
    const ts = at(h);
    out.push(
      { route: 'fuel', ba: 'PACW', code: 'COL', ts, value: 100 },
      { route: 'fuel', ba: 'BPAT', code: 'WND', ts, value: wind(h) },
      { route: 'fuel', ba: 'BPAT', code: 'BAT', ts, value: -5 },
      { route: 'region', ba: 'BPAT', code: 'D', ts, value: wind(h) + 45 },
      { route: 'region', ba: 'BPAT', code: 'NG', ts, value: wind(h) - 5 },
      { route: 'interchange', ba: 'PACW', code: 'BPAT', ts, value: 50 },
      { route: 'interchange', ba: 'BPAT', code: 'PACW', ts, value: -50 },
    );
  }
  return out;
}

for (const target of testDatabases()) {
  describe(`carbon routes on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let queries = 0;
    const state = { down: false };
    const cache = memoryCache();
    before(async () => {
      db = await target.open();
      await migrate(db);
      await new PointStore(db, pino({ level: 'silent' }), 'eia').store(fixturePoints());
      // The routes see a database that counts queries and can be switched off.
      const flaky: Db = {
        ...db,
        query: (sql, params) => { queries++; return state.down ? Promise.reject(new Error('connection refused')) : db.query(sql, params); },
      };
      app = await createHttp(pino({ level: 'silent' }));
      const deps = { db: flaky, cache, logger: pino({ level: 'silent' }) };
      await intensityRoutes(app, deps);
      await cleanWindowRoutes(app, deps);
      await sdkRoutes(app, deps);
    });
    after(async () => { await app.close(); await db.close(); });

    it('lists emission factors, the storage rule and overrides', async () => {
      const res = await app.inject('/api/v1/emission-factors');
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.sets.lifecycle.COL, 820);
      assert.equal(body.sets.direct.NG, 370);
      assert.deepEqual(body.fuels.find((f: { code: string }) => f.code === 'BAT'), { code: 'BAT', name: 'Battery storage', lifecycle: null, direct: null, renewable: false, carbonFree: false });
      assert.match(body.storageRule, /charging/);
      assert.deepEqual(body.overrides, []);
    });

    it('serves production- and consumption-based intensity with the envelope', async () => {
      const prod = (await app.inject(`/api/v1/bas/bpat/intensity?from=${q(0)}&to=${q(3)}&basis=production`)).json();
      assert.deepEqual(prod.points.map((p: { value: number }) => p.value), [11, 11, 11]);
      assert.deepEqual({ ba: prod.ba, source: prod.source, dataThrough: prod.dataThrough, stale: prod.stale, unit: prod.unit }, { ba: 'BPAT', source: 'eia', dataThrough: q(2), stale: false, unit: 'gCO2eq/kWh' });
      const cons = (await app.inject(`/api/v1/bas/BPAT/intensity?from=${q(9)}&to=${q(11)}`)).json();
      assert.equal(cons.basis, 'consumption');
      assert.ok(Math.abs(cons.points[0].value - bpatConsumption(100)) < 1e-9);
      assert.ok(Math.abs(cons.points[1].value - bpatConsumption(400)) < 1e-9);
      const direct = (await app.inject(`/api/v1/bas/PACW/intensity?from=${q(0)}&to=${q(1)}&factors=direct`)).json();
      assert.equal(direct.points[0].value, 760);
    });

    it('serves intensity as CSV, one row per hour', async () => {
      const res = await app.inject(`/api/v1/bas/BPAT/intensity?from=${q(0)}&to=${q(2)}&basis=production&format=csv`);
      assert.match(res.headers['content-type'] as string, /text\/csv/);
      assert.equal(res.body, `ts,intensity_lifecycle_gco2eq_per_kwh,flags\n${q(0)},11,\n${q(1)},11,\n`);
    });

    it('rejects bad input with problem+json naming the field', async () => {
      const cases: Array<[string, number, string]> = [
        [`/api/v1/bas/NOPE/intensity?from=${q(0)}&to=${q(1)}`, 404, 'code'],
        [`/api/v1/bas/BPAT/intensity?from=${q(0)}&to=${q(1)}&basis=nope`, 400, 'basis'],
        [`/api/v1/bas/BPAT/intensity?from=${q(2)}&to=${q(1)}`, 400, 'to'],
        [`/api/v1/bas/BPAT/intensity?from=2025-01-01&to=2025-03-01`, 400, 'to'],
        [`/api/v1/bas/BPAT/intensity?from=yesterday&to=${q(1)}`, 400, 'from'],
        [`/api/v1/bas/BPAT/clean-window?duration=3h`, 400, 'duration'],
        [`/api/v1/bas/BPAT/clean-window?duration=PT1H&count=0`, 400, 'count'],
        [`/api/v1/emissions/forecasts/current?location=no-pe`, 400, 'location'],
        [`/api/v1/emissions/forecasts/current?location=NOPE`, 400, 'location'],
        [`/api/v1/emissions/bylocation`, 400, 'location'],
        [`/api/v1/emissions/bylocations?time=${q(1)}`, 400, 'location'],
        [`/api/v1/emissions/bylocations?location=BPAT&location=NOPE&time=${q(1)}`, 400, 'location'],
        [`/api/v1/emissions/bylocations/best?location=BPAT&toTime=${q(1)}`, 400, 'time'],
        [`/api/v1/emissions/bylocations/best?location=BPAT&time=${q(2)}&toTime=${q(1)}`, 400, 'toTime'],
        [`/api/v1/emissions/bylocation?location=BPAT&time=soon`, 400, 'time'],
        [`/api/v1/emissions/bylocation?location=BPAT&time=2025-01-01&toTime=2025-03-01`, 400, 'toTime'],
        [`/api/v1/emissions/average-carbon-intensity?location=BPAT&endTime=${q(1)}`, 400, 'startTime'],
        [`/api/v1/emissions/average-carbon-intensity?startTime=${q(0)}&endTime=${q(1)}`, 400, 'location'],
        [`/api/v1/emissions/average-carbon-intensity?location=NOPE&startTime=${q(0)}&endTime=${q(1)}`, 400, 'location'],
        [`/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=${q(1)}&endTime=${q(1)}`, 400, 'endTime'],
        [`/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=${q(46)}&endTime=${q(50)}`, 400, 'endTime'],
        [`/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=2025-05-31T23:00:00Z&endTime=${q(2)}`, 400, 'startTime'],
      ];
      for (const [url, status, field] of cases) {
        const res = await app.inject(url);
        assert.equal(res.statusCode, status, url);
        assert.match(res.headers['content-type'] as string, /problem\+json/, url);
        assert.equal(res.json().field, field, url);
      }
    });

    it('serves column-oriented hourly chart data with both intensities, and CSV', async () => {
      const body = (await app.inject(`/api/v1/bas/BPAT/hourly?from=${q(10)}&to=${q(12)}`)).json();
      assert.deepEqual(body.ts, [q(10), q(11)]);
      assert.deepEqual(body.demand, [445, 445]);
      assert.deepEqual(body.fuels, { WND: [400, 400], BAT: [-5, -5] });
      assert.deepEqual(body.interchange, { PACW: [-50, -50] });
      assert.deepEqual(body.intensity.production, [11, 11]);
      assert.ok(Math.abs(body.intensity.consumption[0] - bpatConsumption(400)) < 1e-9);
      assert.equal(body.timeZone, 'America/Los_Angeles');
      const csv = (await app.inject(`/api/v1/bas/BPAT/hourly?from=${q(10)}&to=${q(12)}&format=csv`)).body.trim().split('\n');
      assert.equal(csv[0], 'ts,demand_mw,forecast_mw,net_generation_mw,fuel_BAT_mw,fuel_WND_mw,interchange_PACW_mw,intensity_production_gco2eq_per_kwh,intensity_consumption_gco2eq_per_kwh');
      assert.equal(csv.length, 3);
      assert.ok(csv[1]!.startsWith(`${q(10)},445,,395,-5,400,-50,11,`));
    });

    it("answers What's Powering Me for the newest hour", async () => {
      const body = (await app.inject('/api/v1/bas/BPAT/now')).json();
      assert.equal(body.hour, q(HOURS - 1));
      assert.equal(body.dataThrough, q(HOURS - 1));
      assert.deepEqual(body.mix, [{ fuel: 'WND', name: 'Wind', mw: 100, share: 1 }, { fuel: 'BAT', name: 'Battery storage', mw: -5, share: 0 }]);
      assert.equal(body.renewableShare, 1);
      assert.equal(body.carbonFreeShare, 1);
      assert.deepEqual(body.imports, [{ ba: 'PACW', mw: 50 }]);
      assert.equal(body.intensity.production, 11);
      assert.ok(Math.abs(body.intensity.consumption - bpatConsumption(100)) < 1e-9);
      assert.equal(body.demandMw, 145);
      assert.equal(body.freshness.status, 'stale');
      const empty = (await app.inject('/api/v1/bas/CISO/now')).json();
      assert.deepEqual({ hour: empty.hour, source: empty.source, mix: empty.mix }, { hour: null, source: 'none', mix: [] });
    });

    it('answers GET /now for every BA in a handful of queries, then from cache', async () => {
      queries = 0;
      const res = await app.inject('/api/v1/now');
      assert.equal(res.statusCode, 200);
      // BAs, newest fuel and data hours, overrides, the system's hours, the series' spans (what each hour should have), demand
      assert.ok(queries <= 7, `${queries} queries`);
      const rows = res.json().data as Array<{ ba: string; intensity: number | null; productionIntensity: number | null; hour: string | null; demandMw: number | null }>;
      assert.ok(rows.length > 60);
      const bpat = rows.find((r) => r.ba === 'BPAT')!;
      assert.ok(Math.abs(bpat.intensity! - bpatConsumption(100)) < 1e-9);
      assert.deepEqual([bpat.productionIntensity, bpat.hour, bpat.demandMw], [11, q(HOURS - 1), 145]);
      assert.deepEqual(rows.find((r) => r.ba === 'CISO')!.intensity, null);
      queries = 0;
      await app.inject('/api/v1/now');
      assert.equal(queries, 0);
    });

    it('finds the clean window in measured hours, ties and non-overlapping best windows included', async () => {
      const body = (await app.inject(`/api/v1/bas/BPAT/clean-window?duration=PT3H&from=${q(0)}&to=${q(24)}&count=3`)).json();
      assert.deepEqual([body.input, body.basis, body.factors], ['history', 'consumption', 'lifecycle']);
      assert.equal(body.duration, 'PT3H');
      assert.deepEqual(body.optimal.map((w: { start: string; end: string }) => [w.start, w.end]), [[q(10), q(13)]]);
      assert.ok(Math.abs(body.optimal[0].avg - bpatConsumption(400)) < 1e-9);
      assert.equal(body.best.length, 3);
      assert.equal(body.runNow.start, q(0));
      assert.ok(Math.abs(body.runNow.savingsPct - (1 - bpatConsumption(400) / bpatConsumption(100)) * 100) < 1e-9);
      const latest = (await app.inject('/api/v1/bas/BPAT/clean-window?duration=PT1H')).json();
      assert.equal(latest.input, 'history');
      assert.deepEqual(latest.optimal.map((w: { start: string }) => w.start), [q(10), q(11), q(12)]);
    });

    it('ranks the clean window on the basis and factors asked, and says which', async () => {
      // direct factors: wind 0, coal 760 → BPAT consumed (50 · 760) / (w + 50), lowest in the windy spell
      const direct = (await app.inject(`/api/v1/bas/BPAT/clean-window?duration=PT3H&from=${q(0)}&to=${q(24)}&factors=direct`)).json();
      assert.deepEqual([direct.input, direct.basis, direct.factors], ['history', 'consumption', 'direct']);
      assert.deepEqual(direct.optimal.map((w: { start: string }) => w.start), [q(10)]);
      assert.ok(Math.abs(direct.optimal[0].avg - (50 * 760) / 450) < 1e-9);
      // production-based: BPAT's own wind only (11 every hour): every window ties at 11
      const production = (await app.inject(`/api/v1/bas/BPAT/clean-window?duration=PT3H&from=${q(0)}&to=${q(24)}&basis=production`)).json();
      assert.deepEqual([production.basis, production.factors], ['production', 'lifecycle']);
      assert.equal(production.optimal.length, 22);
      assert.ok(production.optimal.every((w: { avg: number }) => Math.abs(w.avg - 11) < 1e-9));
      const bad = await app.inject(`/api/v1/bas/BPAT/clean-window?basis=nope`);
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /basis/);
    });

    it('says so when no forecast exists for the Carbon Aware SDK endpoint', async () => {
      const res = await app.inject('/api/v1/emissions/forecasts/current?location=BPAT&windowSize=180');
      assert.equal(res.statusCode, 404);
      assert.match(res.json().detail, /no carbon intensity forecast/);
    });

    it('uses the stored forecast for the latest clean window and the Carbon Aware SDK endpoint', async () => {
      // A forecast made now for the next 24 hours: 300 everywhere except a 100 valley 5–7 hours ahead.
      const hour0 = Math.floor(Date.now() / 3_600_000) * 3_600_000;
      const madeAt = new Date(hour0);
      const fh = (k: number) => new Date(hour0 + k * 3_600_000).toISOString();
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('BPAT', 'intensity', $1, 'test', 'eia', $2, 48)`, [madeAt, at(HOURS - 1)]);
      await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model)
        SELECT 'BPAT', 'intensity', $1, $1::timestamptz + k * interval '1 hour', v, v - 10, v + 10, 'test'
          FROM generate_series(0, 23) k, LATERAL (SELECT CASE WHEN k BETWEEN 5 AND 7 THEN 100 ELSE 300 END::float8 AS v) x`, [madeAt]);
      await invalidateBa(cache, 'BPAT');
      const cw = (await app.inject('/api/v1/bas/BPAT/clean-window?duration=PT3H&count=2')).json();
      assert.equal(cw.input, 'forecast');
      // the stored forecast is consumption-based, lifecycle: other bases or factors rank measured hours
      const direct = (await app.inject('/api/v1/bas/BPAT/clean-window?duration=PT3H&basis=production&factors=direct')).json();
      assert.deepEqual([direct.input, direct.basis, direct.factors], ['history', 'production', 'direct']);
      assert.equal(direct.optimal[0].avg, 0);
      assert.deepEqual(cw.optimal, [{ start: fh(5), end: fh(8), avg: 100 }]);
      assert.deepEqual(cw.runNow, { start: fh(0), end: fh(3), avg: 300, savingsPct: (200 / 300) * 100 });
      assert.equal(cw.dataThrough, q(HOURS - 1));

      const res = await app.inject(`/api/v1/emissions/forecasts/current?location=BPAT&windowSize=180&dataStartAt=${fh(2)}&dataEndAt=${fh(12)}`);
      assert.equal(res.statusCode, 200);
      const [f, ...more] = res.json();
      assert.equal(more.length, 0);
      assert.deepEqual(f.optimalDataPoints, [{ location: 'BPAT', timestamp: fh(5), duration: 180, value: 100 }]);
      assert.deepEqual([f.location, f.windowSize, f.dataStartAt, f.dataEndAt, f.generatedAt], ['BPAT', 180, fh(2), fh(12), madeAt.toISOString()]);
      assert.equal(f.forecastData.length, 10);
      const both = await app.inject('/api/v1/emissions/forecasts/current?location=BPAT&location=PACW');
      assert.equal(both.statusCode, 404);
      assert.match(both.json().detail, /PACW/);

      // POST /emissions/forecasts/batch: the forecast as it stood at requestedAt (an older, flat run before this one)
      const older = new Date(hour0 - 24 * 3_600_000);
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('BPAT', 'intensity', $1, 'test', 'eia', $2, 48)`, [older, at(HOURS - 25)]);
      await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model)
        SELECT 'BPAT', 'intensity', $1, $1::timestamptz + k * interval '1 hour', 200, 190, 210, 'test' FROM generate_series(0, 23) k`, [older]);
      const batch = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [
        { location: 'BPAT', requestedAt: new Date(hour0 + 60_000).toISOString(), dataStartAt: fh(2), dataEndAt: fh(12), windowSize: 180 },
        { location: 'bpat', requestedAt: new Date(hour0 - 3_600_000).toISOString(), windowSize: 120 },
      ] });
      assert.equal(batch.statusCode, 200);
      const [now, then] = batch.json();
      assert.deepEqual(now.optimalDataPoints, f.optimalDataPoints);
      assert.equal(now.requestedAt, new Date(hour0 + 60_000).toISOString());
      assert.equal(then.generatedAt, older.toISOString());
      assert.equal(then.forecastData.length, 24);
      assert.ok(then.forecastData.every((p: { value: number }) => p.value === 200));
      assert.equal(then.optimalDataPoints.length, 23); // flat: every 2-hour window ties
      const tooEarly = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [{ location: 'BPAT', requestedAt: new Date(hour0 - 48 * 3_600_000).toISOString() }] });
      assert.equal(tooEarly.statusCode, 404);
      assert.equal(tooEarly.json().field, '0/requestedAt');
      const unknown = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [{ location: 'NOPE' }] });
      assert.equal(unknown.statusCode, 400);
      assert.equal(unknown.json().field, '0/location');
    });

    it('answers the Carbon Aware SDK emissions endpoints with hourly EmissionsData, ties and several locations', async () => {
      const one = await app.inject(`/api/v1/emissions/bylocation?location=bpat&time=${q(9)}&toTime=${q(11)}`);
      assert.equal(one.statusCode, 200);
      const rows = one.json() as Array<{ location: string; time: string; rating: number; duration: string }>;
      // hours overlapping [09:00, 11:00]: 09 and 10 (11:00 starts at the end)
      assert.deepEqual(rows.map((d) => [d.location, d.time, d.duration]), [['bpat', at(9).toISOString(), '01:00:00'], ['bpat', at(10).toISOString(), '01:00:00']]);
      assert.ok(Math.abs(rows[0]!.rating - 42100 / 150) < 1e-9); // (11 × 100 + 820 × 50) / 150
      assert.ok(Math.abs(rows[1]!.rating - 45400 / 450) < 1e-9); // (11 × 400 + 820 × 50) / 450
      // time alone: the hour containing it; startTime/endTime are accepted as aliases
      const inside = (await app.inject(`/api/v1/emissions/bylocation?location=BPAT&time=2025-06-01T10:30:00Z`)).json();
      assert.deepEqual(inside.map((d: { time: string }) => d.time), [at(10).toISOString()]);
      const alias = (await app.inject(`/api/v1/emissions/bylocation?location=BPAT&startTime=${q(9)}&endTime=${q(11)}`)).json();
      assert.deepEqual(alias, rows.map((d) => ({ ...d, location: 'BPAT' })));
      // no time: the newest measured hour
      const latest = (await app.inject('/api/v1/emissions/bylocation?location=BPAT')).json();
      assert.deepEqual(latest.map((d: { time: string }) => d.time), [q(HOURS - 1)]);

      const many = (await app.inject(`/api/v1/emissions/bylocations?location=BPAT&location=PACW&time=${q(11)}&toTime=${q(13)}`)).json();
      assert.deepEqual(many.map((d: { location: string; time: string }) => `${d.location}@${d.time}`), [`BPAT@${q(11)}`, `BPAT@${q(12)}`, `PACW@${q(11)}`, `PACW@${q(12)}`]);
      assert.deepEqual(many.slice(2).map((d: { rating: number }) => d.rating), [820, 820]);

      // best: the windy hours 10–12 tie at the lowest rating, across both locations
      const best = (await app.inject(`/api/v1/emissions/bylocations/best?location=PACW&location=BPAT&time=${q(8)}&toTime=${q(14)}`)).json();
      assert.deepEqual(best.map((d: { location: string; time: string }) => `${d.location}@${d.time}`), [`BPAT@${q(10)}`, `BPAT@${q(11)}`, `BPAT@${q(12)}`]);
      assert.ok(best.every((d: { rating: number }) => Math.abs(d.rating - 45400 / 450) < 1e-9));
      const bestOne = (await app.inject(`/api/v1/emissions/bylocations/best?location=PACW&time=${q(8)}&toTime=${q(10)}`)).json();
      assert.equal(bestOne.length, 2); // PACW is 820 every hour: both hours tie

      const none = await app.inject('/api/v1/emissions/bylocations?location=BPAT&time=2024-01-01T00:00:00Z');
      assert.equal(none.statusCode, 204);
      assert.equal(none.body, '');
    });

    it('averages carbon intensity time-weighted over a partial-hour period, singly and in batch', async () => {
      const a = 42100 / 150, b = 45400 / 450;
      // 09:30–11:15: 30 minutes of hour 9, all of hour 10, 15 minutes of hour 11
      const res = await app.inject(`/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=2025-06-01T09:30:00Z&endTime=2025-06-01T11:15:00Z`);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['location', 'startTime', 'endTime', 'carbonIntensity']);
      assert.deepEqual([body.location, body.startTime, body.endTime], ['BPAT', '2025-06-01T09:30:00.000Z', '2025-06-01T11:15:00.000Z']);
      assert.ok(Math.abs(body.carbonIntensity - (30 * a + 75 * b) / 105) < 1e-9, String(body.carbonIntensity));

      const batch = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [
        { location: 'PACW', startTime: q(0), endTime: '2025-06-01T00:20:00Z' },
        { location: 'BPAT', startTime: '2025-06-01T10:45:00Z', endTime: '2025-06-01T13:45:00Z' },
      ] });
      assert.equal(batch.statusCode, 200);
      const [pacw, bpat] = batch.json();
      assert.equal(pacw.carbonIntensity, 820);
      // 15 min of hour 10, hours 11 and 12 (all b), 45 min of hour 13 (a)
      assert.ok(Math.abs(bpat.carbonIntensity - (135 * b + 45 * a) / 180) < 1e-9);

      const bad = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [
        { location: 'BPAT', startTime: q(0), endTime: q(1) }, { location: 'NOPE', startTime: q(0), endTime: q(1) }] });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, '1/location');
      const missing = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [{ location: 'BPAT', startTime: q(0) }] });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().field, '0/endTime');
      // each item may trace a month of the interconnection: a batch is capped
      const many = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch',
        payload: Array.from({ length: 21 }, () => ({ location: 'BPAT', startTime: q(0), endTime: q(1) })) });
      assert.equal(many.statusCode, 400);
    });

    it('documents every carbon endpoint in OpenAPI', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      for (const path of ['/api/v1/emission-factors', '/api/v1/bas/{code}/intensity', '/api/v1/bas/{code}/hourly', '/api/v1/bas/{code}/now', '/api/v1/now', '/api/v1/bas/{code}/clean-window', '/api/v1/emissions/forecasts/current',
        '/api/v1/emissions/bylocation', '/api/v1/emissions/bylocations', '/api/v1/emissions/bylocations/best', '/api/v1/emissions/average-carbon-intensity']) {
        assert.ok(doc.paths[path]?.get?.description?.length > 50, path);
      }
      for (const path of ['/api/v1/emissions/forecasts/batch', '/api/v1/emissions/average-carbon-intensity/batch']) {
        assert.match(doc.paths[path]?.post?.description ?? '', /gCO2eq\/kWh/, path);
      }
      assert.match(doc.paths['/api/v1/emissions/bylocations/best'].get.description, /EIA BA code/);
    });

    it('serves the last good answer with stale=true when the database is down', async () => {
      const fresh = (await app.inject('/api/v1/bas/PACW/now')).json();
      assert.equal(fresh.stale, false);
      state.down = true;
      try {
        // A change event dropped the cached answer just before the database went away.
        await invalidateBa(cache, 'PACW');
        const stale = await app.inject('/api/v1/bas/PACW/now');
        assert.equal(stale.statusCode, 200);
        assert.deepEqual(stale.json(), { ...fresh, stale: true });
        const never = await app.inject(`/api/v1/bas/PACW/intensity?from=${q(0)}&to=${q(1)}`);
        assert.equal(never.statusCode, 500);
        assert.match(never.headers['content-type'] as string, /problem\+json/);
      } finally {
        state.down = false;
      }
    });
  });
}

describe('route helpers', () => {
  it('defaults and bounds ranges', () => {
    const now = Date.parse('2025-06-01T10:20:00Z');
    const r = rangeOf({}, 31, 48, now);
    assert.deepEqual([r.from.toISOString(), r.to.toISOString()], ['2025-05-30T11:00:00.000Z', '2025-06-01T11:00:00.000Z']);
    assert.throws(() => rangeOf({ from: '2025-01-01', to: '2025-03-01' }, 31), /longer than 31 days/);
  });
  it('quotes CSV cells that need it', () => {
    assert.equal(toCsv(['a', 'b'], [['x,y', null], [1, 'q"']]), 'a,b\n"x,y",\n1,"q"""\n');
  });
});
