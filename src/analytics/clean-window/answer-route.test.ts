import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import { openTestApp } from '../../../test/support/app.ts';
import type { Db } from '../../platform/db.ts';
import { seedHours } from '../daily/daily-test-support.ts';

const H = 3_600_000;
const T = Date.parse('2025-07-15T17:00:00Z'); // 12:00 in Chicago (CDT, UTC−5), where ERCO lies

for (const target of testDatabases()) {
  describe(`GET /api/v1/bas/{code}/answer on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      // 14 days before T: hydro 1 000 MWh every hour (24 g/kWh), except at 12:00 CDT, half coal (820) half hydro:
      // (500 · 820 + 500 · 24) / 1 000 = 422, the usual for noon. At T itself: coal only, 820.
      const from = T - 14 * 24 * H;
      const hours = 14 * 24 + 1;
      const noon = (i: number) => (from + i * H - T) % (24 * H) === 0;
      await seedHours(db, 'ERCO', 'generation_by_fuel', 'WAT', new Date(from), Array.from({ length: hours }, (_, i) => (i === hours - 1 ? 0 : noon(i) ? 500 : 1_000)));
      await seedHours(db, 'ERCO', 'generation_by_fuel', 'COL', new Date(from), Array.from({ length: hours }, (_, i) => (i === hours - 1 ? 1_000 : noon(i) ? 500 : 0)));
      // the stored forecast, made after T: 600 g/kWh each hour from T+1 h for 30 hours, except 100 from T+5 h to T+8 h
      const madeAt = new Date(T + H);
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('ERCO', 'intensity', $1, 'm', 'eia', $2, 1)`, [madeAt, new Date(T)]);
      for (let k = 1; k <= 30; k++) {
        const v = k >= 5 && k <= 7 ? 100 : 600;
        await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ('ERCO', 'intensity', $1, $2, $3, $3, $3, 'm')`, [madeAt, new Date(T + k * H), v]);
      }
    });
    after(async () => { await app.close(); await db.close(); });

    it('answers in words: now against the usual for the hour, and the cleanest 3 hours with the saving (hand-computed)', async () => {
      const res = await app.inject('/api/v1/bas/erco/answer?duration=PT3H');
      assert.equal(res.statusCode, 200, res.body);
      const a = res.json();
      assert.deepEqual(a.now, { hour: new Date(T).toISOString(), value: 820 });
      assert.deepEqual(a.usual, { value: 422, days: 14 });
      assert.equal(a.comparison, 'dirtier');
      // T+5 h = 22:00Z = 17:00 CDT; (820 − 100) / 820 = 87.8 %
      assert.equal(a.cleanest.start, new Date(T + 5 * H).toISOString());
      assert.equal(a.cleanest.avg, 100);
      assert.ok(Math.abs(a.cleanest.savingsPct - 87.8048780) < 1e-6);
      assert.equal(a.timeZone, 'America/Chicago');
      assert.equal(a.sentence, 'Now: 820 g/kWh, dirtier than usual for this hour. Cleanest 3 h in the next 24 h: 17:00–20:00, 88 % less than now.');
    });

    it('refuses a bad duration naming the field, and an unknown BA with 404', async () => {
      const bad = await app.inject('/api/v1/bas/ERCO/answer?duration=PT5M');
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, 'duration');
      assert.equal((await app.inject('/api/v1/bas/NOPE/answer')).statusCode, 404);
    });

    it('says there is nothing yet for a BA with no data', async () => {
      const a = (await app.inject('/api/v1/bas/CISO/answer')).json();
      assert.equal(a.now, null);
      assert.equal(a.sentence, 'No recent carbon intensity for this grid yet.');
    });
  });
}
