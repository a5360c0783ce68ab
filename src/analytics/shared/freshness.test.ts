import { openTestApp } from '../../../test/support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import type { Db } from '../../platform/db.ts';
import { expectedLagMinutes, freshnessStatus, lagMinutes } from './freshness.ts';
import { seedHours } from '../daily/daily-test-support.ts';

const MIN = 60_000;
const at = (iso: string) => new Date(iso);

describe('freshness thresholds', () => {
  it('uses EIA publishing delays per type', () => {
    assert.equal(expectedLagMinutes('demand'), 60);
    assert.equal(expectedLagMinutes('forecast'), 0);
    assert.equal(expectedLagMinutes('net_generation'), 1440);
    assert.equal(expectedLagMinutes('generation_by_fuel'), 1440);
    assert.equal(expectedLagMinutes('interchange'), 1440);
    assert.equal(expectedLagMinutes('ba_interchange'), 2880);
  });

  it('measures lag from the end of the newest hour', () => {
    assert.equal(lagMinutes(at('2025-08-01T10:00:00Z'), at('2025-08-01T12:30:00Z')), 90);
    assert.equal(lagMinutes(at('2025-08-02T23:00:00Z'), at('2025-08-01T12:00:00Z')), -(36 * 60));
    assert.equal(lagMinutes(null, at('2025-08-01T12:00:00Z')), null);
  });

  it('demand: fresh to 150 min, late to 300 min, then stale', () => {
    const now = at('2025-08-01T12:00:00Z');
    const newestWithLag = (lag: number) => new Date(now.getTime() - lag * MIN - 60 * MIN);
    assert.equal(freshnessStatus('demand', newestWithLag(150), now), 'fresh');
    assert.equal(freshnessStatus('demand', newestWithLag(151), now), 'late');
    assert.equal(freshnessStatus('demand', newestWithLag(300), now), 'late');
    assert.equal(freshnessStatus('demand', newestWithLag(301), now), 'stale');
    assert.equal(freshnessStatus('demand', null, now), 'stale');
  });

  it('BA-to-BA interchange a day old is fresh, demand a day old is stale', () => {
    const now = at('2025-08-02T12:00:00Z');
    const dayOld = at('2025-08-01T11:00:00Z');
    assert.equal(freshnessStatus('ba_interchange', dayOld, now), 'fresh');
    assert.equal(freshnessStatus('net_generation', dayOld, now), 'fresh');
    assert.equal(freshnessStatus('demand', dayOld, now), 'stale');
  });

  it('status never improves as the data ages', () => {
    const order = { fresh: 0, late: 1, stale: 2 } as const;
    fc.assert(fc.property(
      fc.constantFrom('demand', 'forecast', 'net_generation', 'ba_interchange', 'other'),
      fc.integer({ min: -5000, max: 20_000 }), fc.integer({ min: 0, max: 20_000 }),
      (type, lag, more) => {
        const now = at('2025-08-01T12:00:00Z');
        const newer = new Date(now.getTime() - lag * MIN);
        const older = new Date(newer.getTime() - more * MIN);
        return order[freshnessStatus(type, older, now)] >= order[freshnessStatus(type, newer, now)];
      }));
  });
});

for (const target of testDatabases()) {
  describe(`GET /bas/{code}/freshness on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
    });
    after(async () => { await app.close(); await db.close(); });

    it('reports every series with its newest non-null hour and status', async () => {
      const now = Date.now();
      const hourStart = Math.floor(now / 3_600_000) * 3_600_000;
      // demand through 2 h ago (fresh), with a null newest hour that must be skipped; fuel 5 days old (stale)
      await seedHours(db, 'CISO', 'demand', '', new Date(hourStart - 4 * 3_600_000), [100, 110, 120, null]);
      await seedHours(db, 'CISO', 'generation_by_fuel', 'SUN', new Date(hourStart - 5 * 86_400_000), [5, 6]);
      const res = await app.inject('/api/v1/bas/ciso/freshness');
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.ba, 'CISO');
      assert.equal(body.source, 'eia');
      assert.equal(body.stale, false);
      const demand = body.series.find((s: { key: string }) => s.key === 'CISO.demand');
      assert.equal(demand.newest, new Date(hourStart - 2 * 3_600_000).toISOString());
      assert.equal(demand.status, 'fresh');
      assert.equal(demand.expectedLagMinutes, 60);
      const sun = body.series.find((s: { key: string }) => s.key === 'CISO.fuel.SUN');
      assert.equal(sun.status, 'stale');
      assert.equal(body.dataThrough, demand.newest);
    });

    it('404 naming code for an unknown BA, 400 for a malformed one', async () => {
      const res = await app.inject('/api/v1/bas/NOPE/freshness');
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().field, 'code');
      assert.equal((await app.inject('/api/v1/bas/no-pe!/freshness')).statusCode, 400);
    });
  });
}
