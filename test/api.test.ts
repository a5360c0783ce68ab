import { openTestApp } from './support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from './support/databases.ts';
import { migrate, migrationFiles } from '../src/platform/migrate.ts';
import type { Db } from '../src/platform/db.ts';

for (const target of testDatabases()) {
  describe(`API on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      ({ db, app } = await openTestApp(target));
    });
    after(async () => { await app.close(); await db.close(); });

    it('applies every migration once and is ready', async () => {
      assert.deepEqual(await migrate(db), []);
      const res = await app.inject('/readyz');
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().database, db.kind);
      assert.equal(migrationFiles().length >= 2, true);
    });

    it('lists active BAs with IANA time zones', async () => {
      const res = await app.inject('/api/v1/bas');
      assert.equal(res.statusCode, 200);
      const bas = res.json().data as Array<{ code: string; timeZone: string; active: boolean }>;
      assert.ok(bas.length >= 60, `only ${bas.length} BAs`);
      for (const b of bas) {
        assert.equal(b.active, true);
        assert.doesNotThrow(() => new Intl.DateTimeFormat('en-US', { timeZone: b.timeZone }), b.code);
      }
      const codes = bas.map((b) => b.code);
      for (const c of ['PJM', 'CISO', 'MISO', 'ERCO', 'SWPP']) assert.ok(codes.includes(c), c);
      assert.ok(!codes.includes('OVEC'), 'retired BA listed as active');
    });

    it('returns one BA, and 404 problem+json for an unknown one', async () => {
      const ok = await app.inject('/api/v1/bas/ciso');
      assert.equal(ok.json().data.timeZone, 'America/Los_Angeles');
      const res = await app.inject('/api/v1/bas/NOPE');
      assert.equal(res.statusCode, 404);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      assert.equal(res.json().field, 'code');
    });

    it('rejects a malformed code with 400 naming the field', async () => {
      const res = await app.inject('/api/v1/bas/not-a-code!');
      assert.equal(res.statusCode, 400);
      assert.match(res.json().detail, /code/);
    });

    it('serves an OpenAPI document built from the route schemas', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      assert.equal(doc.openapi.startsWith('3'), true);
      assert.ok(doc.paths['/api/v1/bas/{code}']);
    });

    it('creates monthly partitions and rolls up by BA local day (23-hour DST day)', async () => {
      await db.query(`INSERT INTO series (ba_code, type, key) VALUES ('CISO', 'demand', 'CISO.demand')`);
      const [s] = await db.query<{ id: number }>(`SELECT id FROM series WHERE key = 'CISO.demand'`);
      await db.query(`SELECT ensure_observation_partitions('2025-03-01Z', '2025-03-31Z')`);
      // 2025-03-09 in Los Angeles has 23 hours: 08:00Z .. 07:00Z next day
      await db.query(`INSERT INTO observations (series_id, ts, value)
        SELECT $1, g, 100 FROM generate_series('2025-03-09T08:00Z'::timestamptz, '2025-03-10T06:00Z', '1 hour') g`, [s!.id]);
      await db.query(`SELECT refresh_daily_rollups(ARRAY[$1::integer], '2025-03-09T08:00Z', '2025-03-10T07:00Z')`, [s!.id]);
      const [r] = await db.query<{ count: number; hours: number; sum: number }>(
        `SELECT count, hours, sum FROM daily_rollups WHERE series_id = $1 AND day = '2025-03-09'`, [s!.id]);
      assert.deepEqual({ ...r }, { count: 23, hours: 23, sum: 2300 });
      const [latest] = await db.query<{ ts: Date }>(`SELECT ts FROM latest_observations WHERE key = 'CISO.demand'`);
      assert.equal(new Date(latest!.ts).toISOString(), '2025-03-10T06:00:00.000Z');
    });
  });
}
