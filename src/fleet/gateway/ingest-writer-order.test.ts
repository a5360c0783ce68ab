import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../platform/db.ts';
import { migrate } from '../../platform/migrate.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import type { AckMessage, TelemetryMessage } from '../messages.ts';
import { storeAcks, storeTelemetry } from './ingest-writer.ts';

const NOW = new Date('2026-11-30T12:00:00Z');
const DEVICES = 300;

for (const target of testDatabases()) {
  describe(`gateway batch writer: repeats within a batch (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db?.close(); });

    it('stores the first copy of a (device, seq) repeated within a batch, the one it returns (not whichever the sort kept)', async () => {
      // every key twice, the copies differing; the second copies of half the devices come first in the batch
      const copy = (d: number, state: AckMessage['state']): AckMessage =>
        ({ schema: 'gridpulse.ack/1', deviceId: `rep-${String(d).padStart(3, '0')}`, version: 1, state, at: NOW.toISOString(), seq: 7 });
      const batch: AckMessage[] = [];
      for (let d = 0; d < DEVICES; d++) batch.push(copy(d, d % 2 ? 'acknowledged' : 'executing'));
      for (let d = DEVICES - 1; d >= 0; d--) batch.push(copy(d, d % 2 ? 'executing' : 'acknowledged'));
      const fresh = await db.transaction((tx) => storeAcks(tx, batch));
      assert.equal(fresh.length, DEVICES);
      const returned = new Map(fresh.map((a) => [a.deviceId, a.state]));
      const rows = await db.query<{ device_id: string; state: string }>(`SELECT device_id, state FROM device_acks WHERE device_id LIKE 'rep-%' ORDER BY device_id`);
      assert.equal(rows.length, DEVICES);
      const wrong = rows.filter((r) => returned.get(r.device_id) !== r.state).map((r) => r.device_id);
      assert.deepEqual(wrong, [], 'stored copy differs from the one returned (the first in the batch)');
      assert.ok(rows.every((r, d) => r.state === (d % 2 ? 'acknowledged' : 'executing')));
    });

    it('stores the first copy of a telemetry sample repeated within a batch', async () => {
      const copy = (d: number, soc: number): TelemetryMessage =>
        ({ schema: 'gridpulse.telemetry/1', deviceId: `trep-${String(d).padStart(3, '0')}`, at: NOW.toISOString(), seq: 3, socPct: soc, powerKw: 0, scheduleVersion: 0, mode: 'hold-soc' });
      const batch: TelemetryMessage[] = [];
      for (let d = 0; d < DEVICES; d++) batch.push(copy(d, 10));
      for (let d = DEVICES - 1; d >= 0; d--) batch.push(copy(d, 90));
      const fresh = await db.transaction((tx) => storeTelemetry(tx, batch));
      assert.equal(fresh.length, DEVICES);
      assert.ok(fresh.every((t) => t.socPct === 10));
      const rows = await db.query<{ device_id: string; soc: number }>(`SELECT device_id, soc_pct AS soc FROM device_telemetry WHERE device_id LIKE 'trep-%'`);
      assert.equal(rows.length, DEVICES);
      assert.deepEqual(rows.filter((r) => Number(r.soc) !== 10).map((r) => r.device_id), [], 'stored copy differs from the first in the batch');
    });
  });
}
