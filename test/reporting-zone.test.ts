import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { migrate, migrationFiles } from '../src/platform/migrate.ts';
import { getBa } from '../src/grid/ba-repository.ts';
import { localDay } from '../src/grid/local-day.ts';
import { ensureSeries } from '../src/grid/series-repository.ts';
import { upsertObservations } from '../src/grid/observation-repository.ts';
import { dailyBaseline, dailyPulse } from '../src/analytics/daily/pulse.ts';

/**
 * Issue 10 item 2: El Paso Electric lies in the Mountain zone but reports to EIA-930 in Arizona time
 * (no daylight saving), so its July local day is 24 hours from 07:00Z (UTC−7), not from 06:00Z (MDT).
 * Demand values are the hour index i = 0..25 from 2025-07-15T06:00Z: the Arizona day 2025-07-15 holds
 * i = 1..24 (sum 300, minimum 1 at 07:00Z, peak 24 at 06:00Z on the 16th); Denver's would hold
 * i = 0..23 (sum 276).
 */
const H = 3_600_000;
const START = Date.parse('2025-07-15T06:00:00Z');
const VALUES = Array.from({ length: 26 }, (_, i) => i);

async function seedEpeDemand(db: Db): Promise<number> {
  const seriesId = await ensureSeries(db, { baCode: 'EPE', type: 'demand', subtype: '', source: 'eia' });
  await upsertObservations(db, VALUES.map((value, i) => ({ seriesId, ts: new Date(START + i * H), value, quality: 'good' as const })));
  await db.query('SELECT refresh_daily_rollups($1::integer[], $2, $3)', [[seriesId], new Date(START), new Date(START + VALUES.length * H)]);
  return seriesId;
}

async function rollup(db: Db, seriesId: number, day: string) {
  const [r] = await db.query<{ sum: number; count: number; hours: number }>(
    `SELECT sum, count, hours FROM daily_rollups WHERE series_id = $1 AND day = $2`, [seriesId, day]);
  return r ? { sum: Number(r.sum), count: r.count, hours: r.hours } : undefined;
}

for (const target of testDatabases()) {
  describe(`BA-local days use EIA's reporting time zone (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(() => db.close());

    it("EPE's July day is 24 hours from 07:00Z (Arizona time), its January day the same as Mountain time", async () => {
      const epe = (await getBa(db, 'EPE'))!;
      assert.equal(epe.timeZone, 'America/Phoenix');
      assert.equal(epe.geographicTimeZone, 'America/Denver');
      const july = localDay('2025-07-15', epe.timeZone);
      assert.deepEqual([july.from.toISOString(), july.to.toISOString(), july.hours], ['2025-07-15T07:00:00.000Z', '2025-07-16T07:00:00.000Z', 24]);
      assert.equal(localDay('2025-01-15', epe.timeZone).from.toISOString(), '2025-01-15T07:00:00.000Z');
    });

    it("EPE's daily rollup, pulse and baseline cover the Arizona day", async () => {
      const seriesId = await seedEpeDemand(db);
      assert.deepEqual(await rollup(db, seriesId, '2025-07-15'), { sum: 300, count: 24, hours: 24 });
      const now = new Date('2025-08-01T12:00:00Z');
      const p = (await dailyPulse(db, 'EPE', { date: '2025-07-15', now }))!;
      assert.equal(p.timeZone, 'America/Phoenix');
      assert.equal(p.hours, 24);
      assert.equal(p.demand.energyMwh, 300);
      assert.deepEqual([p.demand.minMw, p.demand.minAt], [1, '2025-07-15T07:00:00.000Z']);
      assert.deepEqual([p.demand.peakMw, p.demand.peakAt], [24, '2025-07-16T06:00:00.000Z']);
      assert.equal((await dailyBaseline(db, 'EPE', { date: '2025-07-15', now }))!.timeZone, 'America/Phoenix');
    });
  });

  describe(`migration 0016 rebuilds the rollups of BAs whose zone changed (${target.name})`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      // the schema as it was before 0016, with EPE's day rollups made in Mountain time
      await migrate(db, { before: '0016' });
    });
    after(() => db.close());

    it('re-keys EPE days from Mountain to Arizona time and leaves other BAs alone', async () => {
      const seriesId = await seedEpeDemand(db);
      assert.deepEqual(await rollup(db, seriesId, '2025-07-15'), { sum: 276, count: 24, hours: 24 }, 'Mountain-time day before 0016');
      const cisoId = await ensureSeries(db, { baCode: 'CISO', type: 'demand', subtype: '', source: 'eia' });
      await db.query(`INSERT INTO daily_rollups (series_id, day, avg, min, max, sum, count, hours) VALUES ($1, '2025-07-15', 1, 1, 1, 24, 24, 24)`, [cisoId]);
      assert.deepEqual(await migrate(db), migrationFiles().filter((f) => f >= '0016'));
      assert.deepEqual(await rollup(db, seriesId, '2025-07-15'), { sum: 300, count: 24, hours: 24 });
      assert.deepEqual(await rollup(db, cisoId, '2025-07-15'), { sum: 24, count: 24, hours: 24 }, 'a BA whose zone did not change keeps its rows');
    });
  });
}
