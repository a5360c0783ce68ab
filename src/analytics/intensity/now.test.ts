import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { ensureSeries } from '../../grid/series-repository.ts';
import { upsertObservations } from '../../grid/observation-repository.ts';
import { allNow, baNow, generationFreshness } from './now.ts';

const H = (h: number) => new Date(Date.UTC(2025, 5, 1) + h * 3_600_000);

for (const target of testDatabases()) {
  describe(`newest hours of /now on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // CISO without fuel data: demand through H(1), then an EIA null at H(2); the day-ahead forecast runs to H(5).
      const demand = await ensureSeries(db, { baCode: 'CISO', type: 'demand', subtype: '', source: 'eia' });
      const forecast = await ensureSeries(db, { baCode: 'CISO', type: 'forecast', subtype: '', source: 'eia' });
      await upsertObservations(db, [
        { seriesId: demand, ts: H(0), value: 100, quality: 'good' },
        { seriesId: demand, ts: H(1), value: 110, quality: 'good' },
        { seriesId: demand, ts: H(2), value: null, quality: 'missing' },
        ...[0, 1, 2, 3, 4, 5].map((h) => ({ seriesId: forecast, ts: H(h), value: 120, quality: 'good' as const })),
      ]);
    });
    after(async () => { await db.close(); });

    it('dates the home table by the newest observed non-null hour: past a trailing null, not the forecast', async () => {
      const row = (await allNow(db, generationFreshness, H(6))).data.find((r) => r.ba === 'CISO')!;
      assert.equal(row.dataThrough, H(1).toISOString());
      assert.equal(row.hour, null, 'no fuel hour');
    });

    it("falls back to the newest observed hour for What's Powering Me without fuel data", async () => {
      const now = (await baNow(db, 'CISO', generationFreshness, H(6)))!;
      assert.deepEqual({ hour: now.hour, dataThrough: now.dataThrough, demandMw: now.demandMw }, { hour: H(1).toISOString(), dataThrough: H(1).toISOString(), demandMw: 110 });
    });
  });
}
