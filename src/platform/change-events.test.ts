import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from './migrate.ts';
import type { Db } from './db.ts';
import { HOURS_CHANNEL, hoursPayloads } from './change-events.ts';
import { PointStore } from '../ingest/store-points.ts';
import type { EiaPoint } from '../ingest/eia-schema.ts';

const logger = pino({ level: 'silent' });

describe('change event payloads', () => {
  it('keeps one payload when it fits, and splits the BAs when it would not', () => {
    const one = hoursPayloads({ bas: ['CISO', 'PJM'], newest: '2025-07-01T05:00:00.000Z', source: 'eia' });
    assert.deepEqual(one.map((p) => JSON.parse(p)), [{ bas: ['CISO', 'PJM'], newest: '2025-07-01T05:00:00.000Z', source: 'eia' }]);
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[A-Z0-9]{2,6}$/), { maxLength: 400 }), fc.integer({ min: 120, max: 2000 }), (bas, max) => {
      const payloads = hoursPayloads({ bas, newest: '2025-07-01T05:00:00.000Z', source: 'simulated' }, max);
      assert.ok(payloads.every((p) => Buffer.byteLength(p) <= max));
      assert.deepEqual(payloads.flatMap((p) => JSON.parse(p).bas), bas);
    }));
  });
});

/** NOTIFY is database-wide: other test schemas on the same server notify too; keep this file's (its hours are in March 2019). */
const ours = (payload: string) => String(JSON.parse(payload).newest).startsWith('2019-03-1');

function points(ba: string, from: string, hours: number, value: (h: number) => number): EiaPoint[] {
  return Array.from({ length: hours }, (_, h) => ({ route: 'region' as const, ba, code: 'D', ts: new Date(Date.parse(from) + h * 3_600_000), value: value(h) }));
}

for (const target of testDatabases({ pgliteWorker: true })) {
  describe(`change events on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('delivers one gridpulse_hours notification per committed batch with new or changed hours, none for a re-delivery', async () => {
      const heard: string[] = [];
      const unlisten = await db.listen(HOURS_CHANNEL, (payload) => { if (ours(payload)) heard.push(payload); });
      try {
        const store = new PointStore(db, logger, 'simulated');
        const waitFor = async (n: number) => { for (let i = 0; i < 100 && heard.length < n; i++) await new Promise((r) => setTimeout(r, 20)); };
        await store.store([...points('ERCO', '2019-03-11T00:00Z', 3, (h) => 40000 + h), ...points('MISO', '2019-03-11T00:00Z', 4, (h) => 70000 + h)]);
        await waitFor(1);
        assert.deepEqual(heard.map((p) => JSON.parse(p)), [{ bas: ['ERCO', 'MISO'], newest: '2019-03-11T03:00:00.000Z', source: 'simulated' }]);
        await store.store(points('ERCO', '2019-03-11T00:00Z', 3, (h) => 40000 + h));
        await store.store(points('ERCO', '2019-03-11T00:00Z', 2, (h) => 41000 + h));
        await waitFor(2);
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(heard.slice(1).map((p) => JSON.parse(p)), [{ bas: ['ERCO'], newest: '2019-03-11T01:00:00.000Z', source: 'simulated' }]);
      } finally {
        await unlisten();
      }
    });

    it('announces nothing when the surrounding transaction rolls back (delivery happens on commit)', async () => {
      const heard: string[] = [];
      const unlisten = await db.listen(HOURS_CHANNEL, (payload) => { if (ours(payload)) heard.push(payload); });
      try {
        await assert.rejects(db.transaction(async (tx) => {
          const r = await new PointStore(tx, logger).store(points('PJM', '2019-03-12T00:00Z', 2, (h) => 1 + h));
          assert.equal(r.inserted, 2);
          throw new Error('rolled back');
        }), /rolled back/);
        await new PointStore(db, logger).store(points('SWPP', '2019-03-12T00:00Z', 1, () => 5));
        for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(heard.map((p) => JSON.parse(p).bas), [['SWPP']]);
      } finally {
        await unlisten();
      }
    });

    it('reports only BAs whose hours were inserted or changed, with the newest changed hour', async () => {
      const seen: Array<{ bas: string[]; newest: string }> = [];
      const store = new PointStore(db, logger, 'eia', { onStored: (bas, newest) => seen.push({ bas, newest: newest.toISOString() }) });
      await store.store([...points('CISO', '2025-07-01T00:00Z', 6, (h) => 100 + h), ...points('PJM', '2025-07-01T00:00Z', 6, (h) => 900 + h)]);
      assert.deepEqual(seen, [{ bas: ['CISO', 'PJM'], newest: '2025-07-01T05:00:00.000Z' }]);
      // PJM unchanged; CISO revised at 02:00 only
      await store.store([...points('CISO', '2025-07-01T00:00Z', 6, (h) => (h === 2 ? 5 : 100 + h)), ...points('PJM', '2025-07-01T00:00Z', 6, (h) => 900 + h)]);
      assert.deepEqual(seen[1], { bas: ['CISO'], newest: '2025-07-01T02:00:00.000Z' });
      await store.store(points('PJM', '2025-07-01T00:00Z', 6, (h) => 900 + h));
      assert.equal(seen.length, 2, 'a re-delivery of unchanged rows announces nothing');
    });
  });
}
