import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../../../test/support/databases.ts';
import { openTestApp } from '../../../test/support/app.ts';
import { authHeaders } from '../../../test/support/auth.ts';
import type { Db } from '../../platform/db.ts';
import { importPrices } from '../prices/price-repository.ts';
import { plan } from './lp.ts';
import { replanDevice } from './mpc.ts';

for (const target of testDatabases()) {
  describe(`optimizer routes on ${target.name}`, () => {
    let db: Db; let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });

    test('backtest: 404 problem before one is stored, then the newest stored result with its Pareto sweep (public)', async () => {
      const none = await app.inject({ url: '/api/v1/optimizer/backtest' });
      assert.equal(none.statusCode, 404);
      assert.match(none.headers['content-type'] ?? '', /problem\+json/);
      const result = { hours: 24, noBattery: { cost: 10, co2Kg: 5, throughputKWh: 0 }, rule: { cost: 9, co2Kg: 5, throughputKWh: 5 }, optimized: { cost: 8, co2Kg: 6, throughputKWh: 9, fallbackHours: 0 },
        perfect: { cost: 7.9, co2Kg: 6, throughputKWh: 9 }, savingsPct: 20, pctOfPerfect: 95.2, intensitySource: 'x', params: { carbonPrice: 0 }, pareto: [{ carbonPrice: 0, cost: 8, co2Kg: 6 }, { carbonPrice: 200, cost: 8.4, co2Kg: 5.5 }] };
      await db.query('INSERT INTO optimizer_backtests (params, result) VALUES ($1::text::jsonb, $2::text::jsonb)', [JSON.stringify(result.params), JSON.stringify(result)]);
      const res = await app.inject({ url: '/api/v1/optimizer/backtest' });
      assert.equal(res.statusCode, 200, res.body);
      const data = res.json().data;
      assert.equal(data.savingsPct, 20);
      assert.deepEqual(data.pareto.map((p: { carbonPrice: number }) => p.carbonPrice), [0, 200]);
    });

    test('savings: analysts see each device\'s newest plan against no battery; anonymous callers and viewers are refused', async () => {
      const points = Array.from({ length: 24 }, (_, i) => ({ ts: new Date(Date.UTC(2025, 2, 10, i)), price: i >= 17 && i < 21 ? 200 : 20 }));
      await importPrices(db, 'PJM', 'ROUTE HUB', points);
      await db.query(`INSERT INTO device_tariffs (device_id, tariff) VALUES ('bat-r1', $1::text::jsonb)`, [JSON.stringify({ kind: 'dynamic', priceSeries: 'PJM.price.ROUTE_HUB' })]);
      await replanDevice({ db, logger: pino({ level: 'silent' }), issue: async () => null, plan }, {
        id: 'bat-r1', baCode: null, socPct: 10, loadKW: 1, battery: { capacityKWh: 10, powerKW: 5, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 },
      }, new Date(Date.UTC(2025, 2, 10, 0)));
      assert.equal((await app.inject({ url: '/api/v1/optimizer/savings' })).statusCode, 401);
      assert.equal((await app.inject({ url: '/api/v1/optimizer/savings', headers: await authHeaders(app, db, 'viewer') })).statusCode, 403);
      const res = await app.inject({ url: '/api/v1/optimizer/savings', headers: await authHeaders(app, db, 'analyst') });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.devices[0].deviceId, 'bat-r1');
      assert.ok(body.devices[0].costUsd < body.devices[0].noBatteryCostUsd);
      assert.deepEqual(body.daily.map((d: { day: string; devices: number }) => [d.day, d.devices]), [['2025-03-10', 1]]);
    });
  });
}
