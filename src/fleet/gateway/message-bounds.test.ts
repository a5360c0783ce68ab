import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Db } from '../../platform/db.ts';
import { migrate } from '../../platform/migrate.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { ackMessage, PG_BIGINT_SAFE_MAX, PG_INT_MAX, scheduleMessage, telemetryMessage, type AckMessage, type TelemetryMessage } from '../messages.ts';
import { ledgerSink } from '../bus/device-bus.ts';
import { storeBatch } from './ingest-writer.ts';

/**
 * Whatever the message schemas accept, the columns hold (migrations 0030–0032): every integer of an `integer` column
 * ≤ 2^31 − 1, every `seq` (bigint) exact, every `at` an instant PostgreSQL's timestamptz takes, every reading one its
 * `real` columns take, every reason text without NUL. Before, `version: 2^31` passed the schema and the database refused the gateway's whole batch.
 */

/** Integers across the whole range a JSON number carries, with the edges of int4 and of exact doubles. */
const anyInt = fc.oneof(
  fc.integer({ min: -5, max: 1_000 }), fc.integer({ min: PG_INT_MAX - 5, max: PG_INT_MAX + 5 }), fc.maxSafeInteger(),
  fc.constantFrom(0, 1, PG_INT_MAX, PG_INT_MAX + 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63, 1e300),
);
/** Readings including the ones below the range of float4 (1e-50) and the subnormal doubles. */
const anyReading = fc.oneof(fc.double({ min: -1_000, max: 1_000, noNaN: true }), fc.constantFrom(1e-50, -1e-300, 5e-324, 1e-46, 1.5e-45));

const NOW = Date.parse('2026-11-30T12:00:00Z');
/** The instant NOW + ms written with a UTC offset of `offset` minutes (±HH:MM), as a device clock in that zone would. */
function withOffset(ms: number, offset: number): string {
  const local = new Date(NOW + ms + offset * 60_000).toISOString().slice(0, -1);
  const a = Math.abs(offset);
  return `${local}${offset < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
const anyAt = fc.tuple(fc.integer({ min: -86_400_000, max: 60_000 }), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 })).map(([ms, off]) => withOffset(ms, off));

/** Free text with any code point, NUL (which PostgreSQL's text refuses) among them. */
const anyText = fc.oneof(fc.string({ maxLength: 12, unit: 'binary' }), fc.constantFrom('\u0000', 'failed:\u0000', 'line\nbreak'));
const ack = (deviceId: string, seq: number, version: number, intervalIndex: number, at: string, reason?: string) =>
  ({ schema: 'gridpulse.ack/1', deviceId, version, state: 'acknowledged', at, seq, intervalIndex, ...(reason === undefined ? {} : { reason }) });
const tel = (deviceId: string, seq: number, scheduleVersion: number, socPct: number, powerKw: number, at: string) =>
  ({ schema: 'gridpulse.telemetry/1', deviceId, at, seq, socPct, powerKw, scheduleVersion, mode: 'idle' });

describe('message schemas bound what their columns hold', () => {
  it('any integer the ack, telemetry and schedule schemas accept fits its column: int4 ≤ 2^31 − 1, seq exact (fast-check)', () => {
    fc.assert(fc.property(anyInt, anyInt, anyInt, (a, b, c) => {
      const at = withOffset(0, 0);
      const ok = ackMessage.safeParse(ack('pi-0001', a, b, c, at));
      if (ok.success) assert.ok(ok.data.version <= PG_INT_MAX && (ok.data.intervalIndex ?? 0) <= PG_INT_MAX && ok.data.seq <= PG_BIGINT_SAFE_MAX && Number.isSafeInteger(ok.data.seq));
      const t = telemetryMessage.safeParse(tel('pi-0001', a, b, 50, 0, at));
      if (t.success) assert.ok(t.data.scheduleVersion <= PG_INT_MAX && Number.isSafeInteger(t.data.seq));
      const s = scheduleMessage.safeParse({ schema: 'gridpulse.schedule/1', deviceId: 'pi-0001', version: c, issuedAt: at, intervals: [], fallback: 'idle' });
      if (s.success) assert.ok(s.data.version <= PG_INT_MAX);
      // and the bounds are the columns' own, not tighter
      assert.equal(ackMessage.safeParse(ack('pi-0001', 2 ** 53 - 1, PG_INT_MAX, PG_INT_MAX, at)).success, true);
    }));
    assert.equal(ackMessage.safeParse(ack('pi-0001', 1, PG_INT_MAX + 1, 0, withOffset(0, 0))).success, false);
    assert.equal(telemetryMessage.safeParse(tel('pi-0001', 1, PG_INT_MAX + 1, 50, 0, withOffset(0, 0))).success, false);
  });

  it('accepts a UTC offset up to ±14:00 and refuses one PostgreSQL cannot take', () => {
    for (const off of [0, 14 * 60, -12 * 60, 5 * 60 + 30, -14 * 60]) assert.equal(ackMessage.safeParse(ack('pi-0001', 1, 1, 0, withOffset(0, off))).success, true, String(off));
    for (const off of [14 * 60 + 1, 16 * 60, -16 * 60, 23 * 60 + 59]) assert.equal(ackMessage.safeParse(ack('pi-0001', 1, 1, 0, withOffset(0, off))).success, false, String(off));
  });
});

for (const target of testDatabases()) {
  describe(`any message the schemas accept is stored (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db?.close(); });

    it('a batch of schema-valid acks and telemetry with extreme numbers and offsets is stored whole, never refused (fast-check)', async () => {
      let round = 0;
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(anyInt, anyInt, anyInt, anyAt, fc.option(anyText, { nil: undefined })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(anyInt, anyInt, anyReading, anyReading, anyAt), { minLength: 1, maxLength: 8 }),
        async (acks, readings) => {
          const d = `mb-${++round}`;
          const acksOk = acks.map(([s, v, i, at, reason]) => ackMessage.safeParse(ack(d, s, v, i, at, reason))).flatMap((r) => (r.success ? [r.data as AckMessage] : []));
          const telOk = readings.map(([s, v, soc, kw, at]) => telemetryMessage.safeParse(tel(d, s, v, Math.abs(soc) % 100, kw, at))).flatMap((r) => (r.success ? [r.data as TelemetryMessage] : []));
          const r = await storeBatch(db, { acks: acksOk, telemetry: telOk, statuses: [] }, ledgerSink, new Date(NOW));
          assert.equal(r.acksStored + r.acksDuplicate, acksOk.length);
          assert.equal(r.telemetryStored + r.telemetryDuplicate, telOk.length);
        },
      ), { numRuns: 40 });
    });
  });
}
