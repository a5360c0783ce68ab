import { memoryCache } from '../src/platform/cache.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from './support/databases.ts';
import { migrate } from '../src/platform/migrate.ts';
import { buildApp } from '../src/app.ts';
import type { Db } from '../src/platform/db.ts';
import { ensureSeries } from '../src/grid/series-repository.ts';
import { upsertObservations, type ObservationInput } from '../src/grid/observation-repository.ts';

const hour = (i: number) => new Date(Date.UTC(2025, 0, 31, 0) + i * 3_600_000);

for (const target of testDatabases()) {
  describe(`observations on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let id: number;
    before(async () => {
      db = await target.open();
      await migrate(db);
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
      id = await ensureSeries(db, { baCode: 'PJM', type: 'demand', subtype: '' });
    });
    after(async () => { await app.close(); await db.close(); });

    it('upserts idempotently across month partitions and counts revisions', async () => {
      const rows: ObservationInput[] = Array.from({ length: 48 }, (_, i) => ({ seriesId: id, ts: hour(i), value: 1000 + i, quality: 'good' }));
      assert.deepEqual(await upsertObservations(db, rows), { inserted: 48, updated: 0 });
      assert.deepEqual(await upsertObservations(db, rows), { inserted: 0, updated: 0 });
      const revised = rows.map((r, i) => (i === 5 ? { ...r, value: 7 } : r));
      assert.deepEqual(await upsertObservations(db, revised), { inserted: 0, updated: 1 });
      const [row] = await db.query<{ value: number; revisions: number }>('SELECT value, revisions FROM observations WHERE series_id = $1 AND ts = $2', [id, hour(5)]);
      assert.deepEqual({ ...row }, { value: 7, revisions: 1 });
      const parts = await db.query(`SELECT 1 FROM pg_inherits WHERE inhparent = 'observations'::regclass`);
      assert.ok(parts.length >= 2);
    });

    it('keeps exactly the last value for every key, whatever the batches (property)', async () => {
      const other = await ensureSeries(db, { baCode: 'PJM', type: 'forecast', subtype: '' });
      await fc.assert(fc.asyncProperty(
        fc.array(fc.array(fc.record({ h: fc.integer({ min: 0, max: 30 }), v: fc.option(fc.integer({ min: -50, max: 50 })) }), { maxLength: 20 }), { maxLength: 4 }),
        async (batches) => {
          await db.query('DELETE FROM observations WHERE series_id = $1', [other]);
          const expected = new Map<number, number | null>();
          for (const batch of batches) {
            const dedup = new Map(batch.map((b) => [b.h, b.v]));
            await upsertObservations(db, [...dedup].map(([h, v]) => ({ seriesId: other, ts: hour(h), value: v, quality: v === null ? 'missing' : 'good' })));
            for (const [h, v] of dedup) expected.set(h, v);
          }
          const got = await db.query<{ ts: Date | string; value: number | null }>('SELECT ts, value FROM observations WHERE series_id = $1', [other]);
          assert.equal(got.length, expected.size);
          for (const g of got) assert.equal(g.value, expected.get((new Date(g.ts).getTime() - hour(0).getTime()) / 3_600_000));
        }), { numRuns: 15 });
    });

    it('serves a range as JSON pages and as CSV', async () => {
      const page = (await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-31&to=2025-02-02&limit=30')).json();
      assert.equal(page.data.length, 30);
      assert.equal(page.next, 30);
      assert.equal(page.data[0].ts, '2025-01-31T00:00:00.000Z');
      const rest = (await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-31&to=2025-02-02&limit=30&offset=30')).json();
      assert.equal(rest.data.length, 18);
      assert.equal(rest.next, null);
      const csv = await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-31&to=2025-01-31T02:00Z&format=csv');
      assert.equal(csv.body, 'ts,value,quality\n2025-01-31T00:00:00.000Z,1000,good\n2025-01-31T01:00:00.000Z,1001,good\n');
    });

    it('rejects malformed dates, too-long ranges and unknown series with problem+json', async () => {
      const bad = await app.inject('/api/v1/observations?series=PJM.demand&from=yesterday&to=2025-02-01');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().detail, /from/);
      const long = await app.inject('/api/v1/observations?series=PJM.demand&from=2020-01-01&to=2025-02-01');
      assert.equal(long.statusCode, 400);
      assert.equal(long.json().field, 'to');
      const unknown = await app.inject('/api/v1/observations?series=PJM.nope&from=2025-01-01&to=2025-02-01');
      assert.equal(unknown.statusCode, 404);
      const series = (await app.inject('/api/v1/series?ba=PJM')).json();
      assert.deepEqual(series.data.map((s: { key: string }) => s.key), ['PJM.demand', 'PJM.forecast']);
    });
  });
}
