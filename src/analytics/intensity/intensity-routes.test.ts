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
      // BAs, newest fuel and data hours, overrides, the system's hours, the series' spans (what each hour should have) and
      // the registry (when each interchange pair ends), demand; and the store's fill state (a running run, the newest demand
      // hour: read at most every 5 s, see ingest/fill-state.ts)
      assert.ok(queries <= 10, `${queries} queries`);
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

    it('uses the stored forecast for the latest clean window', async () => {
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
      assert.equal(direct.runNow, null, 'measured hours are past: no "run now" to compare with');
      assert.deepEqual(cw.optimal, [{ start: fh(5), end: fh(8), avg: 100 }]);
      assert.deepEqual(cw.runNow, { start: fh(0), end: fh(3), avg: 300, savingsPct: (200 / 300) * 100 });
      assert.equal(cw.dataThrough, q(HOURS - 1));
    });

    it('documents every carbon endpoint in OpenAPI', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      for (const path of ['/api/v1/emission-factors', '/api/v1/bas/{code}/intensity', '/api/v1/bas/{code}/hourly', '/api/v1/bas/{code}/now', '/api/v1/now', '/api/v1/bas/{code}/clean-window']) {
        assert.ok(doc.paths[path]?.get?.description?.length > 50, path);
      }
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
