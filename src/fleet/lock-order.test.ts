import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { createDevice, deviceInput } from './device-repository.ts';
import { issueVersions } from './schedule-versions.ts';
import { loopSettings, publishVersions } from './distribution.ts';
import { storeBatch } from './gateway/ingest-writer.ts';
import { ledgerSink } from './bus/device-bus.ts';
import type { AckMessage, StatusMessage, TelemetryMessage } from './messages.ts';
import type { FleetBus } from './contract.ts';

/**
 * The lock order of the ledger's writers (ledger.ts): a gateway's ack batch, an issuer superseding the same devices'
 * versions and a publisher sending the previous versions, all at once, again and again, on PostgreSQL (the embedded
 * PGlite has one connection: its transactions never overlap). Before the order was one (ack batches locked ledger
 * rows, then device rows; issuers device rows, then ledger rows) this failed with "deadlock detected".
 */
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const DEVICES = 400;
const ROUNDS = 12;

describe('lock order: ack batches, issuing and publishing on the same devices at once (PostgreSQL)', { skip: !url && !process.env.CI ? 'DATABASE_URL not set' : false, timeout: 180_000 }, () => {
  let db: Db;
  const ids = Array.from({ length: DEVICES }, (_, i) => `lock-${String(i).padStart(4, '0')}`);
  const t0 = Date.now();
  const intervals = [{ start: new Date(t0 + 3_600_000).toISOString(), end: new Date(t0 + 7_200_000).toISOString(), action: 'idle' as const }];
  const s = loopSettings();
  // a broker that notes what the device's desired version was (read on another connection) when each message went out
  const olderPublished: string[] = [];
  let publishedCount = 0;
  const bus: FleetBus = {
    publishSchedule: async (m) => {
      const [d] = await db.query<{ v: number }>('SELECT desired_version AS v FROM devices WHERE id = $1', [m.deviceId]);
      if (Number(d!.v) !== m.version) olderPublished.push(`${m.deviceId}@${m.version} while ${Number(d!.v)} was desired`);
      publishedCount++;
    },
  };

  before(async () => {
    assert.ok(url, 'CI runs this against PostgreSQL: set DATABASE_URL');
    db = await testDatabases().find((t) => t.name === 'postgres')!.open();
    await migrate(db);
    await db.transaction(async (tx) => { for (const id of ids) await createDevice(tx, deviceInput.parse({ id, name: id, capacityKwh: 10 })); });
  });
  after(async () => { await db?.close(); });

  it(`runs ${ROUNDS} rounds of a ${DEVICES}-ack batch beside an issue and a publish of the same devices without a deadlock, and the ledger adds up`, async () => {
    let previous = (await db.transaction((tx) => issueVersions(tx, { deviceIds: ids, intervals, priority: 0, republishMs: s.republishMs }))).messages;
    assert.equal(previous.length, DEVICES);
    let seq = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const at = new Date().toISOString();
      // the batch in descending id order (the issuer locks ascending), with telemetry and statuses of other devices
      const acks: AckMessage[] = previous.map((m) => ({ schema: 'gridpulse.ack/1' as const, deviceId: m.deviceId, version: m.version, state: 'acknowledged' as const, at, seq: ++seq })).reverse();
      const telemetry: TelemetryMessage[] = ids.filter((_, i) => i % 3 === round % 3).map((deviceId) => ({ schema: 'gridpulse.telemetry/1' as const, deviceId, at, seq: ++seq, socPct: 50, powerKw: 0, scheduleVersion: round, mode: 'idle' }));
      const statuses: StatusMessage[] = ids.filter((_, i) => i % 7 === round % 7).map((deviceId) => ({ schema: 'gridpulse.status/1' as const, deviceId, online: true, at }));
      const results = await Promise.allSettled([
        storeBatch(db, { acks, telemetry, statuses }, ledgerSink),
        db.transaction((tx) => issueVersions(tx, { deviceIds: [...ids].reverse(), intervals, priority: 0, republishMs: s.republishMs })),
        publishVersions(db, bus, previous, s),
      ]);
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      assert.deepEqual(failed, [], `round ${round}`);
      const issued = (results[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof issueVersions>>>).value;
      assert.equal(issued.messages.length, DEVICES);
      previous = issued.messages;
    }
    // every device: desired = the last version issued, confirmed = the last one acknowledged; each ack stored once
    const rows = await db.query<{ desired: number; confirmed: number; n: number }>(
      `SELECT desired_version AS desired, confirmed_version AS confirmed, count(*)::int AS n FROM devices WHERE id LIKE 'lock-%' GROUP BY 1, 2`);
    assert.deepEqual(rows.map((r) => ({ desired: Number(r.desired), confirmed: Number(r.confirmed), n: Number(r.n) })), [{ desired: ROUNDS + 1, confirmed: ROUNDS, n: DEVICES }]);
    const [acked] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM device_acks WHERE device_id LIKE 'lock-%'`);
    assert.equal(Number(acked!.n), DEVICES * ROUNDS);
    // only a device's latest version was ever published (the rest were left out as superseded), and some were
    assert.deepEqual(olderPublished.slice(0, 5), []);
    assert.ok(publishedCount > 0, 'some versions were published before being superseded');
  });
});
