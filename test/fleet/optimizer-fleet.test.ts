import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';
import { importPrices } from '../../src/fleet/prices/price-repository.ts';
import { replanFleet } from '../../src/fleet/optimizer/mpc.ts';
import { fleetIssuer } from '../../src/fleet/optimizer/fleet-issuer.ts';
import { plan } from '../../src/fleet/optimizer/lp.ts';
import { checkSchedule } from '../../src/fleet/schedule-check.ts';
import { getDevice } from '../../src/fleet/device-repository.ts';
import { authHeaders } from '../support/auth.ts';

for (const target of testDatabases()) {
  describe(`optimizer → fleet distribution on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('the re-plan job turns each provisioned device\'s plan into its next schedule version, published and feasible; a re-plan supersedes it', async () => {
      const a = await provision(t, { id: 'opt-bat-1', capacityKwh: 10, maxChargeKw: 4, maxDischargeKw: 5, reserveSocPct: 20, baCode: 'PJM' });
      await reportSoc(t, a, 50);
      const start = Math.floor(t.clock.now() / 3_600_000) * 3_600_000;
      await importPrices(t.db, 'PJM', 'FLEET HUB', Array.from({ length: 30 }, (_, i) => ({ ts: new Date(start + i * 3_600_000), price: i % 24 >= 17 && i % 24 < 21 ? 250 : i % 24 < 5 ? 10 : 45 })));
      const put = await t.app.inject({ method: 'PUT', url: '/api/v1/devices/opt-bat-1/tariff', headers: t.operator, payload: { tariff: { kind: 'dynamic', priceSeries: 'PJM.price.FLEET_HUB', adders: 0.08 } } });
      assert.equal(put.statusCode, 200, put.body);
      const logger = pino({ level: 'silent' });
      const issue = fleetIssuer(t.db, t.bus, logger, { now: t.clock.now });
      t.clock.advance(10 * 60_000);
      const r = await replanFleet({ db: t.db, logger, issue, plan }, new Date(t.clock.now()));
      assert.deepEqual([r.planned, r.failed], [1, 0]);
      const [msg] = t.bus.forDevice('opt-bat-1');
      assert.equal(msg?.version, 1);
      assert.equal(msg!.intervals[0]!.start, new Date(t.clock.now()).toISOString());
      assert.ok(msg!.intervals.some((i) => i.action === 'discharge'), JSON.stringify(msg!.intervals));
      for (const i of msg!.intervals) if (i.action === 'charge') assert.ok(i.powerKw! <= 4 + 1e-9); // the device's own charge limit
      const device = (await getDevice(t.db, 'opt-bat-1'))!;
      assert.equal(checkSchedule(msg!.intervals, device, 50, t.clock.now()), null);
      // the device reports another SoC: the next run re-plans and supersedes version 1
      await reportSoc(t, a, 90, 2);
      t.clock.advance(5 * 60_000);
      await replanFleet({ db: t.db, logger, issue, plan }, new Date(t.clock.now()));
      assert.deepEqual(t.bus.forDevice('opt-bat-1').map((m) => m.version), [1, 2]);
      const [v1] = await t.db.query<{ state: string }>(`SELECT state FROM schedule_versions WHERE device_id = 'opt-bat-1' AND version = 1`);
      assert.equal(v1?.state, 'superseded');
    });

    it('tariffs per device: operators set them, the API names a bad field, viewers and unknown devices are refused', async () => {
      await provision(t, { id: 'opt-bat-2' });
      const tou = { tariff: { kind: 'tou', timeZone: 'America/New_York', otherwise: 0.12, periods: [{ fromHour: 16, toHour: 21, weekdays: [1, 2, 3, 4, 5], price: 0.35 }], exportCredit: { kind: 'fixed', rate: 0.05 } }, carbonPrice: 80 };
      assert.equal((await t.app.inject({ method: 'PUT', url: '/api/v1/devices/opt-bat-2/tariff', headers: t.operator, payload: tou })).statusCode, 200);
      const got = await t.app.inject({ url: '/api/v1/devices/opt-bat-2/tariff', headers: t.operator });
      assert.deepEqual(got.json(), tou);
      const missing = await t.app.inject({ method: 'PUT', url: '/api/v1/devices/opt-bat-2/tariff', headers: t.operator, payload: { tariff: { kind: 'dynamic', priceSeries: 'PJM.price.NOWHERE' } } });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().field, 'tariff/priceSeries');
      const bad = await t.app.inject({ method: 'PUT', url: '/api/v1/devices/opt-bat-2/tariff', headers: t.operator, payload: { tariff: { kind: 'flat', price: 'cheap' } } });
      assert.equal(bad.statusCode, 400);
      assert.equal((await t.app.inject({ method: 'PUT', url: '/api/v1/devices/no-such-bat/tariff', headers: t.operator, payload: tou })).statusCode, 404);
      const viewer = await authHeaders(t.app, t.db, 'viewer');
      assert.equal((await t.app.inject({ method: 'PUT', url: '/api/v1/devices/opt-bat-2/tariff', headers: viewer, payload: tou })).statusCode, 403);
    });
  });
}
