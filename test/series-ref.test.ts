import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { openTestApp } from './support/app.ts';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { ensureSeries, parseSeriesRef, seriesMatches } from '../src/grid/series-repository.ts';
import { upsertObservations } from '../src/grid/observation-repository.ts';

/**
 * GET /api/v1/series lists each series' `id` and `key`; every place that takes a series takes either:
 * GET /api/v1/observations?series=, GET /api/v1/data/latest?series=, GET /api/v1/data/series/{id}/latest
 * and the `series` of a row POSTed to /api/v1/data/observations (the CLI takes no series).
 */
describe('series references: one parser', () => {
  it('reads all digits as an id (within the integer column), anything else as a key', () => {
    assert.deepEqual(parseSeriesRef('12'), { id: 12 });
    assert.deepEqual(parseSeriesRef('007'), { id: 7 });
    assert.deepEqual(parseSeriesRef('2147483647'), { id: 2_147_483_647 });
    assert.deepEqual(parseSeriesRef('2147483648'), { none: '2147483648' });
    assert.deepEqual(parseSeriesRef('CISO.fuel.SUN'), { key: 'CISO.fuel.SUN' });
    fc.assert(fc.property(fc.integer({ min: 0, max: 2_147_483_647 }), (n) => seriesMatches({ id: n, key: 'X.demand' }, String(n)) && !seriesMatches({ id: n, key: String(n) }, 'X.demand')));
    fc.assert(fc.property(fc.stringMatching(/^[A-Z][A-Z0-9]{1,5}\.[a-z_]{3,12}$/), (key) => 'key' in parseSeriesRef(key) && seriesMatches({ id: 1, key }, key)));
  });
});

for (const target of testDatabases()) {
  describe(`a series is named by id or key everywhere (${target.name})`, () => {
    let db: Db;
    let app: FastifyInstance;
    let token: string;
    let eiaId: number;
    let externalId: number;
    const get = (url: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    before(async () => {
      ({ db, app } = await openTestApp(target));
      token = (await createApiKey(db, { kind: 'worker', name: 'series-ref' })).token;
      eiaId = await ensureSeries(db, { baCode: 'CISO', type: 'demand', subtype: '', source: 'eia' });
      externalId = await ensureSeries(db, { baCode: 'CISO', type: 'co2', subtype: '', units: 'tCO2', source: 'external' });
      await upsertObservations(db, [0, 1, 2].map((h) => ({ seriesId: eiaId, ts: new Date(Date.UTC(2025, 6, 1, h)), value: 100 + h, quality: 'good' as const })));
    });
    after(async () => { await app.close(); await db.close(); });

    it('GET /api/v1/series lists the id that the other endpoints take', async () => {
      const listed = (await app.inject('/api/v1/series?ba=CISO&type=demand')).json().data as Array<{ id: number; key: string }>;
      assert.deepEqual(listed.map((s) => [s.id, s.key]), [[eiaId, 'CISO.demand']]);
    });

    it('/api/v1/observations answers the same for the id as for the key; unknown or out-of-range ids are 404, bad refs 400', async () => {
      const q = 'from=2025-07-01T00:00Z&to=2025-07-01T03:00Z';
      const byKey = await app.inject(`/api/v1/observations?series=CISO.demand&${q}`);
      const byId = await app.inject(`/api/v1/observations?series=${eiaId}&${q}`);
      assert.equal(byId.statusCode, 200);
      assert.deepEqual(byId.json(), byKey.json());
      assert.deepEqual((byId.json().data as Array<{ value: number }>).map((r) => r.value), [100, 101, 102]);
      assert.equal((await app.inject(`/api/v1/observations?series=${eiaId}&${q}&format=csv`)).body, (await app.inject(`/api/v1/observations?series=CISO.demand&${q}&format=csv`)).body);
      for (const ref of ['999999', '99999999999']) {
        const res = await app.inject(`/api/v1/observations?series=${ref}&${q}`);
        assert.deepEqual([res.statusCode, res.json().field], [404, 'series'], ref);
      }
      const bad = await app.inject(`/api/v1/observations?series=${encodeURIComponent('CISO demand;')}&${q}`);
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /series/);
    });

    it('/api/v1/data/latest and /data/series/{id}/latest take both, and list only what names nothing as unknown', async () => {
      const both = (await get(`/api/v1/data/latest?series=CISO.demand,${eiaId},0${eiaId},424242`)).json();
      assert.deepEqual((both.data as Array<{ id: number; value: number }>).map((d) => [d.id, d.value]), [[eiaId, 102]]);
      assert.deepEqual(both.unknown, ['424242']);
      assert.deepEqual((await get(`/api/v1/data/series/${eiaId}/latest`)).json(), (await get('/api/v1/data/series/CISO.demand/latest')).json());
    });

    it('POST /api/v1/data/observations takes a row naming its series by id', async () => {
      const res = await app.inject({
        method: 'POST', url: '/api/v1/data/observations', headers: { authorization: `Bearer ${token}` },
        payload: { rows: [
          { series: String(externalId), ts: '2025-07-01T00:00:00Z', value: 5 },
          { series: 'CISO.co2', ts: '2025-07-01T01:00:00Z', value: 6 },
          { series: String(externalId), ts: '2025-07-01T01:00:00Z', value: 7 },
          { series: '424242', ts: '2025-07-01T02:00:00Z', value: 8 },
        ] },
      });
      const body = res.json();
      assert.deepEqual([body.accepted, body.inserted, body.rejected], [1, 1, 3]);
      // the id and the key name one series: rows 1 and 2 give its 01:00 two values, so both are refused (the batch duplicate rule)
      assert.deepEqual(body.errors.map((e: { index: number; field: string }) => [e.index, e.field]), [[1, 'value'], [2, 'value'], [3, 'series']]);
    });
  });
}
