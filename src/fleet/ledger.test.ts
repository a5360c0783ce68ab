import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { applyAcks, applyStatus, applyTelemetryLatest } from './ledger.ts';
import { createDevice, deviceInput } from './device-repository.ts';
import { issueVersions } from './schedule-versions.ts';
import type { AckMessage } from './messages.ts';
import { FLEET_CHANNEL, parseFleetChange } from './fleet-events.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
/** the ledger's clock in these tests: T0 (messages are dated around it) */
const CLOCK = new Date(T0);
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const ack = (deviceId: string, version: number, state: AckMessage['state'], seq: number): AckMessage => ({ schema: 'gridpulse.ack/1', deviceId, version, state, at: at(seq), seq });
const RANK = { queued: 0, sent: 1, acknowledged: 2, executing: 3, succeeded: 4, failed: 4 } as Record<string, number>;

for (const target of testDatabases()) {
  describe(`delivery ledger on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      for (const id of ['led-a', 'led-b']) await createDevice(db, deviceInput.parse({ id, name: id, capacityKwh: 10 }));
      for (let v = 0; v < 3; v++) {
        await issueVersions(db, { deviceIds: ['led-a', 'led-b'], intervals: [{ start: at(600), end: at(4200), action: 'idle' }], priority: 0, now: T0, republishMs: 30_000 });
      }
    });
    after(async () => { await db.close(); });

    it('applies any order of acks to the furthest state said, counts stale and unknown, and raises the confirmed version (fast-check)', async () => {
      const states = ['acknowledged', 'executing', 'succeeded'] as const;
      await fc.assert(fc.asyncProperty(fc.shuffledSubarray([...states], { minLength: 1 }), fc.array(fc.constantFrom(...states), { maxLength: 4 }), async (first, replay) => {
        // a fresh version each run: only version 3 of led-a is touched, on a savepoint rolled back
        await db.transaction(async (tx) => {
          const r1 = await applyAcks(tx, [...first.map((s, i) => ack('led-a', 3, s, i)), ack('led-a', 99, 'acknowledged', 9), ack('nobody-1', 1, 'acknowledged', 9)], CLOCK);
          assert.equal(r1.unknown, 2);
          assert.equal(r1.applied + r1.stale + r1.unknown, first.length + 2);
          const furthest = first.reduce((a, s) => (RANK[s]! > RANK[a]! ? s : a));
          const [v] = await tx.query<{ state: string; acknowledged_at: unknown }>(`SELECT state, acknowledged_at FROM schedule_versions WHERE device_id = 'led-a' AND version = 3`);
          assert.equal(v!.state, furthest);
          assert.notEqual(v!.acknowledged_at, null);
          const r2 = await applyAcks(tx, replay.map((s, i) => ack('led-a', 3, s, 10 + i)), CLOCK);
          const [w] = await tx.query<{ state: string }>(`SELECT state FROM schedule_versions WHERE device_id = 'led-a' AND version = 3`);
          assert.ok(RANK[w!.state]! >= RANK[furthest]!, 'never backwards');
          assert.equal(r2.applied, replay.some((s) => RANK[s]! > RANK[furthest]!) ? replay.length : 0);
          const [d] = await tx.query<{ confirmed_version: number }>(`SELECT confirmed_version FROM devices WHERE id = 'led-a'`);
          assert.equal(Number(d!.confirmed_version), 3);
          throw new Rollback();
        }).catch((e: unknown) => { if (!(e instanceof Rollback)) throw e; });
      }), { numRuns: 25 });
    });

    it('tells live pages that the ledger changed, once per batch and only when it did', async () => {
      const heard: Array<ReturnType<typeof parseFleetChange>> = [];
      const stop = await db.listen(FLEET_CHANNEL, (p) => { heard.push(parseFleetChange(p)); });
      try {
        await applyAcks(db, [ack('led-b', 3, 'acknowledged', 1), ack('led-b', 3, 'executing', 2)], CLOCK);
        await applyAcks(db, [ack('led-b', 3, 'acknowledged', 3)], CLOCK);
        for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(heard, [{ kind: 'ledger', count: 2 }], 'the stale replay is silent');
      } finally { await stop(); }
    });

    it('keeps the newest status and telemetry per device; replays of older ones change nothing', async () => {
      const s1 = await applyStatus(db, [
        { schema: 'gridpulse.status/1', deviceId: 'led-b', online: true, at: at(10), agentVersion: '1.2.0' },
        { schema: 'gridpulse.status/1', deviceId: 'ghost-1', online: true, at: at(10) },
      ], CLOCK);
      assert.deepEqual(s1, { applied: 1, stale: 0, unknown: 1, outOfWindow: 0 });
      assert.deepEqual(await applyStatus(db, [{ schema: 'gridpulse.status/1', deviceId: 'led-b', online: false, at: at(5) }], CLOCK), { applied: 0, stale: 1, unknown: 0, outOfWindow: 0 });
      // the Last Will carries no time: it counts as now
      await applyStatus(db, [{ schema: 'gridpulse.status/1', deviceId: 'led-b', online: false }], new Date(T0 + 20_000));
      const [b] = await db.query<{ online: boolean; agent_version: string }>(`SELECT online, agent_version FROM devices WHERE id = 'led-b'`);
      assert.deepEqual({ ...b }, { online: false, agent_version: '1.2.0' });
      const tel = (seq: number, soc: number) => ({ schema: 'gridpulse.telemetry/1' as const, deviceId: 'led-b', at: at(seq), seq, socPct: soc, powerKw: -1.5, scheduleVersion: 2, mode: 'discharge' });
      assert.deepEqual(await applyTelemetryLatest(db, [tel(30, 40), tel(31, 39), tel(29, 41)], CLOCK), { applied: 1, stale: 2, unknown: 0, outOfWindow: 0, implausible: [] });
      assert.deepEqual(await applyTelemetryLatest(db, [tel(20, 70)], CLOCK), { applied: 0, stale: 1, unknown: 0, outOfWindow: 0, implausible: [] });
      const [t] = await db.query<{ soc_pct: number; reported_version: number; power_kw: number }>(`SELECT soc_pct, reported_version, power_kw FROM devices WHERE id = 'led-b'`);
      assert.deepEqual([Number(t!.soc_pct), Number(t!.reported_version), Number(t!.power_kw)], [39, 2, -1.5]);
    });

    it('refuses acks, statuses and telemetry dated outside the window (far future, too old): counted, nothing changes (fast-check)', async () => {
      const HOUR = 3_600_000, DAY = 86_400_000;
      // offsets from the clock: beyond +1 h or before −31 d is outside
      const outside = fc.oneof(fc.integer({ min: HOUR + 1_000, max: 80 * 365 * DAY }), fc.integer({ min: -20 * 365 * DAY, max: -31 * DAY - 1_000 }));
      await fc.assert(fc.asyncProperty(outside, async (offset) => {
        await db.transaction(async (tx) => {
          const when = new Date(T0 + offset).toISOString();
          const before = await tx.query<{ soc_pct: number; telemetry_at: unknown; status_at: unknown }>(`SELECT soc_pct, telemetry_at, status_at FROM devices WHERE id = 'led-b'`);
          const t = await applyTelemetryLatest(tx, [{ schema: 'gridpulse.telemetry/1', deviceId: 'led-b', at: when, seq: 500, socPct: 3, powerKw: 0, scheduleVersion: 0, mode: 'idle' }], CLOCK);
          const a = await applyAcks(tx, [{ ...ack('led-b', 3, 'succeeded', 501), at: when }], CLOCK);
          const st = await applyStatus(tx, [{ schema: 'gridpulse.status/1', deviceId: 'led-b', online: true, at: when }], CLOCK);
          const { implausible, ...tel } = t;
          assert.deepEqual(implausible, []);
          for (const r of [tel, a, st]) assert.deepEqual(r, { applied: 0, stale: 0, unknown: 0, outOfWindow: 1 });
          assert.deepEqual(await tx.query(`SELECT soc_pct, telemetry_at, status_at FROM devices WHERE id = 'led-b'`), before);
          const [v] = await tx.query<{ state: string }>(`SELECT state FROM schedule_versions WHERE device_id = 'led-b' AND version = 3`);
          assert.notEqual(v!.state, 'succeeded');
          throw new Rollback();
        }).catch((e: unknown) => { if (!(e instanceof Rollback)) throw e; });
      }), { numRuns: 15 });
      // the edges are inside: an hour ahead and 31 days back are accepted
      const edge = await applyTelemetryLatest(db, [{ schema: 'gridpulse.telemetry/1', deviceId: 'led-b', at: new Date(T0 + HOUR).toISOString(), seq: 600, socPct: 55, powerKw: 0, scheduleVersion: 0, mode: 'idle' }], CLOCK);
      assert.equal(edge.applied, 1);
    });
  });
}

class Rollback extends Error {}
