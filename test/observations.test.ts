import { openTestApp } from './support/app.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { ensureSeries } from '../src/grid/series-repository.ts';
import { upsertObservations, QUALITY, type ObservationInput, type UpsertResult } from '../src/grid/observation-repository.ts';

const hour = (i: number) => new Date(Date.UTC(2025, 0, 31, 0) + i * 3_600_000);

for (const target of testDatabases()) {
  describe(`observations on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let id: number;
    before(async () => {
      ({ db, app } = await openTestApp(target));
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

    it('gives the same counts and the same stored rows through the COPY path as through unnest (property)', async () => {
      const viaUnnest = await ensureSeries(db, { baCode: 'MISO', type: 'generation_by_fuel', subtype: 'COL' });
      const viaCopy = await ensureSeries(db, { baCode: 'MISO', type: 'generation_by_fuel', subtype: 'NG' });
      const stored = async (seriesId: number) => (await db.query<{ ts: Date | string; value: number | null; quality: number; revisions: number }>(
        'SELECT ts, value, quality, revisions FROM observations WHERE series_id = $1 ORDER BY ts', [seriesId]))
        .map((r) => [new Date(r.ts).toISOString(), r.value, r.quality, r.revisions]);
      // hours straddle a month boundary (two partitions); values and qualities collide often, so
      // batches mix new keys, unchanged rows, value revisions and quality-only changes
      const batch = fc.uniqueArray(fc.record({
        h: fc.integer({ min: 0, max: 40 }).map((i) => i * 3),
        v: fc.option(fc.integer({ min: -2, max: 2 }).map((x) => x * 1.5), { nil: null }),
        q: fc.constantFrom(...QUALITY),
      }), { selector: (r) => r.h, maxLength: 41 });
      await fc.assert(fc.asyncProperty(fc.array(batch, { maxLength: 5 }), async (batches) => {
        await db.query('DELETE FROM observations WHERE series_id = ANY ($1::integer[])', [[viaUnnest, viaCopy]]);
        for (const b of batches) {
          const rows = (seriesId: number): ObservationInput[] => b.map((r) => ({ seriesId, ts: hour(r.h), value: r.v, quality: r.q }));
          const a: UpsertResult = await upsertObservations(db, rows(viaUnnest), { path: 'unnest' });
          const c: UpsertResult = await upsertObservations(db, rows(viaCopy), { path: 'copy' });
          assert.deepEqual(c, a);
        }
        assert.deepEqual(await stored(viaCopy), await stored(viaUnnest));
      }), { numRuns: 25 });
    });

    it('refuses a batch that repeats a new key on either path, writing nothing', async () => {
      const dup = await ensureSeries(db, { baCode: 'MISO', type: 'generation_by_fuel', subtype: 'OIL' });
      const rows: ObservationInput[] = [0, 1, 1].map((h) => ({ seriesId: dup, ts: hour(h), value: h, quality: 'good' }));
      for (const path of ['unnest', 'copy'] as const) {
        await assert.rejects(upsertObservations(db, rows, { path }), /affect row a second time/);
        assert.equal((await db.query('SELECT 1 FROM observations WHERE series_id = $1', [dup])).length, 0);
      }
    });

    it('counts right when another transaction inserts the same new keys while a COPY batch runs', { skip: target.name === 'pglite' && 'PGlite has one connection' }, async () => {
      const raced = await ensureSeries(db, { baCode: 'MISO', type: 'generation_by_fuel', subtype: 'NUC' });
      const row = (h: number, value: number): ObservationInput => ({ seriesId: raced, ts: hour(h), value, quality: 'good' });
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      let written!: () => void;
      const firstWrote = new Promise<void>((r) => { written = r; });
      // the first writer holds hours 0-9 uncommitted; the batch (hours 5-14, hour 7 different) runs meanwhile
      const first = db.transaction(async (tx) => {
        await upsertObservations(tx, Array.from({ length: 10 }, (_, h) => row(h, h)));
        written();
        await gate;
      });
      await firstWrote;
      const second = upsertObservations(db, Array.from({ length: 10 }, (_, i) => row(i + 5, i + 5 === 7 ? -7 : i + 5)), { path: 'copy' });
      await new Promise((r) => setTimeout(r, 300));
      release();
      await first;
      assert.deepEqual(await second, { inserted: 5, updated: 1 });
      const values = await db.query<{ value: number; revisions: number }>('SELECT value, revisions FROM observations WHERE series_id = $1 ORDER BY ts', [raced]);
      assert.deepEqual(values.map((v) => v.value), [0, 1, 2, 3, 4, 5, 6, -7, 8, 9, 10, 11, 12, 13, 14]);
      assert.equal(values[7]!.revisions, 1);
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
      // an instant without its zone is UTC (never the server's local time), as the Carbon Aware SDK reads it (platform/instant.ts)
      const bare = await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-31T01:00&to=2025-01-31T02:00');
      assert.deepEqual(bare.json().data.map((o: { ts: string }) => o.ts), ['2025-01-31T01:00:00.000Z']);
      assert.equal((await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-01T05:00-05:00&to=2025-02-01')).statusCode, 200);
      // a '+' sent unencoded arrives as a space: refused, saying how to send it
      const plus = await app.inject('/api/v1/observations?series=PJM.demand&from=2025-01-31T01:00+01:00&to=2025-02-01');
      assert.deepEqual([plus.statusCode, plus.json().field], [400, 'from']);
      assert.match(plus.json().detail, /%2B/);
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
