import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { applyAcks } from './ledger.ts';
import { createDevice, deviceInput } from './device-repository.ts';
import { issueVersions } from './schedule-versions.ts';
import { loopSettings, sweepTimeouts } from './distribution.ts';
import type { AckMessage } from './messages.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const MIN = 60_000;
const DEVICES = ['sv-a', 'sv-b'];
const ACTIVE = ['queued', 'sent', 'acknowledged', 'executing'];

class Rollback extends Error {}
/** runs `fn` in a transaction that is always rolled back, so each property run starts from the same store */
const scratch = (db: Db, fn: (tx: Db) => Promise<void>) => db.transaction(async (tx) => { await fn(tx); throw new Rollback(); })
  .catch((e: unknown) => { if (!(e instanceof Rollback)) throw e; });

const ack = (deviceId: string, version: number, state: AckMessage['state'], atMs: number, seq: number): AckMessage =>
  ({ schema: 'gridpulse.ack/1', deviceId, version, state, at: new Date(atMs).toISOString(), seq });

type Op =
  | { kind: 'issue'; devices: string[]; priority: number; startMin: number; lengthMin: number }
  | { kind: 'ack'; device: string; state: 'acknowledged' | 'executing' | 'succeeded' | 'failed' }
  | { kind: 'wait'; minutes: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('issue' as const), devices: fc.subarray(DEVICES, { minLength: 1 }), priority: fc.integer({ min: -1, max: 3 }),
    startMin: fc.integer({ min: 1, max: 30 }), lengthMin: fc.integer({ min: 5, max: 60 }) }),
  fc.record({ kind: fc.constant('ack' as const), device: fc.constantFrom(...DEVICES), state: fc.constantFrom('acknowledged' as const, 'executing' as const, 'succeeded' as const, 'failed' as const) }),
  fc.record({ kind: fc.constant('wait' as const), minutes: fc.integer({ min: 1, max: 40 }) }),
);

for (const target of testDatabases()) {
  describe(`schedule versions on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      for (const id of DEVICES) await createDevice(db, deviceInput.parse({ id, name: id, capacityKwh: 10 }));
    });
    after(async () => { await db.close(); });

    it('a device has at most one unfinished version, its desired one, and a conflict is refused exactly when that version outranks the new one (fast-check)', async () => {
      // issues with any priority, the device's acks of what it was sent, and time passing with the timeout sweep
      const s = (now: number) => loopSettings({ now: () => now, ackTimeoutMs: 15 * MIN, finishGraceMs: 10 * MIN });
      await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        await scratch(db, async (tx) => {
          let now = T0;
          let seq = 0;
          for (const o of ops) {
            if (o.kind === 'wait') { now += o.minutes * MIN; await sweepTimeouts(tx, s(now)); continue; }
            if (o.kind === 'ack') {
              const [d] = await tx.query<{ v: number }>('SELECT desired_version AS v FROM devices WHERE id = $1', [o.device]);
              if (Number(d!.v) > 0) await applyAcks(tx, [ack(o.device, Number(d!.v), o.state, now, seq++)], new Date(now));
              continue;
            }
            // the model: the device's desired version blocks when unfinished, not yet ended and of a higher priority
            const blocking = new Map((await tx.query<{ device_id: string; priority: number }>(
              `SELECT v.device_id, v.priority FROM devices d JOIN schedule_versions v ON v.device_id = d.id AND v.version = d.desired_version
               WHERE d.id = ANY($1::text[]) AND v.state = ANY($2::text[]) AND v.ends_at > $3`, [o.devices, ACTIVE, new Date(now)])).map((r) => [r.device_id, Number(r.priority)]));
            const start = now + o.startMin * MIN;
            const r = await issueVersions(tx, { deviceIds: o.devices, intervals: [{ start: new Date(start).toISOString(), end: new Date(start + o.lengthMin * MIN).toISOString(), action: 'idle' }],
              priority: o.priority, now, republishMs: 30_000 });
            for (const id of o.devices) {
              const refusedHere = r.refused.find((x) => x.deviceId === id);
              const blocks: boolean = (blocking.get(id) ?? -Infinity) > o.priority;
              assert.equal(Boolean(refusedHere), blocks, `${id}: refused ${JSON.stringify(refusedHere?.problem)}, blocking priority ${blocking.get(id)}`);
              if (refusedHere) assert.equal(refusedHere.problem.field, 'priority');
            }
          }
          const active = await tx.query<{ device_id: string; version: number; desired: number }>(
            `SELECT v.device_id, v.version, d.desired_version AS desired FROM schedule_versions v JOIN devices d ON d.id = v.device_id WHERE v.state = ANY($1::text[])`, [ACTIVE]);
          for (const a of active) assert.equal(Number(a.version), Number(a.desired), `${a.device_id}: unfinished version ${a.version} is not the desired ${a.desired}`);
          const perDevice = new Map<string, number>();
          for (const a of active) perDevice.set(a.device_id, (perDevice.get(a.device_id) ?? 0) + 1);
          assert.ok([...perDevice.values()].every((n) => n <= 1));
        });
      }), { numRuns: 40 });
    });

    it('an older version revived by a late ack neither blocks nor is superseded: the device runs only its newest version', async () => {
      await scratch(db, async (tx) => {
        const iv = (fromMin: number) => [{ start: new Date(T0 + fromMin * MIN).toISOString(), end: new Date(T0 + (fromMin + 120) * MIN).toISOString(), action: 'idle' as const }];
        const v1 = await issueVersions(tx, { deviceIds: ['sv-a'], intervals: iv(5), priority: 5, now: T0, republishMs: 30_000 });
        const first = v1.messages[0]!.version;
        // silent for 16 minutes: v1 times out, so a lower priority is accepted and becomes the desired version
        await sweepTimeouts(tx, loopSettings({ now: () => T0 + 16 * MIN, ackTimeoutMs: 15 * MIN }));
        const v2 = await issueVersions(tx, { deviceIds: ['sv-a'], intervals: iv(30), priority: 0, now: T0 + 17 * MIN, republishMs: 30_000 });
        assert.equal(v2.refused.length, 0);
        // the device comes back and replays its acks of v1: the late word counts (timed-out → executing)
        await applyAcks(tx, [ack('sv-a', first, 'acknowledged', T0 + 6 * MIN, 1), ack('sv-a', first, 'executing', T0 + 7 * MIN, 2)], new Date(T0 + 18 * MIN));
        const [revived] = await tx.query<{ state: string }>('SELECT state FROM schedule_versions WHERE device_id = $1 AND version = $2', ['sv-a', first]);
        assert.equal(revived!.state, 'executing');
        // a new priority-0 schedule is measured against v2 (what the device is told to run), not the revived v1
        const v3 = await issueVersions(tx, { deviceIds: ['sv-a'], intervals: iv(40), priority: 0, now: T0 + 19 * MIN, republishMs: 30_000 });
        assert.deepEqual(v3.refused, []);
        assert.deepEqual(v3.superseded, [{ deviceId: 'sv-a', version: first + 1 }]);
        // and the revived v1 does not stay unfinished: unfinished 10 minutes after its end, the sweep times it out again
        const sweep = (atMin: number) => sweepTimeouts(tx, loopSettings({ now: () => T0 + atMin * MIN, ackTimeoutMs: 15 * MIN, finishGraceMs: 10 * MIN }));
        await sweep(20);
        await sweep(5 + 120 + 11);
        const [after] = await tx.query<{ state: string; reason: string }>('SELECT state, reason FROM schedule_versions WHERE device_id = $1 AND version = $2', ['sv-a', first]);
        assert.deepEqual({ ...after }, { state: 'timed-out', reason: 'not finished 600 s after its last interval' });
      });
    });
  });
}
