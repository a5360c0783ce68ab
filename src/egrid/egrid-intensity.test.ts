import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../../test/support/app.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import type { Db } from '../platform/db.ts';
import { PointStore } from '../ingest/store-points.ts';
import type { EiaPoint } from '../ingest/eia-schema.ts';
import { defaultFactor } from '../analytics/intensity/factors.ts';
import { insertPlants, plant, plantFromCodes, readCodeCsv } from './egrid-test-support.ts';

const T0 = Date.parse('2025-06-01T00:00:00Z');
const q = (h: number) => new Date(T0 + h * 3_600_000).toISOString();
const MIX = { COL: 100, NG: 50, WND: 100 } as const;

for (const target of testDatabases()) {
  describe(`factors=egrid-YYYY on the intensity endpoint, ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      const points: EiaPoint[] = [];
      for (let h = 0; h < 6; h++) for (const [code, value] of Object.entries(MIX)) points.push({ route: 'fuel', ba: 'MISO', code, ts: new Date(T0 + h * 3_600_000), value });
      await new PointStore(db, pino({ level: 'silent' }), 'eia').store(points);
      // 2021: MISO coal at 2,100 lb/MWh and wind; no gas plants, so gas falls back to lifecycle
      await insertPlants(db, 2021, [
        plant({ orispl: 1, baCode: 'MISO', fuelCategory: 'COAL', primaryFuel: 'SUB', netGenerationMwh: 1_000_000, co2ShortTons: 1_050_000 }),
        plant({ orispl: 2, baCode: 'MISO', fuelCategory: 'WIND', primaryFuel: 'WND', netGenerationMwh: 500_000, co2ShortTons: 0 }),
        plant({ orispl: 3, baCode: 'SWPP', fuelCategory: 'GAS', netGenerationMwh: 500_000, co2ShortTons: 250_000 }),
      ]);
    });
    after(async () => { await app.close(); await db.close(); });

    it('uses the BA\'s eGRID factors, falls back to lifecycle per fuel and names the fallback', async () => {
      const res = await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(2)}&basis=production&factors=egrid-2021`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      const coal = 2100 * 0.4536, gas = defaultFactor('NG', 'lifecycle')!;
      const expected = (MIX.COL * coal + MIX.NG * gas + MIX.WND * 0) / (MIX.COL + MIX.NG + MIX.WND);
      assert.ok(Math.abs(body.points[0].value - expected) < 1e-9, `${body.points[0].value} vs ${expected}`);
      assert.equal(body.factors, 'egrid-2021');
      assert.deepEqual(body.egrid, { set: 'egrid-2021', edition: 'eGRID2021', fallbackSet: 'lifecycle', fellBack: ['NG'] });
      const lifecycle = (await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(2)}&basis=production`)).json();
      assert.equal(lifecycle.egrid, null);
      assert.notEqual(lifecycle.points[0].value, body.points[0].value);
    });

    it('the clean window ranks hours on the eGRID set too, and says so', async () => {
      const res = await app.inject(`/api/v1/bas/MISO/clean-window?duration=PT1H&from=${q(0)}&to=${q(6)}&basis=production&factors=egrid-2021`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.factors, 'egrid-2021');
      assert.deepEqual(body.egrid.fellBack, ['NG']);
      const expected = (MIX.COL * 2100 * 0.4536 + MIX.NG * defaultFactor('NG', 'lifecycle')!) / (MIX.COL + MIX.NG + MIX.WND);
      assert.ok(Math.abs(body.optimal[0].avg - expected) < 1e-9, `${body.optimal[0].avg} vs ${expected}`);
    });

    it('every intensity endpoint takes the eGRID set: /bas/{code}/now, /now and /bas/{code}/hourly', async () => {
      const coal = 2100 * 0.4536, gas = defaultFactor('NG', 'lifecycle')!;
      const production = (MIX.COL * coal + MIX.NG * gas + MIX.WND * 0) / (MIX.COL + MIX.NG + MIX.WND);
      const lifecycleProduction = (MIX.COL * defaultFactor('COL', 'lifecycle')! + MIX.NG * gas + MIX.WND * defaultFactor('WND', 'lifecycle')!) / (MIX.COL + MIX.NG + MIX.WND);

      const now = await app.inject('/api/v1/bas/MISO/now?factors=egrid-2021');
      assert.equal(now.statusCode, 200, now.body);
      assert.ok(Math.abs(now.json().intensity.production - production) < 1e-9, `${now.json().intensity.production} vs ${production}`);
      assert.deepEqual([now.json().factors, now.json().egrid?.fellBack], ['egrid-2021', ['NG']]);
      const nowLifecycle = (await app.inject('/api/v1/bas/MISO/now')).json();
      assert.ok(Math.abs(nowLifecycle.intensity.production - lifecycleProduction) < 1e-9, 'lifecycle stays the default');
      assert.deepEqual([nowLifecycle.factors, nowLifecycle.egrid], ['lifecycle', null]);
      const direct = (await app.inject('/api/v1/bas/MISO/now?factors=direct')).json();
      assert.ok(Math.abs(direct.intensity.production - (MIX.COL * defaultFactor('COL', 'direct')! + MIX.NG * defaultFactor('NG', 'direct')!) / (MIX.COL + MIX.NG + MIX.WND)) < 1e-9);

      const all = await app.inject('/api/v1/now?factors=egrid-2021');
      assert.equal(all.statusCode, 200, all.body);
      const miso = all.json().data.find((d: { ba: string }) => d.ba === 'MISO');
      assert.ok(Math.abs(miso.productionIntensity - production) < 1e-9, `${miso.productionIntensity} vs ${production}`);
      assert.equal(all.json().egrid.edition, 'eGRID2021');
      const allLifecycle = (await app.inject('/api/v1/now')).json();
      assert.ok(Math.abs(allLifecycle.data.find((d: { ba: string }) => d.ba === 'MISO').productionIntensity - lifecycleProduction) < 1e-9, 'a cached lifecycle answer is not the eGRID one');

      const hourly = await app.inject(`/api/v1/bas/MISO/hourly?from=${q(0)}&to=${q(2)}&factors=egrid-2021`);
      assert.equal(hourly.statusCode, 200, hourly.body);
      assert.ok(Math.abs(hourly.json().intensity.production[0] - production) < 1e-9);
      assert.equal(hourly.json().egrid.set, 'egrid-2021');
      const hourlyLifecycle = (await app.inject(`/api/v1/bas/MISO/hourly?from=${q(0)}&to=${q(2)}`)).json();
      assert.ok(Math.abs(hourlyLifecycle.intensity.production[0] - lifecycleProduction) < 1e-9);

      for (const url of ['/api/v1/bas/MISO/now?factors=egrid-2016', '/api/v1/now?factors=egrid-2016', `/api/v1/bas/MISO/hourly?from=${q(0)}&to=${q(2)}&factors=egrid-2016`]) {
        const res = await app.inject(url);
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().field, 'factors', url);
      }
      for (const url of ['/api/v1/bas/MISO/now?factors=egrid', '/api/v1/now?factors=EGRID-2021', `/api/v1/bas/MISO/hourly?factors=lifecycle;x`]) {
        const res = await app.inject(url);
        assert.equal(res.statusCode, 400, url);
        assert.equal(res.json().field, 'factors', url);
      }
    });

    it('refuses a set that is not imported or not a set, naming factors', async () => {
      const missing = await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(2)}&factors=egrid-2016`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().field, 'factors');
      assert.match(missing.json().detail, /egrid-2021/);
      for (const bad of ['egrid', 'egrid-22', 'EGRID-2021;drop']) {
        const res = await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(2)}&factors=${encodeURIComponent(bad)}`);
        assert.equal(res.statusCode, 400, bad);
        assert.equal(res.json().field, 'factors');
      }
    });

    it('with the real eGRID2022 plants of MISO (MROW subset), egrid-2022 differs from lifecycle', sharedDataTest(), async () => {
      await insertPlants(db, 2022, readCodeCsv(sharedPath('egrid', 'egrid2022_PLNT22_MROW_and_NE_subset.csv')).map(plantFromCodes));
      const egrid = (await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(1)}&basis=production&factors=egrid-2022`)).json();
      const lifecycle = (await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(1)}&basis=production`)).json();
      assert.deepEqual(egrid.egrid.fellBack, []);
      // eGRID's stack CO2 for MISO coal (~1,000 kg/MWh) is above IPCC's lifecycle 820; its wind is ~0, not 11
      assert.ok(egrid.points[0].value > lifecycle.points[0].value, `${egrid.points[0].value} vs ${lifecycle.points[0].value}`);
      const factors = (await app.inject('/api/v1/egrid/emission-factors?year=2022&ba=MISO')).json();
      const f = Object.fromEntries(factors.data[0].factors.map((x: { fuel: string; value: number }) => [x.fuel, x.value]));
      const expected = (MIX.COL * f.COL + MIX.NG * f.NG + MIX.WND * f.WND) / (MIX.COL + MIX.NG + MIX.WND);
      assert.ok(Math.abs(egrid.points[0].value - expected) < 1e-9);
      const consumption = await app.inject(`/api/v1/bas/MISO/intensity?from=${q(0)}&to=${q(1)}&factors=egrid-2022`);
      assert.equal(consumption.statusCode, 200);
    });
  });
}
