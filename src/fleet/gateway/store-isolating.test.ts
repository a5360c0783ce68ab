import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { refusedForContent, type Db } from '../../platform/db.ts';
import { migrate } from '../../platform/migrate.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { ledgerSink } from '../bus/device-bus.ts';
import type { AckMessage, TelemetryMessage } from '../messages.ts';
import { storeBatch, storeIsolating, type IngestBatch, type StoredBatch } from './ingest-writer.ts';

const AT = '2026-11-30T12:00:00Z';
const ack = (deviceId: string, seq: number): AckMessage => ({ schema: 'gridpulse.ack/1', deviceId, version: 1, state: 'acknowledged', at: AT, seq });
const tel = (deviceId: string, seq: number): TelemetryMessage => ({ schema: 'gridpulse.telemetry/1', deviceId, at: AT, seq, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' });
const pgError = (code: string) => Object.assign(new Error(`refused (${code})`), { code });

/**
 * A fake storeBatch over an in-memory store: refuses a whole batch (stores nothing of it, as one transaction) when it
 * holds a message `poison` names, with `code`; otherwise keeps every message.
 */
function fakeStore(poison: (m: { deviceId: string; seq: number }) => boolean, code = '22003') {
  const stored: string[] = [];
  let calls = 0;
  const store = async (b: IngestBatch): Promise<StoredBatch> => {
    calls++;
    if ([...b.acks, ...b.telemetry].some(poison)) throw pgError(code);
    stored.push(...b.acks.map((a) => `ack ${a.deviceId}/${a.seq}`), ...b.telemetry.map((t) => `tel ${t.deviceId}/${t.seq}`));
    return { acksStored: b.acks.length, acksDuplicate: 0, telemetryStored: b.telemetry.length, telemetryDuplicate: 0, telemetryOutOfWindow: 0, acksOutOfWindow: 0, statusesOutOfWindow: 0, statuses: b.statuses.length, fromRevoked: 0, ackLatencySeconds: [], implausible: [] };
  };
  return { store, stored, calls: () => calls };
}

describe('a batch the database refuses for one message\'s content (storeIsolating)', () => {
  it('stores every other message and returns the refused one (22003: numeric value out of range)', async () => {
    const f = fakeStore((m) => m.deviceId === 'pi-bad' && m.seq === 7);
    const batch: IngestBatch = { acks: [ack('pi-a', 1), ack('pi-bad', 7), ack('pi-b', 2)], telemetry: [tel('pi-a', 3), tel('pi-c', 4)], statuses: [] };
    const r = await storeIsolating(batch, f.store);
    assert.deepEqual(f.stored.sort(), ['ack pi-a/1', 'ack pi-b/2', 'tel pi-a/3', 'tel pi-c/4']);
    assert.equal(r.acksStored, 2);
    assert.equal(r.telemetryStored, 2);
    assert.deepEqual(r.refused.map((p) => [p.kind, p.deviceId, p.seq, p.code]), [['ack', 'pi-bad', 7, '22003']]);
  });

  it('isolates any set of poison messages in any batch: the rest stored once, exactly the poison refused (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.constantFrom('22003', '22008', '22P02', '23514', '23502'), async (bad, code) => {
      const msgs = bad.map((_, i) => ack(`pi-${i}`, i));
      const f = fakeStore((m) => bad[m.seq] === true, code);
      const r = await storeIsolating({ acks: msgs, telemetry: [], statuses: [] }, f.store);
      assert.deepEqual(f.stored, msgs.filter((_, i) => !bad[i]).map((m) => `ack ${m.deviceId}/${m.seq}`), 'the good ones, in the batch\'s order, once');
      assert.deepEqual(r.refused.map((p) => p.seq), msgs.filter((_, i) => bad[i]).map((m) => m.seq));
      assert.ok(r.refused.every((p) => p.code === code));
      const nBad = bad.filter(Boolean).length;
      if (nBad === 0) assert.equal(f.calls(), 1, 'one store call when nothing is refused');
      else assert.ok(f.calls() <= 2 * nBad * Math.ceil(Math.log2(msgs.length) + 1) + 1, `bisection, not one call per message (${f.calls()} calls)`);
    }));
  });

  it('a connection-type failure is not isolated: it rejects, storing nothing, for the caller to retry the whole batch', async () => {
    for (const code of ['08006', '57P01', 'ECONNREFUSED', 'CONNECTION_CLOSED', '53300']) {
      const f = fakeStore(() => true, code);
      await assert.rejects(storeIsolating({ acks: [ack('pi-a', 1), ack('pi-b', 2)], telemetry: [], statuses: [] }, f.store), new RegExp(code));
      assert.equal(f.calls(), 1, code);
      assert.deepEqual(f.stored, []);
    }
    const timeout = { store: async () => { throw new Error('statement timeout'); } };
    await assert.rejects(storeIsolating({ acks: [ack('pi-a', 1), ack('pi-b', 2)], telemetry: [], statuses: [] }, timeout.store as never), /timeout/);
  });

  it('classifies SQLSTATE class 22 and 23 as refused for content, connection classes not', () => {
    for (const code of ['22003', '22008', '22009', '22P02', '23505', '23514']) assert.equal(refusedForContent(pgError(code)), true, code);
    assert.equal(refusedForContent(new Error('wrapped', { cause: pgError('22003') })), true, 'in the cause chain');
    for (const code of ['08006', '57P01', '57014', '40001', '40P01', '42P01', 'ECONNRESET', '2200']) assert.equal(refusedForContent(pgError(code)), false, code);
    assert.equal(refusedForContent(Object.assign(pgError('22003'), { severity: 'FATAL' })), false, 'a FATAL is the connection lost');
    assert.equal(refusedForContent(null), false);
  });
});

for (const target of testDatabases()) {
  describe(`poison rows forced past the schemas, on the real store (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db?.close(); });

    it('each row the database refuses (int4 overflow, NUL in text) is isolated; the others are stored', async () => {
      const now = new Date(AT);
      // values the schemas now refuse, built directly as a device on an older schema (or a bug) would send them
      const batch: IngestBatch = {
        acks: [ack('pz-a', 1), { ...ack('pz-bad', 2), version: 2 ** 31 }, ack('pz-b', 3), { ...ack('pz-nul', 4), reason: 'x\u0000y' }, ack('pz-c', 5)],
        telemetry: [tel('pz-a', 6), { ...tel('pz-bad', 7), scheduleVersion: 2 ** 31 }, tel('pz-b', 8)],
        statuses: [],
      };
      const r = await storeIsolating(batch, (b) => storeBatch(db, b, ledgerSink, now));
      assert.deepEqual(r.refused.map((p) => [p.kind, p.deviceId, p.seq]).sort(), [['ack', 'pz-bad', 2], ['ack', 'pz-nul', 4], ['telemetry', 'pz-bad', 7]]);
      assert.equal(r.acksStored, 3);
      assert.equal(r.telemetryStored, 2);
      const acks = await db.query<{ device_id: string }>(`SELECT device_id FROM device_acks WHERE device_id LIKE 'pz-%' ORDER BY device_id`);
      assert.deepEqual(acks.map((x) => x.device_id), ['pz-a', 'pz-b', 'pz-c']);
      const readings = await db.query<{ device_id: string }>(`SELECT device_id FROM device_telemetry WHERE device_id LIKE 'pz-%' ORDER BY device_id`);
      assert.deepEqual(readings.map((x) => x.device_id), ['pz-a', 'pz-b']);
      // every refusal classified as content (the COPY's own reason where the driver gives one)
      for (const p of r.refused) assert.ok(p.err.length > 0);
    });
  });
}
