import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { importPrices, marketOfPriceSeries, nodeSubtype, planningPriceSeries, priceSeriesKey, readPrices } from './price-repository.ts';
import { marketOfFormat, parsePriceFile } from './price-files.ts';

test('a node has one series per market: day-ahead keeps <BA>.price.<NODE>, real-time is <BA>.price.<NODE>.RT, and plans on the day-ahead one', () => {
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 _-]{0,20}$/), fc.constantFrom('PJM', 'ERCO', 'CISO'), (node, ba) => {
    fc.pre(/[A-Za-z0-9]/.test(node));
    const da = priceSeriesKey(ba, node, 'da'), rt = priceSeriesKey(ba, node, 'rt');
    assert.notEqual(da, rt);
    assert.equal(da, `${ba}.price.${nodeSubtype(node)}`);
    assert.equal(priceSeriesKey(ba, node), da, 'day-ahead is the default');
    assert.deepEqual([marketOfPriceSeries(da), marketOfPriceSeries(rt)], ['da', 'rt']);
    assert.deepEqual([planningPriceSeries(da), planningPriceSeries(rt)], [da, da]);
  }));
  const header = 'datetime_beginning_utc,pnode_name,total_lmp_XX,row_is_current\n1/1/2024 5:00:00 AM,WESTERN HUB,20,True\n';
  assert.equal(marketOfFormat(parsePriceFile(header.replace('XX', 'da')).format), 'da');
  assert.equal(marketOfFormat(parsePriceFile(header.replace('XX', 'rt')).format), 'rt');
  assert.equal(marketOfFormat(parsePriceFile('ts,price\n2024-01-01T00:00:00Z,1\n').format), undefined);
});

for (const target of testDatabases()) {
  describe(`price markets on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    test('real-time prices imported after day-ahead ones for the same hours change nothing in the day-ahead series', async () => {
      const hours = Array.from({ length: 6 }, (_, i) => new Date(Date.UTC(2024, 6, 1, 4 + i)));
      const da = await importPrices(db, 'PJM', 'MKT HUB', hours.map((ts, i) => ({ ts, price: 30 + i })), 'da');
      const rt = await importPrices(db, 'PJM', 'MKT HUB', hours.map((ts, i) => ({ ts, price: 90 - i })), 'rt');
      assert.deepEqual([da.series, da.inserted], ['PJM.price.MKT_HUB', 6]);
      assert.deepEqual([rt.series, rt.inserted, rt.updated], ['PJM.price.MKT_HUB.RT', 6, 0]);
      const to = new Date(hours[5]!.getTime() + 3_600_000);
      assert.deepEqual(await readPrices(db, 'PJM.price.MKT_HUB', hours[0]!, to), [30, 31, 32, 33, 34, 35]);
      assert.deepEqual(await readPrices(db, 'PJM.price.MKT_HUB.RT', hours[0]!, to), [90, 89, 88, 87, 86, 85]);
      assert.deepEqual(await readPrices(db, planningPriceSeries('PJM.price.MKT_HUB.RT'), hours[0]!, to), [30, 31, 32, 33, 34, 35]);
    });
  });
}
