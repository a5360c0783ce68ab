import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { ensureSeries } from '../../grid/series-repository.ts';
import { upsertObservations } from '../../grid/observation-repository.ts';
import { loadBaHours } from './hourly.ts';

const H = (h: number) => new Date(Date.UTC(2025, 6, 31, 22) + h * 3_600_000); // crosses a month partition at h = 2

for (const target of testDatabases()) {
  describe(`loadBaHours on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      const demand = await ensureSeries(db, { baCode: 'CISO', type: 'demand', subtype: '', source: 'simulated' });
      const sun = await ensureSeries(db, { baCode: 'CISO', type: 'generation_by_fuel', subtype: 'SUN', source: 'simulated' });
      const bpat = await ensureSeries(db, { baCode: 'CISO', type: 'ba_interchange', subtype: 'BPAT', source: 'simulated' });
      const other = await ensureSeries(db, { baCode: 'ERCO', type: 'demand', subtype: '', source: 'simulated' });
      const otherForecast = await ensureSeries(db, { baCode: 'ERCO', type: 'forecast', subtype: '', source: 'simulated' });
      await upsertObservations(db, [
        { seriesId: demand, ts: H(-1), value: 1, quality: 'good' }, // before the range
        { seriesId: demand, ts: H(0), value: 100, quality: 'good' },
        { seriesId: demand, ts: H(1), value: null, quality: 'missing' },
        { seriesId: demand, ts: H(3), value: 130.5, quality: 'good' }, // H(2) absent: a gap
        { seriesId: sun, ts: H(2), value: -2, quality: 'good' },
        { seriesId: bpat, ts: H(4), value: null, quality: 'missing' },
        { seriesId: demand, ts: H(5), value: 9, quality: 'good' }, // at `to`: excluded
        { seriesId: other, ts: H(0), value: 555, quality: 'good' },
        { seriesId: otherForecast, ts: H(3), value: 600, quality: 'good' }, // day-ahead: ahead of the observed data
      ]);
    });
    after(async () => { await db.close(); });

    it('aligns every series on the hour starts of [from, to), keeping nulls and gaps as null', async () => {
      const h = (await loadBaHours(db, 'CISO', H(0), H(5)))!;
      assert.deepEqual(h.ts.map((t) => t.toISOString()), [0, 1, 2, 3, 4].map((i) => H(i).toISOString()));
      assert.deepEqual(h.demand, [100, null, null, 130.5, null]);
      assert.deepEqual(h.fuels, { SUN: [null, null, -2, null, null] });
      assert.deepEqual(h.interchange, { BPAT: [null, null, null, null, null] });
      assert.deepEqual(h.forecast, [null, null, null, null, null]);
      assert.equal(h.dataThrough?.toISOString(), H(3).toISOString(), 'newest non-null hour');
      assert.equal(h.source, 'simulated');
    });

    it('dates dataThrough by observed hours only: a day-ahead forecast reaching further does not count', async () => {
      const h = (await loadBaHours(db, 'ERCO', H(0), H(5)))!;
      assert.deepEqual(h.forecast, [null, null, null, 600, null]);
      assert.equal(h.dataThrough?.toISOString(), H(0).toISOString());
    });

    it('keeps the fuels (and interchange partners, read the same way) in series order whatever plan the database picks (hashed or sorted groups)', async () => {
      // created out of alphabetical order: the answer's key order is the series' (their ids), not the plan's
      const fuels = ['WND', 'COL', 'NG', 'WAT', 'NUC', 'OIL', 'OTH', 'GEO'];
      for (const [i, f] of fuels.entries()) {
        const id = await ensureSeries(db, { baCode: 'PJM', type: 'generation_by_fuel', subtype: f, source: 'simulated' });
        await upsertObservations(db, [0, 1, 2, 3].map((h) => ({ seriesId: id, ts: H(h), value: 10 * i + h, quality: 'good' as const })));
      }
      for (const settings of [[], ['SET LOCAL enable_sort = off'], ['SET LOCAL enable_hashagg = off']]) {
        const h = await db.transaction(async (tx) => {
          for (const set of settings) await tx.query(set);
          return (await loadBaHours(tx, 'PJM', H(0), H(4)))!;
        });
        assert.deepEqual(Object.keys(h.fuels), fuels, `key order with ${settings.join(', ') || 'the default plan'}`);
        assert.deepEqual(h.fuels.NG, [20, 21, 22, 23]);
      }
    });

    it('reads only the series types asked for', async () => {
      const h = (await loadBaHours(db, 'CISO', H(0), H(5), ['demand', 'forecast']))!;
      assert.deepEqual(h.demand, [100, null, null, 130.5, null]);
      assert.deepEqual([h.fuels, h.interchange], [{}, {}]);
      const fuelOnly = (await loadBaHours(db, 'CISO', H(0), H(5), ['generation_by_fuel']))!;
      assert.deepEqual([fuelOnly.demand, fuelOnly.fuels], [[null, null, null, null, null], { SUN: [null, null, -2, null, null] }]);
    });

    it('answers an empty range, a range without data, and an unknown BA', async () => {
      assert.equal((await loadBaHours(db, 'CISO', H(0), H(0)))!.ts.length, 0);
      const none = (await loadBaHours(db, 'CISO', H(100), H(103)))!;
      assert.deepEqual([none.demand, none.dataThrough, none.source], [[null, null, null], null, 'none']);
      assert.equal(await loadBaHours(db, 'NOPE', H(0), H(5)), undefined);
    });
  });
}
