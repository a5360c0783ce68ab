import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Db } from '../../platform/db.ts';
import { migrate } from '../../platform/migrate.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import type { AckMessage, TelemetryMessage } from '../messages.ts';
import { ledgerSink } from '../bus/device-bus.ts';
import { storeBatch, TELEMETRY_MAX_AGE_MS } from './ingest-writer.ts';

const NOW = new Date('2026-11-30T12:00:00Z');
const ack = (deviceId: string, seq: number): AckMessage => ({ schema: 'gridpulse.ack/1', deviceId, version: 1, state: 'acknowledged', at: NOW.toISOString(), seq });
const tel = (deviceId: string, seq: number, at: string): TelemetryMessage =>
  ({ schema: 'gridpulse.telemetry/1', deviceId, at, seq, socPct: 50, powerKw: -1.5, scheduleVersion: 0, mode: 'hold-soc' });

for (const target of testDatabases()) {
  describe(`gateway batch writer (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db?.close(); });

    it('stores any sequence of batches with repeats exactly once per (device, seq) (fast-check)', async () => {
      let round = 0;
      await fc.assert(fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 20 })), { maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        async (batches) => {
          const prefix = `w${++round}`;
          let stored = 0;
          for (const b of batches) stored += (await storeBatch(db, { acks: b.map(([d, s]) => ack(`${prefix}-dev-${d}`, s)), telemetry: [], statuses: [] }, ledgerSink, NOW)).acksStored;
          const distinct = new Set(batches.flat().map(([d, s]) => `${d}/${s}`));
          const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_acks WHERE device_id LIKE $1', [`${prefix}-dev-%`]);
          assert.equal(row!.n, distinct.size);
          assert.equal(stored, distinct.size, 'the counts say what was new');
        }), { numRuns: 25 });
    });

    it('a device reset reusing seqs: the new reading stored beside an old one of the same seq is the one handed on, the redelivered old one is a duplicate', async () => {
      const first = { ...tel('reset-dev', 1, '2026-11-30T10:00:00Z'), socPct: 40 };
      await storeBatch(db, { acks: [], statuses: [], telemetry: [first] }, ledgerSink, NOW);
      // after the reset the device counts from 1 again; the broker redelivers the old seq 1 in the same batch
      const afterReset = { ...tel('reset-dev', 1, '2026-11-30T11:00:00Z'), socPct: 70 };
      const handed: TelemetryMessage[] = [];
      const recording = { ...ledgerSink, applyTelemetryLatest: async (tx: Db, t: TelemetryMessage[], now?: Date) => { handed.push(...t); return ledgerSink.applyTelemetryLatest(tx, t, now); } };
      const r = await storeBatch(db, { acks: [], statuses: [], telemetry: [first, afterReset] }, recording, NOW);
      assert.deepEqual([r.telemetryStored, r.telemetryDuplicate], [1, 1]);
      assert.deepEqual(handed, [afterReset]);
      const [dev] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM device_telemetry WHERE device_id = 'reset-dev'`);
      assert.equal(dev!.n, 2);
    });

    it('puts telemetry in daily partitions and leaves out what lies outside the accepted window', async () => {
      const r = await storeBatch(db, { acks: [], statuses: [], telemetry: [
        tel('tel-dev-1', 1, '2026-11-30T11:59:00Z'), tel('tel-dev-1', 2, '2026-11-29T23:59:00Z'), tel('tel-dev-1', 2, '2026-11-29T23:59:00Z'),
        tel('tel-dev-1', 3, new Date(NOW.getTime() - TELEMETRY_MAX_AGE_MS - 1).toISOString()), tel('tel-dev-1', 4, '2099-01-01T00:00:00Z'),
      ] }, ledgerSink, NOW);
      assert.deepEqual([r.telemetryStored, r.telemetryDuplicate, r.telemetryOutOfWindow], [2, 1, 2]);
      const parts = await db.query<{ part: string; n: number }>(
        `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM device_telemetry WHERE device_id = 'tel-dev-1' GROUP BY 1 ORDER BY 1`);
      assert.deepEqual(parts.map((p) => [p.part.replace(/^.*\./, ''), p.n]), [['device_telemetry_20261129', 1], ['device_telemetry_20261130', 1]]);
      const far = await db.query(`SELECT 1 FROM pg_class WHERE relname = 'device_telemetry_20990101'`);
      assert.equal(far.length, 0, 'a device clock far ahead creates no partition');
    });

    it('stores nothing of a batch whose ledger update fails, so the gateway can retry it whole', async () => {
      const failing = { ...ledgerSink, applyAcks: async () => { throw new Error('database went away'); } };
      await assert.rejects(storeBatch(db, { acks: [ack('fail-dev-1', 1)], telemetry: [tel('fail-dev-1', 1, NOW.toISOString())], statuses: [] }, failing, NOW), /went away/);
      const rows = await db.query(`SELECT 1 FROM device_acks WHERE device_id = 'fail-dev-1' UNION ALL SELECT 1 FROM device_telemetry WHERE device_id = 'fail-dev-1'`);
      assert.equal(rows.length, 0);
      const r = await storeBatch(db, { acks: [ack('fail-dev-1', 1)], telemetry: [], statuses: [] }, ledgerSink, NOW);
      assert.equal(r.acksStored, 1);
    });
  });
}
