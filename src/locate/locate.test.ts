import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../test/support/databases.ts';
import { openTestApp } from '../../test/support/app.ts';
import { sharedDataDir, sharedDataTest } from '../../test/support/shared-data.ts';
import type { Db } from '../platform/db.ts';
import { deriveLocationTable } from './derive.ts';
import { LOCATION_TABLE_FILE } from './locate.ts';

for (const target of testDatabases()) {
  describe(`GET /api/v1/locate on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });
    const get = async (qs: string) => {
      const res = await app.inject(`/api/v1/locate?${qs}`);
      return { status: res.statusCode, type: String(res.headers['content-type']), body: res.json() };
    };

    // Expected answers read off the source files by hand (docs/locations.md lists them).
    it('answers a ZIP code from its predominant utility: 94110 is San Francisco\'s municipal utility in CAISO, eGRID CAMX', async () => {
      const r = await get('zip=94110');
      assert.equal(r.status, 200);
      assert.equal(r.body.ba, 'CISO');
      assert.equal(r.body.subregion, 'CAMX');
      assert.equal(r.body.utility, 'City & County of San Francisco');
      assert.equal(r.body.basis, 'utility');
      assert.equal(r.body.multiple, false);
      assert.match(r.body.note, /^94110, CA is served by California Independent System Operator \(CISO\)\.$/);
    });

    it('says when several BAs serve a place, likeliest first: Houston\'s wires company has no EIA-861 BA, its county spans ERCOT and MISO', async () => {
      const r = await get('zip=77002');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.bas.map((b: { code: string }) => b.code), ['ERCO', 'MISO']);
      assert.equal(r.body.ba, 'ERCO');
      assert.equal(r.body.basis, 'county');
      assert.equal(r.body.multiple, true);
      assert.match(r.body.note, /MISO also serves part of it\.$/);
    });

    it('answers a county, a state (any case) and the District of Columbia (written 11000 in TELL, 11001 by Census)', async () => {
      const alameda = await get('county=06001');
      assert.equal(alameda.body.ba, 'CISO');
      assert.equal(alameda.body.label, 'Alameda County, CA');
      assert.ok(alameda.body.multiple);
      assert.equal((await get('county=11001')).body.ba, 'PJM');
      assert.equal((await get('zip=20001')).body.ba, 'PJM');
      const tx = await get('state=tx');
      assert.equal(tx.body.label, 'Texas');
      assert.ok(tx.body.bas.some((b: { code: string }) => b.code === 'ERCO'));
    });

    it('answers a point from the county that contains it (San Francisco city hall)', async () => {
      const r = await get('lat=37.7793&lon=-122.4193');
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'point');
      assert.equal(r.body.county.fips, '06075');
      assert.equal(r.body.ba, 'CISO');
    });

    it('says so when EIA-930 does not cover the place (Honolulu)', async () => {
      const r = await get('zip=96813');
      assert.equal(r.status, 200);
      assert.equal(r.body.ba, null);
      assert.deepEqual(r.body.bas, [{ code: 'HECO', name: null, covered: false }]);
      assert.match(r.body.note, /not served by a balancing authority that reports to EIA-930 \(HECO\)/);
    });

    it('refuses malformed or ambiguous queries naming the field, and 404s places it does not know', async () => {
      const cases: Array<[string, number, string]> = [
        ['zip=9411', 400, 'zip'], ['zip=94110&state=CA', 400, 'state'], ['lat=37.7', 400, 'lon'], ['lon=-122', 400, 'lat'],
        ['lat=91&lon=0', 400, 'lat'], ['', 400, 'zip'], ['zip=00000', 404, 'zip'], ['lat=0&lon=0', 404, 'lat'], ['state=XX', 404, 'state'],
      ];
      for (const [qs, status, field] of cases) {
        const r = await get(qs);
        assert.equal(r.status, status, qs);
        assert.match(r.type, /application\/problem\+json/, qs);
        assert.match(JSON.stringify(r.body), new RegExp(field), qs);
      }
    });

    it('never answers 500 to any 5-digit ZIP or any point (property)', async () => {
      await fc.assert(fc.asyncProperty(fc.stringMatching(/^\d{5}$/), async (zip) => {
        const r = await get(`zip=${zip}`);
        assert.ok(r.status === 200 || r.status === 404, `${zip}: ${r.status}`);
        if (r.status === 200) assert.ok(r.body.bas.every((b: { code: string }) => /^[A-Z0-9]{2,6}$/.test(b.code)));
      }), { numRuns: 100 });
      await fc.assert(fc.asyncProperty(fc.double({ min: -90, max: 90, noNaN: true }), fc.double({ min: -180, max: 180, noNaN: true }), async (lat, lon) => {
        const r = await get(`lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}`);
        assert.ok(r.status === 200 || r.status === 404, `${lat},${lon}: ${r.status}`);
      }), { numRuns: 50 });
    });
  });
}

describe('the committed location table', () => {
  it('is exactly what scripts/derive-locations.ts derives from the public crosswalks', sharedDataTest(), async () => {
    const derived = await deriveLocationTable(sharedDataDir);
    const committed = JSON.parse(gunzipSync(readFileSync(LOCATION_TABLE_FILE)).toString('utf8'));
    assert.deepEqual(committed, JSON.parse(JSON.stringify(derived)));
    // coverage of the lower 48 + DC: a ZIP code with no BA is the exception (Alaska, Hawaii and Puerto Rico aside)
    const rows = Object.values(derived.zips);
    const lower48 = rows.filter(([state]) => !['AK', 'HI', 'PR'].includes(state));
    const without = lower48.filter(([, , , bas]) => bas.length === 0).length;
    assert.ok(without / lower48.length < 0.01, `${without} of ${lower48.length} ZIP codes without a BA`);
  });
});
