import { openTestApp } from '../../../test/support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import type { Db } from '../../platform/db.ts';
import { seedHours } from './daily-test-support.ts';


/** One CISO local day: flat demand, forecast +10 %, solar 200 at midday, wind 100, gas the rest, exports 50. */
async function seedDay(db: Db, fromIso: string, hours: number, demand: number, gaps: number[] = []) {
  const from = new Date(fromIso);
  const col = (f: (i: number) => number) => Array.from({ length: hours }, (_, i) => (gaps.includes(i) ? null : f(i)));
  const sun = (i: number) => (i >= 9 && i <= 15 ? 200 : 0);
  await seedHours(db, 'CISO', 'demand', '', from, col(() => demand));
  await seedHours(db, 'CISO', 'forecast', '', from, col(() => demand * 1.1));
  await seedHours(db, 'CISO', 'interchange', '', from, col(() => 50));
  await seedHours(db, 'CISO', 'generation_by_fuel', 'SUN', from, col(sun));
  await seedHours(db, 'CISO', 'generation_by_fuel', 'WND', from, col(() => 100));
  await seedHours(db, 'CISO', 'generation_by_fuel', 'NG', from, col((i) => demand + 50 - 100 - sun(i)));
}

for (const target of testDatabases()) {
  describe(`daily routes on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      await seedDay(db, '2025-11-02T07:00:00Z', 25, 1000); // 25-hour day (DST ends)
      await seedDay(db, '2025-10-26T07:00:00Z', 24, 800); // the same weekday a week before
      await seedDay(db, '2025-03-09T08:00:00Z', 23, 1000, [5]); // 23-hour day (DST starts), one hour missing
    });
    after(async () => { await app.close(); await db.close(); });

    it('Daily Pulse of a 25-hour local day', async () => {
      const res = await app.inject('/api/v1/bas/ciso/pulse?date=2025-11-02');
      assert.equal(res.statusCode, 200, res.body);
      const p = res.json();
      assert.equal(p.ba, 'CISO');
      assert.equal(p.source, 'eia');
      assert.equal(p.stale, false);
      assert.equal(p.timeZone, 'America/Los_Angeles');
      assert.equal(p.hours, 25);
      assert.equal(p.dataThrough, '2025-11-03T07:00:00.000Z');
      assert.equal(p.demand.energyMwh, 25_000);
      assert.equal(p.demand.peakMw, 1000);
      assert.ok(Math.abs(p.forecast.mapePct - 10) < 1e-9);
      assert.ok(Math.abs(p.forecast.biasPct - 10) < 1e-9);
      // generation: SUN 7 × 200 = 1400, WND 2500, NG 25 × 950 − 1400 = 22350 → 26250
      assert.ok(Math.abs(p.renewableShare - 3900 / 26_250) < 1e-12);
      assert.equal(p.netInterchangeMwh, 1250);
      // gas 490, wind 11, solar 45: cleanest at midday, dirtiest at night
      assert.ok(p.intensity.cleanest.value < p.intensity.dirtiest.value);
      assert.equal(p.missingHours.demand, 0);
      const energy = p.baseline.find((m: { metric: string }) => m.metric === 'demandEnergy');
      assert.deepEqual(energy.priorWeeks, { value: 19_200, diff: 5_800, pct: (5_800 / 19_200) * 100, days: ['2025-10-26'] });
      assert.equal(energy.lastYear, null);
      assert.match(energy.reasons.lastYear, /2024-11-02/);
    });

    it('Daily Pulse of a 23-hour day counts its missing hour', async () => {
      const p = (await app.inject('/api/v1/bas/CISO/pulse?date=2025-03-09')).json();
      assert.equal(p.hours, 23);
      assert.equal(p.missingHours.demand, 1);
      // 22 of 23 hours present: the sum of 22 hours is not the day's energy
      assert.equal(p.demand.energyMwh, null);
      assert.equal(p.reasons['demand.energyMwh'], 'demand missing for 1 of 23 hours (needs every hour)');
      const energy = p.baseline.find((m: { metric: string }) => m.metric === 'demandEnergy');
      assert.equal(energy.value, null);
      assert.equal(energy.reasons.value, p.reasons['demand.energyMwh']);
      assert.equal(energy.priorWeeks, null);
      assert.ok(energy.reasons.priorWeeks);
    });

    it('consumption basis equals production basis for a BA without interchange', async () => {
      const prod = (await app.inject('/api/v1/bas/CISO/pulse?date=2025-11-02')).json();
      const cons = (await app.inject('/api/v1/bas/CISO/pulse?date=2025-11-02&basis=consumption')).json();
      assert.equal(cons.basis, 'consumption');
      assert.ok(Math.abs(cons.intensity.avg - prod.intensity.avg) < 1e-9);
      assert.deepEqual(cons.intensity.cleanest.ts, prod.intensity.cleanest.ts);
      assert.equal(cons.missingHours.intensity, 0);
    });

    it('baseline alone matches the pulse baseline', async () => {
      const b = (await app.inject('/api/v1/bas/CISO/baseline?date=2025-11-02')).json();
      const p = (await app.inject('/api/v1/bas/CISO/pulse?date=2025-11-02')).json();
      assert.deepEqual(b.metrics, p.baseline);
      assert.equal(b.date, '2025-11-02');
    });

    it('duck curve over a range, JSON and CSV', async () => {
      const q = 'from=2025-11-02T07:00:00Z&to=2025-11-03T08:00:00Z';
      const d = (await app.inject(`/api/v1/bas/CISO/duck?${q}`)).json();
      assert.equal(d.hours.length, 25);
      assert.equal(d.hours[12].netLoadMw, 1000 - 200 - 100);
      assert.deepEqual(d.days.map((x: { date: string }) => x.date), ['2025-11-02']);
      // belly 700 (solar hours), evening 900 → score (900 − 700) / 900
      assert.ok(Math.abs(d.days[0].score - 200 / 900) < 1e-12);
      assert.equal(d.trend.days, 1);
      const csv = await app.inject(`/api/v1/bas/CISO/duck?${q}&format=csv`);
      assert.match(csv.headers['content-type'] as string, /text\/csv/);
      const lines = csv.body.trim().split('\n');
      assert.equal(lines[0], 'ts,demand_mw,solar_mw,wind_mw,net_load_mw');
      assert.equal(lines.length, 26);
    });

    it('rejects bad input naming the field, 404 for an unknown BA', async () => {
      const bad = await app.inject('/api/v1/bas/CISO/pulse?date=2025-02-30');
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, 'date');
      assert.equal((await app.inject('/api/v1/bas/CISO/pulse?basis=both')).json().field, 'basis');
      const future = await app.inject('/api/v1/bas/CISO/baseline?date=2999-01-01');
      assert.equal(future.statusCode, 400);
      assert.equal(future.json().field, 'date');
      const unknown = await app.inject('/api/v1/bas/NOPE/pulse?date=2025-11-02');
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().field, 'code');
      const backwards = await app.inject('/api/v1/bas/CISO/duck?from=2025-11-03T00:00:00Z&to=2025-11-02T00:00:00Z');
      assert.equal(backwards.statusCode, 400);
      assert.equal(backwards.json().field, 'to');
    });

    it('documents the metrics in the OpenAPI document', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      for (const path of ['/api/v1/bas/{code}/pulse', '/api/v1/bas/{code}/baseline', '/api/v1/bas/{code}/duck', '/api/v1/bas/{code}/freshness']) {
        assert.ok(doc.paths[path]?.get?.description?.length > 100, path);
      }
      assert.match(doc.paths['/api/v1/bas/{code}/duck'].get.description, /eveningPeakMw − bellyMw/);
    });
  });
}
