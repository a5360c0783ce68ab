import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { applyAcks } from './ledger.ts';
import { createDevice, deviceInput } from './device-repository.ts';
import { issueVersions } from './schedule-versions.ts';
import { loopSettings, markSent, republishDue, sweepTimeouts } from './distribution.ts';
import { RecordingFleetBus } from './testing/recording-bus.ts';
import type { AckMessage } from './messages.ts';

// Migration 0038 (issue 14, ack ingestion speed): acks update the ledger and the device row HOT (no index entry
// written), and the timeout sweep retires what acks finished from the live work list.
const T0 = Date.parse('2026-12-01T00:00:00Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const ack = (deviceId: string, version: number, state: AckMessage['state'], seq: number): AckMessage => ({ schema: 'gridpulse.ack/1', deviceId, version, state, at: iso(seq), seq });
/** The ledger's clock: acks are dated around T0, inside the accepted window (messages.ts) of this moment. */
const NOW = new Date(T0 + 3 * 3_600_000);
const IDS = Array.from({ length: 20 }, (_, i) => `hot-${String(i).padStart(2, '0')}`);

for (const target of testDatabases()) {
  describe(`HOT ack updates and the live work list on ${target.name}`, () => {
    let db: Db;
    const s = loopSettings({ now: () => T0, republishMs: 30_000, finishGraceMs: 600_000, ackTimeoutMs: 900_000 });
    before(async () => {
      db = await target.open();
      await migrate(db);
      for (const id of IDS) await createDevice(db, deviceInput.parse({ id, name: id, capacityKwh: 10 }));
      // one interval 10–70 min after T0
      await db.transaction((tx) => issueVersions(tx, { deviceIds: IDS, intervals: [{ start: iso(600), end: iso(4200), action: 'idle' }], priority: 0, now: T0, republishMs: 30_000 }));
      await markSent(db, IDS.map((deviceId) => ({ deviceId, version: 1 })), s);
    });
    after(async () => { await db.close(); });

    it('applies every ack state change to schedule_versions and devices as heap-only (HOT) updates', async () => {
      // Each state arrives in its own gateway batch (transaction), as in the gateway, for its own 20 devices that are
      // only 'sent': every row is updated once, so the fillfactor's free half page holds the new versions without any
      // pruning. (Three states on the same rows need the old versions pruned in between, which any snapshot open
      // elsewhere in the database — an autoanalyze, another test — holds back: that measured the machine, not 0038.)
      const states = ['acknowledged', 'executing', 'succeeded'] as const;
      const groups = states.map((state) => ({ state, ids: Array.from({ length: 20 }, (_, i) => `heap-${state.slice(0, 3)}-${String(i).padStart(2, '0')}`) }));
      const own = groups.flatMap((g) => g.ids);
      for (const id of own) await createDevice(db, deviceInput.parse({ id, name: id, capacityKwh: 10 }));
      await db.transaction((tx) => issueVersions(tx, { deviceIds: own, intervals: [{ start: iso(600), end: iso(4200), action: 'idle' }], priority: 0, now: T0, republishMs: 30_000 }));
      await markSent(db, own.map((deviceId) => ({ deviceId, version: 1 })), s);
      const total = { schedule_versions: { upd: 0, hot: 0 }, devices: { upd: 0, hot: 0 } };
      for (const [k, { state, ids }] of groups.entries()) {
        await db.transaction(async (tx) => {
          // the session's counts not yet flushed to the shared statistics (pg_stat_xact_*), before and after
          const counts = () => tx.query<{ relname: 'schedule_versions' | 'devices'; upd: number; hot: number }>(
            `SELECT relname, n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_xact_user_tables
              WHERE relname IN ('schedule_versions', 'devices') AND schemaname = current_schema()`);
          const before = await counts();
          const r = await applyAcks(tx, ids.map((id, i) => ack(id, 1, state, 1 + k * 100 + i)), NOW);
          assert.equal(r.applied, ids.length);
          for (const row of await counts()) {
            const b = before.find((x) => x.relname === row.relname);
            total[row.relname].upd += Number(row.upd) - Number(b?.upd ?? 0);
            total[row.relname].hot += Number(row.hot) - Number(b?.hot ?? 0);
          }
        });
      }
      const stored = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM schedule_versions WHERE device_id LIKE 'heap-%' GROUP BY state ORDER BY state`);
      assert.deepEqual(stored.map((r) => [r.state, Number(r.n)]), [['acknowledged', 20], ['executing', 20], ['succeeded', 20]]);
      assert.deepEqual(total.schedule_versions, { upd: own.length, hot: own.length }, 'every ledger update HOT');
      assert.ok(total.devices.upd >= own.length, `the devices' confirmed version rose (${total.devices.upd} updates)`);
      assert.equal(total.devices.hot, total.devices.upd, 'every device update HOT');
      // finished, as the next test expects of rows not its own (retired from the work list by the sweep)
      await applyAcks(db, own.map((id, i) => ack(id, 1, 'succeeded', 400 + i)), NOW);
    });

    it('records the first send of fresh versions as heap-only updates, keeping the re-publish turn they were issued with', async () => {
      const own = Array.from({ length: 20 }, (_, i) => `first-send-${String(i).padStart(2, '0')}`);
      for (const id of own) await createDevice(db, deviceInput.parse({ id, name: id, capacityKwh: 10 }));
      await db.transaction((tx) => issueVersions(tx, { deviceIds: own, intervals: [{ start: iso(600), end: iso(4200), action: 'idle' }], priority: 0, now: T0, republishMs: 30_000 }));
      const keys = own.map((deviceId) => ({ deviceId, version: 1 }));
      const turns = () => db.query<{ at: Date | string; state: string; n: number }>(
        `SELECT next_publish_at AS at, state, publish_count AS n FROM schedule_versions WHERE device_id LIKE 'first-send-%' ORDER BY device_id`);
      const sentAt = { ...s, now: () => T0 + 2_000 };
      const hot = await db.transaction(async (tx) => {
        const counts = async () => (await tx.query<{ upd: number; hot: number }>(
          `SELECT n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_xact_user_tables WHERE relname = 'schedule_versions' AND schemaname = current_schema()`))[0] ?? { upd: 0, hot: 0 };
        const b = await counts();
        await markSent(tx, keys, sentAt);
        const a = await counts();
        return { upd: Number(a.upd) - Number(b.upd), hot: Number(a.hot) - Number(b.hot) };
      });
      assert.deepEqual(hot, { upd: own.length, hot: own.length }, 'every first send HOT');
      for (const r of await turns()) {
        assert.equal(r.state, 'sent');
        assert.equal(Number(r.n), 1);
        assert.equal(new Date(r.at).toISOString(), new Date(T0 + 30_000).toISOString(), 'due 30 s after the issue: at most republishMs after the send');
      }
      // a second send (the re-publisher's) backs off from the send: republishMs · 2
      await markSent(db, keys, { ...s, now: () => T0 + 31_000 });
      for (const r of await turns()) assert.equal(new Date(r.at).toISOString(), new Date(T0 + 31_000 + 60_000).toISOString());
      // a first send later than the issued turn (the bus was down) is given a turn from the send, never one in the past
      const late = 'first-send-late';
      await createDevice(db, deviceInput.parse({ id: late, name: late, capacityKwh: 10 }));
      await db.transaction((tx) => issueVersions(tx, { deviceIds: [late], intervals: [{ start: iso(600), end: iso(4200), action: 'idle' }], priority: 0, now: T0, republishMs: 30_000 }));
      await markSent(db, [{ deviceId: late, version: 1 }], { ...s, now: () => T0 + 45_000 });
      const [l] = await db.query<{ at: Date | string }>(`SELECT next_publish_at AS at FROM schedule_versions WHERE device_id = $1`, [late]);
      assert.equal(new Date(l!.at).toISOString(), new Date(T0 + 45_000 + 30_000).toISOString());
      await applyAcks(db, [...own, late].map((id, i) => ack(id, 1, 'succeeded', 500 + i)), NOW);
    });

    it('retires finished versions, parks acknowledged ones until their end, re-publishes only unacknowledged ones, and still times out', async () => {
      const bus = new RecordingFleetBus();
      const [a, b, c, d] = IDS as [string, string, string, string];
      await applyAcks(db, [ack(a, 1, 'acknowledged', 1), ack(a, 1, 'succeeded', 2), ack(b, 1, 'acknowledged', 3), ack(c, 1, 'rejected', 4)], NOW);
      // 40 s on: every version is due for a re-publish; only the 17 silent ones go out
      const later = { ...s, now: () => T0 + 40_000 };
      await sweepTimeouts(db, later);
      const live = async (id: string) => {
        const [r] = await db.query<{ live: boolean; at: Date | string }>(`SELECT next_publish_at < 'infinity' AS live, next_publish_at AS at FROM schedule_versions WHERE device_id = $1 AND version = 1`, [id]);
        return r!;
      };
      assert.equal((await live(a)).live, false, 'succeeded: retired');
      assert.equal((await live(c)).live, false, 'rejected (failed): retired');
      const parked = await live(b);
      assert.equal(parked.live, true);
      assert.equal(new Date(parked.at).toISOString(), new Date(T0 + 4_200_000 + 600_000).toISOString(), 'acknowledged: parked until its end + grace');
      assert.equal(await republishDue(db, bus, later), IDS.length - 3);
      assert.deepEqual(new Set(bus.published.map((m) => m.deviceId)), new Set(IDS.filter((id) => ![a, b, c].includes(id))));
      assert.ok(bus.forDevice(d).length === 1);
      // past end + grace, the acknowledged version that never finished times out (and is retired), like the silent ones past ackTimeoutMs
      const end = { ...s, now: () => T0 + 4_200_000 + 600_000 + 1_000 };
      assert.equal(await sweepTimeouts(db, end), IDS.length - 2);
      const [st] = await db.query<{ state: string }>(`SELECT state FROM schedule_versions WHERE device_id = $1 AND version = 1`, [b]);
      assert.equal(st!.state, 'timed-out');
      assert.equal((await live(b)).live, false);
      const [n] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM schedule_versions WHERE next_publish_at < 'infinity'`);
      assert.equal(Number(n!.n), 0, 'nothing left on the live list');
      // a timed-out version still takes the device's later word
      assert.equal((await applyAcks(db, [ack(d, 1, 'succeeded', 9_000)], NOW)).applied, 1);
    });
  });
}
