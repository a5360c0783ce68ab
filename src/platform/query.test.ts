import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../../test/support/app.ts';
import { testDatabases } from '../../test/support/databases.ts';
import type { Db } from './db.ts';
import { queryDecimal, queryInt } from './query.ts';

describe('query numbers', () => {
  it('take plain decimal text only, then their bounds', () => {
    const hours = queryInt(1, 168);
    assert.equal(hours.parse('48'), 48);
    for (const bad of ['0x10', '1e1', ' 5', '5 ', '+5', '-1', '0', '169', '4.5', '', 'NaN', 'Infinity']) assert.equal(hours.safeParse(bad).success, false, bad);
    const lat = queryDecimal(-90, 90);
    assert.equal(lat.parse('-37.7793'), -37.7793);
    for (const bad of ['0x10', '1e1', '91', '--1', '.5', ' 1']) assert.equal(lat.safeParse(bad).success, false, bad);
  });

  it('accept exactly the decimal integers in range (property)', () => {
    const n = queryInt(1, 1000);
    fc.assert(fc.property(fc.integer({ min: -5, max: 2000 }), (v) => {
      assert.equal(n.safeParse(String(v)).success, v >= 1 && v <= 1000);
    }));
  });
});

for (const target of testDatabases()) {
  describe(`numeric query parameters of the API on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });

    it('refuse hex, exponent and padded numbers with a 400 naming the parameter (they used to be read as 16, 10 and 5)', async () => {
      const cases: Array<[string, string]> = [
        ['/api/v1/bas/CISO/forecast?hours=0x10', 'hours'], ['/api/v1/bas/CISO/forecast/accuracy?days=0x7', 'days'],
        ['/api/v1/pipeline/runs?limit=1e1', 'limit'], ['/api/v1/bas/CISO/clean-window?count=%205', 'count'],
        ['/api/v1/emissions/forecasts/current?location=CISO&windowSize=0x10', 'windowSize'], ['/api/v1/locate?lat=0x10&lon=1', 'lat'],
      ];
      for (const [url, field] of cases) {
        const res = await app.inject(url);
        assert.equal(res.statusCode, 400, url);
        assert.match(JSON.stringify(res.json()), new RegExp(field), url);
      }
      assert.notEqual((await app.inject('/api/v1/pipeline/runs?limit=10')).statusCode, 400);
    });
  });
}
