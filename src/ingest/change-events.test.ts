import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { hoursPayloads } from './change-events.ts';
import { PointStore } from './store-points.ts';
import type { EiaPoint } from './eia-schema.ts';

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

function points(ba: string, from: string, hours: number, value: (h: number) => number): EiaPoint[] {
  return Array.from({ length: hours }, (_, h) => ({ route: 'region' as const, ba, code: 'D', ts: new Date(Date.parse(from) + h * 3_600_000), value: value(h) }));
}

for (const target of testDatabases()) {
  describe(`change events on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

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
