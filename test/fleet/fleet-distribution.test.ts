import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { applyAcks } from '../../src/fleet/ledger.ts';
import { republishDue, sweepTimeouts } from '../../src/fleet/distribution.ts';
import { runRollouts } from '../../src/fleet/rollouts.ts';
import { startFleetLoops } from '../../src/fleet/fleet-loops.ts';
import { RecordingFleetBus } from '../../src/fleet/testing/recording-bus.ts';
import { ack, openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';

const silent = pino({ level: 'silent' });

interface Rollout { rate: unknown; id: string; status: string; statusReason: string | null; total: number; pending: number; issued: number; skipped: number; expired: number; cancelled: number; progressPct: number; states: Record<string, number> }

for (const target of testDatabases()) {
  describe(`fleet distribution on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    /** A group of n provisioned devices that reported a SoC. */
    async function group(name: string, n: number, soc = 50): Promise<{ id: string; devices: Awaited<ReturnType<typeof provision>>[] }> {
      const devices = [];
      for (let i = 0; i < n; i++) {
        const d = await provision(t, { id: `${name}-${String(i).padStart(3, '0')}` });
        await reportSoc(t, d, soc);
        devices.push(d);
      }
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name, deviceIds: devices.map((d) => d.id) } });
      assert.equal(res.statusCode, 201, res.body);
      return { id: res.json<{ id: string }>().id, devices };
    }
    const rollout = async (id: string) => (await t.app.inject({ url: `/api/v1/rollouts/${id}`, headers: t.operator })).json<Rollout>();
    const idle = () => [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }];
    const now = () => new Date(t.clock.now()).toISOString();

    it('rolls a schedule out to a group at its rate, and completes when every device answered', async () => {
      const g = await group('ro-rate', 12);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { groupId: g.id, intervals: idle(), rollout: { maxPerMinute: 60 } } });
      assert.equal(res.statusCode, 202, res.body);
      const { rolloutId } = res.json<{ rolloutId: string }>();
      assert.equal(await t.firstRound(rolloutId), 1, 'the round started beside the answer issues one second\'s worth at 60 a minute');
      let r = await rollout(rolloutId);
      assert.equal(r.issued, 1);
      t.clock.advance(5_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      r = await rollout(rolloutId);
      assert.equal(r.issued, 6);
      assert.equal(r.states.sent, 6);
      t.clock.advance(60_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      r = await rollout(rolloutId);
      assert.equal(r.issued, 12);
      assert.equal(r.status, 'running', 'waiting for the devices\' word');
      assert.equal(g.devices.every((d) => t.bus.forDevice(d.id).length === 1 && t.bus.forDevice(d.id)[0]!.rolloutId === rolloutId), true);
      await applyAcks(t.db, g.devices.map((d, i) => ack(d.id, 1, 'acknowledged', now(), i)), new Date(t.clock.now()));
      await runRollouts(t.db, t.bus, t.s, silent);
      r = await rollout(rolloutId);
      assert.equal(r.status, 'completed');
      assert.equal(r.progressPct, 100);
      const list = (await t.app.inject({ url: '/api/v1/rollouts?status=completed', headers: t.operator })).json<{ data: Rollout[] }>();
      assert.ok(list.data.some((x) => x.id === rolloutId));
    });

    it('issues a rollout larger than a chunk in one round, chunk after chunk, each device once, and completes on fresh counts', async () => {
      const g = await group('ro-chunks', 23);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { groupId: g.id, intervals: idle(), rollout: { maxPerMinute: 60 } } });
      assert.equal(res.statusCode, 202, res.body);
      const { rolloutId } = res.json<{ rolloutId: string }>();
      assert.equal(await t.firstRound(rolloutId), 1);
      t.clock.advance(60_000);
      // a device revoked meanwhile is skipped as revoked when the runner reaches it (counted with the cancelled, not a failure), not issued
      const gone = g.devices[12]!.id;
      await t.db.query('UPDATE devices SET revoked_at = now() WHERE id = $1', [gone]);
      // chunks of 5 (5, 5, 5, 5, 2): the later chunks of the round decide on the counts it carried (rollouts.ts chunkCounts)
      assert.equal(await runRollouts(t.db, t.bus, t.s, silent, rolloutId, 5), 21, 'the rest in one round');
      let r = await rollout(rolloutId);
      assert.deepEqual({ issued: r.issued, pending: r.pending, skipped: r.skipped, cancelled: r.cancelled, sent: r.states.sent, status: r.status }, { issued: 22, pending: 0, skipped: 0, cancelled: 1, sent: 22, status: 'running' });
      const [skip] = await t.db.query<{ skipped: string | null; version: number | null }>('SELECT skipped, version FROM rollout_devices WHERE rollout_id = $1 AND device_id = $2', [rolloutId, gone]);
      assert.equal(skip!.skipped, 'revoked');
      assert.equal(skip!.version, null);
      const live = g.devices.filter((d) => d.id !== gone);
      assert.ok(live.every((d) => t.bus.forDevice(d.id).length === 1) && t.bus.forDevice(gone).length === 0, 'each device got one version, the revoked one none');
      await applyAcks(t.db, live.map((d, i) => ack(d.id, 1, 'acknowledged', now(), i)), new Date(t.clock.now()));
      await runRollouts(t.db, t.bus, t.s, silent, rolloutId, 5);
      r = await rollout(rolloutId);
      assert.equal(r.status, 'completed');
    });

    it('skips the devices of a group that cannot take a schedule, by reason, and rolls it out to the others; they never trip the abort threshold', async () => {
      const g = await group('ro-skip', 4, 50);
      // never reported a SoC: from its minimum SoC a 2 kW discharge for an hour crosses the reserve
      const silentOne = await provision(t, { id: 'ro-skip-never' });
      const lowOne = await provision(t, { id: 'ro-skip-low' });
      await reportSoc(t, lowOne, 12);
      const weakOne = await provision(t, { id: 'ro-skip-weak', maxDischargeKw: 1 });
      await reportSoc(t, weakOne, 80);
      const add = await t.app.inject({ method: 'POST', url: `/api/v1/device-groups/${g.id}/devices`, headers: t.operator, payload: { add: [silentOne.id, lowOne.id, weakOne.id] } });
      assert.equal(add.statusCode, 200, add.body);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { groupId: g.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'discharge', powerKw: 2 }], rollout: { abortFailurePct: 0, abortMinDevices: 1 } } });
      assert.equal(res.statusCode, 202, res.body);
      const out = res.json<{ rolloutId: string; total: number; skipped: Array<{ reason: string; count: number; deviceIds: string[]; example: { field: string; detail: string } }> }>();
      assert.equal(out.total, 7);
      assert.deepEqual(out.skipped.map((x) => [x.reason, x.count, x.deviceIds]),
        [['no-reported-soc', 1, ['ro-skip-never']], ['soc-infeasible', 1, ['ro-skip-low']], ['beyond-limits', 1, ['ro-skip-weak']]]);
      assert.match(out.skipped[0]!.example.detail, /has not reported its SoC/);
      assert.equal(out.skipped[2]!.example.field, 'intervals/0/powerKw');
      assert.equal(await t.firstRound(out.rolloutId), 4);
      for (const d of [silentOne, lowOne, weakOne]) assert.equal(t.bus.forDevice(d.id).length, 0, `${d.id} got nothing`);
      for (const d of g.devices) assert.equal(t.bus.forDevice(d.id).length, 1, `${d.id} got the schedule`);
      let r = await rollout(out.rolloutId);
      assert.deepEqual([r.issued, r.skipped, (r as Rollout & { skippedAtStart: number }).skippedAtStart, r.pending], [4, 3, 3, 0]);
      assert.equal(r.pending + r.issued + r.skipped + r.expired + r.cancelled, r.total);
      await applyAcks(t.db, g.devices.map((d, i) => ack(d.id, 1, 'succeeded', now(), 10 + i)), new Date(t.clock.now()));
      await runRollouts(t.db, t.bus, t.s, silent, out.rolloutId);
      r = await rollout(out.rolloutId);
      assert.equal(r.status, 'completed', `${r.status}: ${r.statusReason}`);
      assert.equal(r.statusReason, '3 of 7 devices skipped from the start (they could not take the schedule)');
    });

    it('refuses a group or fleet schedule no device can take with the counts by reason, and a skip asked for one device', async () => {
      const a = await provision(t, { id: 'ro-none-a' });
      const b = await provision(t, { id: 'ro-none-b' });
      const made = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: 'ro-none', deviceIds: [a.id, b.id] } });
      const rollouts = async () => (await t.db.query('SELECT 1 FROM rollouts')).length;
      const before = await rollouts();
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { groupId: made.json<{ id: string }>().id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'discharge', powerKw: 2 }] } });
      assert.equal(res.statusCode, 422, res.body);
      const p = res.json<{ field: string; detail: string }>();
      assert.equal(p.field, 'intervals/0/powerKw');
      assert.match(p.detail, /^groupId: none of the 2 devices can take this schedule \(2 no-reported-soc\); e\.g\. device ro-none-a: /);
      assert.equal(await rollouts(), before, 'nothing stored');
      const one = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: a.id, onDeviceRefusal: 'skip', intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }] } });
      assert.equal(one.statusCode, 400, one.body);
      assert.equal(one.json<{ field: string }>().field, 'onDeviceRefusal');
    });

    it('with onDeviceRefusal reject, refuses a group schedule one device cannot execute, naming the device and the interval, and stores nothing', async () => {
      const g = await group('ro-refuse', 3, 50);
      await reportSoc(t, g.devices[1]!, 12, 2);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { groupId: g.id, onDeviceRefusal: 'reject', intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'discharge', powerKw: 2 }] } });
      assert.equal(res.statusCode, 422, res.body);
      const p = res.json<{ field: string; detail: string }>();
      assert.equal(p.field, 'intervals/0/powerKw');
      assert.match(p.detail, /^device ro-refuse-001: /);
      assert.equal((await t.db.query('SELECT 1 FROM schedule_versions WHERE device_id LIKE $1', ['ro-refuse-%'])).length, 0);
      assert.equal(g.devices.some((d) => t.bus.forDevice(d.id).length > 0), false);
    });

    it('aborts a rollout when more than N % of the devices reached fail or time out, and cancels on request', async () => {
      const g = await group('ro-abort', 10);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { groupId: g.id, intervals: idle(), rollout: { maxPerMinute: 60, abortFailurePct: 25, abortMinDevices: 4 } } });
      const { rolloutId } = res.json<{ rolloutId: string }>();
      await t.firstRound(rolloutId);
      t.clock.advance(3_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      assert.equal((await rollout(rolloutId)).issued, 4);
      await applyAcks(t.db, [ack('ro-abort-000', 1, 'failed', now(), 1), ack('ro-abort-001', 1, 'rejected', now(), 1), ack('ro-abort-002', 1, 'succeeded', now(), 1)], new Date(t.clock.now()));
      t.clock.advance(30_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      const r = await rollout(rolloutId);
      assert.equal(r.status, 'aborted');
      assert.match(r.statusReason!, /2 of 4 devices/);
      assert.equal(r.issued, 4, 'no device was reached after the abort');
      assert.deepEqual([r.pending, r.cancelled], [0, 6], 'the devices the abort left unreached are counted as such');
      assert.equal(r.pending + r.issued + r.skipped + r.expired + r.cancelled, r.total);
      assert.equal(g.devices.slice(4).some((d) => t.bus.forDevice(d.id).length > 0), false);

      const g2 = await group('ro-cancel', 5);
      const started = (await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { groupId: g2.id, intervals: idle(), rollout: { maxPerMinute: 60 } } })).json<{ rolloutId: string }>();
      await t.firstRound(started.rolloutId);
      const cancel = await t.app.inject({ method: 'POST', url: `/api/v1/rollouts/${started.rolloutId}/cancel`, headers: t.operator });
      assert.equal(cancel.statusCode, 200, cancel.body);
      assert.equal(cancel.json<Rollout>().status, 'cancelled');
      t.clock.advance(60_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      const c = await rollout(started.rolloutId);
      assert.equal(c.issued, 1, 'nothing issued after the cancel');
      assert.deepEqual([c.pending, c.cancelled], [0, 4], 'every device appears in one count');
      assert.equal(c.pending + c.issued + c.skipped + c.expired + c.cancelled, c.total);
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/v1/rollouts/${started.rolloutId}/cancel`, headers: t.operator })).statusCode, 409);
      const [rec] = await t.db.query<{ object_id: string }>(`SELECT object_id FROM audit_log WHERE action = 'fleet.rollouts.cancel' ORDER BY id DESC LIMIT 1`);
      assert.equal(rec!.object_id, started.rolloutId);
    });

    it('keeps a version queued while the broker is down, publishes it when due, re-publishes until acknowledged, and times out a silent device', async () => {
      const d = await provision(t, { id: 'pi-repub-1' });
      await reportSoc(t, d, 50);
      t.bus.failing = true;
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { deviceId: d.id, intervals: idle() } });
      assert.equal(res.json<{ state: string }>().state, 'queued');
      t.bus.failing = false;
      const loops = startFleetLoops(t.db, t.bus, silent, { ...t.s, tickMs: 3_600_000 });
      try {
        await loops.tick();
        assert.equal(t.bus.forDevice(d.id).length, 0, 'not due yet');
        t.clock.advance(31_000);
        await loops.tick();
        assert.equal(t.bus.forDevice(d.id).length, 1);
        t.clock.advance(31_000);
        await loops.tick();
        assert.equal(t.bus.forDevice(d.id).length, 2, 'unacknowledged: published again');
        t.clock.advance(31_000);
        await loops.tick();
        assert.equal(t.bus.forDevice(d.id).length, 2, 'the wait doubles after each publish');
        await applyAcks(t.db, [ack(d.id, 1, 'acknowledged', now(), 5)], new Date(t.clock.now()));
        t.clock.advance(300_000);
        await loops.tick();
        assert.equal(t.bus.forDevice(d.id).length, 2, 'acknowledged: never again');

        const silentOne = await provision(t, { id: 'pi-silent-1' });
        await reportSoc(t, silentOne, 50);
        await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { deviceId: silentOne.id, intervals: idle() } });
        t.clock.advance(601_000);
        assert.ok(await sweepTimeouts(t.db, t.s) >= 1);
        const [v] = await t.db.query<{ state: string; reason: string }>('SELECT state, reason FROM schedule_versions WHERE device_id = $1', [silentOne.id]);
        assert.equal(v!.state, 'timed-out');
        // the device's later word still counts
        assert.equal((await applyAcks(t.db, [ack(silentOne.id, 1, 'acknowledged', now(), 1)], new Date(t.clock.now()))).applied, 1);
        const [v2] = await t.db.query<{ state: string }>('SELECT state FROM schedule_versions WHERE device_id = $1', [silentOne.id]);
        assert.equal(v2!.state, 'acknowledged');
      } finally {
        await loops.stop();
      }
    });

    it('many copies share the work: concurrent runners issue each device one version, concurrent re-publishers send each due version once', async () => {
      const g = await group('ro-copies', 40);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { groupId: g.id, intervals: idle(), rollout: { maxPerMinute: 1_000_000 } } });
      const { rolloutId } = res.json<{ rolloutId: string }>();
      const busA = new RecordingFleetBus();
      const busB = new RecordingFleetBus();
      // three runners beside the round the request started
      await Promise.all([t.firstRound(rolloutId), runRollouts(t.db, busA, t.s, silent), runRollouts(t.db, busB, t.s, silent), runRollouts(t.db, busA, t.s, silent)]);
      const versions = await t.db.query<{ device_id: string; n: number }>('SELECT device_id, count(*)::int AS n FROM schedule_versions WHERE rollout_id = $1 GROUP BY device_id', [rolloutId]);
      assert.equal(versions.length, 40);
      assert.equal(versions.every((v) => Number(v.n) === 1), true);
      t.clock.advance(31_000);
      const [a, b] = [new RecordingFleetBus(), new RecordingFleetBus()];
      await Promise.all([republishDue(t.db, a, { ...t.s, batch: 7 }, silent), republishDue(t.db, b, { ...t.s, batch: 7 }, silent),
        republishDue(t.db, a, { ...t.s, batch: 7 }, silent), republishDue(t.db, b, { ...t.s, batch: 7 }, silent)]);
      const keys = [...a.published, ...b.published].map((m) => `${m.deviceId}@${m.version}`);
      assert.equal(new Set(keys).size, keys.length, 'no version published twice in one round');
      // concurrent schedules for one device: each its own version, never the same number twice
      const answers = await Promise.all(Array.from({ length: 5 }, () => t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: 'ro-copies-000', intervals: idle() } })));
      assert.deepEqual(answers.map((x) => x.statusCode), [201, 201, 201, 201, 201]);
      assert.deepEqual(answers.map((x) => x.json<{ version: number }>().version).sort(), [2, 3, 4, 5, 6]);
      const [dev] = await t.db.query<{ desired_version: number }>(`SELECT desired_version FROM devices WHERE id = 'ro-copies-000'`);
      assert.equal(Number(dev!.desired_version), 6);
      const active = await t.db.query(`SELECT version FROM schedule_versions WHERE device_id = 'ro-copies-000' AND state <> 'superseded'`);
      assert.equal(active.length, 1, 'only the newest is still to be executed');
    });

    it('rolls out to the whole fleet on an exponential ramp', async () => {
      const [{ n }] = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM devices WHERE revoked_at IS NULL') as [{ n: number }];
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { fleet: true, intervals: idle(), rollout: { maxPerMinute: 40, exponential: { basePerMinute: 10, incrementFactor: 2 }, abortMinDevices: 1000 } } });
      assert.equal(res.statusCode, 202, res.body);
      const { rolloutId, total } = res.json<{ rolloutId: string; total: number }>();
      await t.firstRound(rolloutId);
      assert.equal(total, Number(n));
      const issuedAfter = async (ms: number) => { t.clock.advance(ms); await runRollouts(t.db, t.bus, t.s, silent); return (await rollout(rolloutId)).issued; };
      // 10 in the first minute, 20 in the second, then 40 a minute (the cap)
      assert.equal(await issuedAfter(59_000), Math.min(total, 10));
      assert.equal(await issuedAfter(60_000), Math.min(total, 30));
      assert.equal(await issuedAfter(60_000), Math.min(total, 70));
      const r = await rollout(rolloutId);
      assert.deepEqual({ kind: r.rate, pending: r.pending }, { kind: { kind: 'exponential', maxPerMinute: 40, basePerMinute: 10, incrementFactor: 2 }, pending: Math.max(0, total - 70) });
    });

    it('sums the fleet up', async () => {
      const res = await t.app.inject({ url: '/api/v1/fleet/summary', headers: t.operator });
      assert.equal(res.statusCode, 200, res.body);
      const s = res.json<{ devices: number; socPct: number; versions24h: { issued: number } }>();
      assert.ok(s.devices >= 60);
      assert.ok(s.socPct > 0 && s.socPct <= 100);
    });
  });
}
