import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parsePriceFile } from './price-files.ts';
import { importPrices, nodeSubtype, readPrices } from './price-repository.ts';
import { tariffPrices, tariffSchema } from './tariff.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { ingestBatch } from '../../ingest/data-api.ts';
import { pino } from 'pino';

const PJM_HEADER = 'datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,zone,system_energy_price_rt,total_lmp_rt,congestion_price_rt,marginal_loss_price_rt,row_is_current,version_nbr';
const pjmRow = (utc: string, ept: string, lmp: string, current = 'True', version = 1) =>
  `${utc},${ept},51288,WESTERN HUB,,,HUB,,${lmp},${lmp},0,0,${current},${version}`;

test('PJM export: the fall-back hour appears twice in EPT and stays two hours in UTC; superseded rows are skipped', () => {
  const text = [PJM_HEADER,
    pjmRow('11/3/2024 4:00:00 AM', '11/3/2024 12:00:00 AM', '20.5'),
    pjmRow('11/3/2024 5:00:00 AM', '11/3/2024 1:00:00 AM', '17.07'),
    pjmRow('11/3/2024 6:00:00 AM', '11/3/2024 1:00:00 AM', '15.40'),     // the repeated 1 AM EPT
    pjmRow('11/3/2024 7:00:00 AM', '11/3/2024 2:00:00 AM', '99', 'False', 1), // superseded by version 2 below
    pjmRow('11/3/2024 7:00:00 AM', '11/3/2024 2:00:00 AM', '16.2', 'True', 2),
    pjmRow('11/3/2024 8:00:00 AM', '11/3/2024 3:00:00 AM', 'n/a'),
    pjmRow('13/3/2024 8:00:00 AM', '11/3/2024 3:00:00 AM', '1'),
    ''].join('\r\n');
  const f = parsePriceFile(text);
  assert.equal(f.format, 'pjm-rt');
  assert.equal(f.node, 'WESTERN HUB');
  assert.deepEqual(f.points.map((p) => [p.ts.toISOString(), p.price]), [
    ['2024-11-03T04:00:00.000Z', 20.5], ['2024-11-03T05:00:00.000Z', 17.07], ['2024-11-03T06:00:00.000Z', 15.4], ['2024-11-03T07:00:00.000Z', 16.2]]);
  assert.equal(f.superseded, 1);
  assert.deepEqual(f.rejected.map((r) => r.line), [7, 8]);
  assert.match(f.rejected[0]!.reason, /price "n\/a"/);
});

test('plain CSV: ts with offsets (the fall-back hour as -04:00 then -05:00) keys on UTC; bad rows are named', () => {
  const f = parsePriceFile('ts,price\n2024-11-03T01:00:00-04:00,30\n2024-11-03T01:00:00-05:00,31.5\n2024-11-03T02:00:00-05:00,-3\n2024-11-03T02:30:00-05:00,1\nyesterday,1\n');
  assert.equal(f.format, 'csv');
  assert.deepEqual(f.points.map((p) => [p.ts.toISOString(), p.price]), [
    ['2024-11-03T05:00:00.000Z', 30], ['2024-11-03T06:00:00.000Z', 31.5], ['2024-11-03T07:00:00.000Z', -3]]);
  assert.deepEqual(f.rejected.map((r) => r.line), [5, 6]);
  assert.throws(() => parsePriceFile('when,value\n'), /not a price file/);
});

test('real PJM files: Western Hub 2024 DA and RT, current rows only, fall-back hour kept twice', sharedDataTest(), () => {
  const da = parsePriceFile(readFileSync(sharedPath('prices/pjm/pjm_western_hub_da_hrl_lmps_2024.csv'), 'utf8'));
  assert.equal(da.format, 'pjm-da');
  assert.equal(da.points.length, 8761);
  assert.equal(da.rejected.length, 0);
  const at = (iso: string) => da.points.find((p) => p.ts.toISOString() === iso)?.price;
  assert.equal(at('2024-11-03T05:00:00.000Z'), 17.070833);
  assert.equal(at('2024-11-03T06:00:00.000Z'), 15.40302);
  const rt = parsePriceFile(readFileSync(sharedPath('prices/pjm/pjm_western_hub_rt_hrl_lmps_2024.csv'), 'utf8'));
  assert.equal(rt.format, 'pjm-rt');
  assert.equal(rt.superseded, 24);
  assert.equal(rt.points.length, 8761);
  assert.equal(rt.conflicts, 0);
});

test('tariffs: dynamic adds adders to $/MWh ÷ 1000; TOU by local hour, weekday and season; flat; export credits', () => {
  const hours = [new Date('2024-07-01T21:00:00Z'), new Date('2024-07-06T21:00:00Z'), new Date('2024-01-01T06:00:00Z')]; // Mon 17:00 EDT, Sat 17:00 EDT, Jan 1 01:00 EST
  const dyn = tariffPrices(tariffSchema.parse({ kind: 'dynamic', priceSeries: 'PJM.price.WESTERN_HUB', adders: 0.1 }), hours, [50, null, -10]);
  assert.deepEqual(dyn.importPrice.map((v) => +v.toFixed(6)), [0.15, 0.12, 0.09]); // the missing hour takes the mean (20 $/MWh)
  assert.deepEqual(dyn.missing, [hours[1]]);
  assert.deepEqual(dyn.exportPrice, dyn.importPrice);
  const tou = tariffPrices(tariffSchema.parse({
    kind: 'tou', timeZone: 'America/New_York', otherwise: 0.1, exportCredit: { kind: 'fixed', rate: 0.04 },
    periods: [{ fromHour: 16, toHour: 21, weekdays: [1, 2, 3, 4, 5], months: [6, 7, 8, 9], price: 0.4 }, { fromHour: 23, toHour: 7, price: 0.05 }],
  }), hours);
  assert.deepEqual(tou.importPrice, [0.4, 0.1, 0.05]);
  assert.deepEqual(tou.exportPrice, [0.04, 0.04, 0.04]);
  assert.equal(tariffPrices(tariffSchema.parse({ kind: 'flat', price: 0.2 }), hours).exportPrice, null);
  assert.equal(tariffSchema.safeParse({ kind: 'flat', price: 'cheap' }).success, false);
});

test('tariffs: an energy override (an OpenADR PRICE event, $/MWh) replaces the wholesale price under the adders, or the TOU/flat price; a `same` credit follows it', () => {
  const hours = [new Date('2024-07-01T21:00:00Z'), new Date('2024-07-01T22:00:00Z'), new Date('2024-07-01T23:00:00Z')];
  const energy = [null, 300, -20];
  const dyn = tariffPrices(tariffSchema.parse({ kind: 'dynamic', priceSeries: 'PJM.price.WESTERN_HUB', adders: 0.1 }), hours, [50, 60, null], energy);
  assert.deepEqual(dyn.importPrice.map((v) => +v.toFixed(6)), [0.15, 0.4, 0.08]);
  assert.deepEqual([dyn.missing, dyn.exportPrice], [[], dyn.importPrice]); // an hour an event prices is not missing
  const flat = tariffPrices(tariffSchema.parse({ kind: 'flat', price: 0.2, exportCredit: { kind: 'same' } }), hours, undefined, energy);
  assert.deepEqual(flat.importPrice, [0.2, 0.3, -0.02]);
  assert.deepEqual(flat.exportPrice, flat.importPrice);
  const fixed = tariffPrices(tariffSchema.parse({ kind: 'flat', price: 0.2, exportCredit: { kind: 'fixed', rate: 0.03 } }), hours, undefined, energy);
  assert.deepEqual(fixed.exportPrice, [0.03, 0.03, 0.03]);
});

test('node names become series subtypes; impossible ones are refused', () => {
  assert.equal(nodeSubtype('WESTERN HUB'), 'WESTERN_HUB');
  assert.equal(nodeSubtype(' pjm-rto '), 'PJM_RTO');
  assert.throws(() => nodeSubtype('***'), /node/);
});

for (const target of testDatabases()) {
  describe(`price series on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    test('import stores $/MWh per UTC hour as PJM.price.<NODE>, idempotently; read returns them hour by hour', async () => {
      const points = [0, 1, 3].map((h) => ({ ts: new Date(Date.UTC(2024, 10, 3, 5 + h)), price: 10 + h }));
      const first = await importPrices(db, 'PJM', 'WESTERN HUB', points);
      assert.equal(first.series, 'PJM.price.WESTERN_HUB');
      assert.equal(first.inserted, 3);
      const again = await importPrices(db, 'PJM', 'WESTERN HUB', [{ ...points[0]!, price: 12.5 }, points[1]!]);
      assert.deepEqual([again.inserted, again.updated], [0, 1]);
      const read = await readPrices(db, 'PJM.price.WESTERN_HUB', new Date(Date.UTC(2024, 10, 3, 5)), new Date(Date.UTC(2024, 10, 3, 10)));
      assert.deepEqual(read, [12.5, 11, null, 13, null]);
      const [series] = await db.query<{ units: string; type: string; source: string }>(`SELECT units, type, source FROM series WHERE key = 'PJM.price.WESTERN_HUB'`);
      assert.deepEqual(series, { units: '$/MWh', type: 'price', source: 'external' });
      await assert.rejects(importPrices(db, 'NOPE', 'X', points), /unknown balancing authority/);
      assert.equal(await readPrices(db, 'PJM.demand', new Date(0), new Date(3_600_000)), undefined);
    });

    test('the data API takes price rows (type price, node as subtype) and creates a $/MWh series', async () => {
      const ts = new Date(Date.now() - 3 * 3_600_000);
      ts.setUTCMinutes(0, 0, 0);
      const r = await ingestBatch({ db, logger: pino({ level: 'silent' }) }, [{ ba: 'PJM', type: 'price', subtype: 'AEP_ZONE', ts: ts.toISOString(), value: -4.5 }], { keyId: 'test' });
      assert.equal(r.accepted, 1, JSON.stringify(r.errors));
      const [series] = await db.query<{ units: string }>(`SELECT units FROM series WHERE key = 'PJM.price.AEP_ZONE'`);
      assert.equal(series?.units, '$/MWh');
    });
  });
}
