import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { authHeaders } from '../support/auth.ts';
import { ack, openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';
import { applyAcks, applyStatus, applyTelemetryLatest } from '../../src/fleet/ledger.ts';
import { storeBatch } from '../../src/fleet/gateway/ingest-writer.ts';
import { ledgerSink } from '../../src/fleet/bus/device-bus.ts';
import { verifyDeviceMqtt } from '../../src/fleet/device-credentials.ts';
import { runRollouts } from '../../src/fleet/rollouts.ts';
import { republishDue } from '../../src/fleet/distribution.ts';

const silent = pino({ level: 'silent' });
const run = randomBytes(3).toString('hex');
let serial = 0;
const newId = (what: string) => `rv-${what}-${run}-${++serial}`;

interface Rollout { id: string; status: string; total: number; pending: number; issued: number; skipped: number; cancelled: number }

for (const target of testDatabases()) {
  describe(`device revocation and credential rotation (${target.name})`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    const now = () => new Date(t.clock.now()).toISOString();
    const tel = (deviceId: string, seq: number) => ({ schema: 'gridpulse.telemetry/1' as const, deviceId, at: now(), seq, socPct: 40, powerKw: 0, scheduleVersion: 0, mode: 'hold-soc' as const });
    const revoke = async (id: string) => assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${id}`, headers: t.operator })).statusCode, 204);
    const rotate = (id: string, headers: { authorization: string }, payload?: unknown) =>
      t.app.inject({ method: 'POST', url: `/api/v1/devices/${id}/credentials`, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

    it('rotates both credentials: the new ones work, the old password and key are refused at once', async () => {
      const d = await provision(t, { id: newId('rot') });
      assert.equal(await verifyDeviceMqtt(t.db, d.id, d.mqttPassword), d.id, 'the old password works before');
      const res = await rotate(d.id, t.operator);
      assert.equal(res.statusCode, 200, res.body);
      const c = res.json<{ credentials: { id: string; mqttUsername: string; mqttPassword: string; apiKey: string } }>().credentials;
      assert.equal(c.id, d.id);
      assert.equal(c.mqttUsername, d.id);
      assert.notEqual(c.mqttPassword, d.mqttPassword);
      assert.notEqual(c.apiKey, d.apiKey);
      assert.equal(await verifyDeviceMqtt(t.db, d.id, d.mqttPassword), null, 'the old MQTT password is refused');
      assert.equal(await verifyDeviceMqtt(t.db, d.id, c.mqttPassword), d.id, 'the new MQTT password is accepted');
      const post = (authorization: string) => t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: { authorization }, payload: tel(d.id, 1) });
      assert.equal((await post(`Bearer ${d.apiKey}`)).statusCode, 401, 'the old key is refused');
      assert.equal((await post(`Bearer ${c.apiKey}`)).statusCode, 200, 'the new key works');
      // the rotation is audited; the secrets are not in it
      const [a] = await t.db.query<{ detail: unknown }>(`SELECT detail FROM audit_log WHERE action = 'fleet.devices.rotate' AND object_id = $1`, [d.id]);
      assert.ok(a, 'audited');
      assert.ok(!JSON.stringify(a.detail).includes(c.mqttPassword) && !JSON.stringify(a.detail).includes(c.apiKey));
    });

    it('rotates only what the body names; a body naming neither is 400 naming the field', async () => {
      const d = await provision(t, { id: newId('one') });
      const res = await rotate(d.id, t.operator, { apiKey: false });
      assert.equal(res.statusCode, 200, res.body);
      const c = res.json<{ credentials: Record<string, string> }>().credentials;
      assert.equal(typeof c.mqttPassword, 'string');
      assert.equal(c.apiKey, undefined, 'the key was not rotated: none shown');
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers, payload: tel(d.id, 1) })).statusCode, 200, 'the old key still works');
      const none = await rotate(d.id, t.operator, { apiKey: false, mqttPassword: false });
      assert.equal(none.statusCode, 400, none.body);
      assert.match(none.json<{ detail: string }>().detail, /mqttPassword/);
      const bad = await rotate(d.id, t.operator, { apiKey: 'yes' });
      assert.equal(bad.statusCode, 400, bad.body);
    });

    it('404 for an unknown device, 409 for a revoked one (its credentials stay dead)', async () => {
      assert.equal((await rotate(newId('nobody'), t.operator)).statusCode, 404);
      const d = await provision(t, { id: newId('gone') });
      await revoke(d.id);
      const res = await rotate(d.id, t.operator);
      assert.equal(res.statusCode, 409, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json<{ field: string }>().field, 'id');
      assert.equal(await verifyDeviceMqtt(t.db, d.id, d.mqttPassword), null);
    });

    it('a revoked device is done with: PATCH and a second DELETE are 409 naming id, a group refuses it as a new member and counts only active members', async () => {
      const d = await provision(t, { id: newId('done') });
      const kept = await provision(t, { id: newId('kept') });
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: `done-${d.id}`, deviceIds: [d.id, kept.id] } });
      assert.equal(g.statusCode, 201, g.body);
      const group = g.json<{ id: string; deviceCount: number }>();
      assert.equal(group.deviceCount, 2);
      await revoke(d.id);
      const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/devices/${d.id}`, headers: t.operator, payload: { name: 'renamed' } });
      assert.equal(patch.statusCode, 409, patch.body);
      assert.equal(patch.json<{ field: string }>().field, 'id');
      const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}`, headers: t.operator });
      assert.equal(again.statusCode, 409, again.body);
      assert.match(again.json<{ detail: string }>().detail, /revoked already/);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/devices/${newId('never')}`, headers: t.operator })).statusCode, 404);
      const listed = await t.app.inject({ url: `/api/v1/device-groups/${group.id}`, headers: t.operator });
      assert.equal(listed.json<{ deviceCount: number }>().deviceCount, 1, 'the group counts the devices a group schedule can reach');
      const add = await t.app.inject({ method: 'POST', url: `/api/v1/device-groups/${group.id}/devices`, headers: t.operator, payload: { add: [kept.id, d.id] } });
      assert.equal(add.statusCode, 400, add.body);
      assert.equal(add.json<{ field: string }>().field, 'add/1');
      assert.match(add.json<{ detail: string }>().detail, /revoked/);
    });

    it('a request let in just before its device was revoked gets the 401 of a revoked key, not a 404 (every device-side route)', async () => {
      const d = await provision(t, { id: newId('race') });
      // the race's window: the device row revoked, its key not yet (revokeDevice does both in one transaction)
      await t.db.query('UPDATE devices SET revoked_at = now() WHERE id = $1', [d.id]);
      for (const [method, url, payload] of [['GET', `/api/v1/devices/${d.id}/schedule`, undefined], ['POST', `/api/v1/devices/${d.id}/telemetry`, tel(d.id, 1)],
        ['POST', `/api/v1/devices/${d.id}/acks`, { schema: 'gridpulse.ack/1', deviceId: d.id, version: 1, state: 'acknowledged', at: now(), seq: 1 }]] as const) {
        const res = await t.app.inject({ method, url, headers: d.headers, ...(payload ? { payload } : {}) });
        assert.equal(res.statusCode, 401, `${method} ${url}: ${res.body}`);
        assert.match(String(res.headers['www-authenticate']), /invalid_token/);
      }
    });

    it('only operators and administrators rotate: a viewer or analyst gets 403', async () => {
      const d = await provision(t, { id: newId('role') });
      for (const role of ['viewer', 'analyst'] as const) {
        const res = await rotate(d.id, await authHeaders(t.app, t.db, role));
        assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
      }
      assert.equal((await rotate(d.id, await authHeaders(t.app, t.db, 'admin'))).statusCode, 200);
      assert.equal(await verifyDeviceMqtt(t.db, d.id, d.mqttPassword), null);
    });

    it('attack: a device cannot rotate credentials with its own key (neither its own nor another device\'s), and learns none', async () => {
      const victim = await provision(t, { id: newId('victim') });
      const attacker = await provision(t, { id: newId('attacker') });
      for (const id of [attacker.id, victim.id]) {
        const res = await rotate(id, attacker.headers);
        assert.equal(res.statusCode, 403, res.body);
        assert.ok(!res.body.includes('mqttPassword') && !res.body.includes('gp_'), 'no credentials in the answer');
      }
      // nothing changed: both devices keep their credentials
      assert.equal(await verifyDeviceMqtt(t.db, victim.id, victim.mqttPassword), victim.id);
      assert.equal(await verifyDeviceMqtt(t.db, attacker.id, attacker.mqttPassword), attacker.id);
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/v1/devices/${victim.id}/telemetry`, headers: victim.headers, payload: tel(victim.id, 1) })).statusCode, 200);
    });

    it('the ledger drops what a revoked device sent (in flight when it was revoked): nothing applied, counted as revoked', async () => {
      const d = await provision(t, { id: newId('ledger') });
      const alive = await provision(t, { id: newId('alive') });
      await reportSoc(t, d, 55);
      await revoke(d.id);
      const a = await applyAcks(t.db, [ack(d.id, 1, 'acknowledged', now(), 1), ack(alive.id, 1, 'acknowledged', now(), 1)], new Date(t.clock.now()));
      assert.equal(a.revoked, 1);
      assert.equal(a.applied + a.stale + a.unknown + a.outOfWindow + (a.revoked ?? 0), 2);
      t.clock.advance(1_000);
      const tl = await applyTelemetryLatest(t.db, [{ ...tel(d.id, 9), socPct: 99 }], new Date(t.clock.now()));
      assert.deepEqual({ applied: tl.applied, revoked: tl.revoked }, { applied: 0, revoked: 1 });
      const st = await applyStatus(t.db, [{ schema: 'gridpulse.status/1', deviceId: d.id, online: true, at: now() }], new Date(t.clock.now()));
      assert.deepEqual({ applied: st.applied, revoked: st.revoked }, { applied: 0, revoked: 1 });
      const [row] = await t.db.query<{ soc_pct: number; online: boolean }>('SELECT soc_pct, online FROM devices WHERE id = $1', [d.id]);
      assert.equal(Number(row!.soc_pct), 55, 'the revoked device\'s later telemetry changed nothing');
      assert.equal(row!.online, false);
    });

    it('the gateway\'s store drops a batch\'s messages of a device revoked before the batch was written, and stores the rest', async () => {
      const d = await provision(t, { id: newId('gwq') });
      const alive = await provision(t, { id: newId('gwa') });
      // the ack and telemetry were taken into the gateway's batch; the revocation commits before the batch is written
      const batch = {
        acks: [ack(d.id, 1, 'acknowledged', now(), 1), ack(alive.id, 1, 'acknowledged', now(), 1)],
        telemetry: [tel(d.id, 2), tel(alive.id, 2)],
        statuses: [{ schema: 'gridpulse.status/1' as const, deviceId: d.id, online: true, at: now() }],
      };
      await revoke(d.id);
      const r = await storeBatch(t.db, batch, ledgerSink, new Date(t.clock.now()));
      assert.equal(r.fromRevoked, 3);
      assert.equal(r.acksStored, 1);
      assert.equal(r.telemetryStored, 1);
      assert.equal(r.statuses, 0);
      const stored = await t.db.query<{ device_id: string }>('SELECT device_id FROM device_acks WHERE device_id = ANY($1::text[]) UNION ALL SELECT device_id FROM device_telemetry WHERE device_id = ANY($1::text[])', [[d.id, alive.id]]);
      assert.deepEqual(stored.map((x) => x.device_id), [alive.id, alive.id]);
      // a sink without lockDevices is guarded the same way
      const { lockDevices: _, ...unlocked } = ledgerSink;
      const again = await storeBatch(t.db, { acks: [ack(d.id, 1, 'acknowledged', now(), 5)], telemetry: [], statuses: [] }, unlocked, new Date(t.clock.now()));
      assert.deepEqual({ fromRevoked: again.fromRevoked, acksStored: again.acksStored }, { fromRevoked: 1, acksStored: 0 });
    });

    it('a rollout reaching a device revoked after it was created skips it as revoked (with the cancelled, not a failure), and nothing is re-published to it', async () => {
      const devices = [];
      for (let i = 0; i < 3; i++) {
        const d = await provision(t, { id: `${newId('ro')}-${i}` });
        await reportSoc(t, d, 50);
        devices.push(d);
      }
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: `revoke-${run}-${serial}`, deviceIds: devices.map((d) => d.id) } });
      assert.equal(g.statusCode, 201, g.body);
      const intervals = [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }];
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator, payload: { groupId: g.json<{ id: string }>().id, intervals, rollout: { maxPerMinute: 60, abortMinDevices: 1, abortFailurePct: 0 } } });
      assert.equal(res.statusCode, 202, res.body);
      const { rolloutId } = res.json<{ rolloutId: string }>();
      assert.equal(await t.firstRound(rolloutId), 1, 'one device reached in the first second');
      // the first device got its version and is revoked before acknowledging it; the second is revoked before it is reached
      await revoke(devices[0]!.id);
      await revoke(devices[1]!.id);
      t.clock.advance(5_000);
      await runRollouts(t.db, t.bus, t.s, silent);
      const r = (await t.app.inject({ url: `/api/v1/rollouts/${rolloutId}`, headers: t.operator })).json<Rollout>();
      assert.equal(r.status, 'running', `not aborted: ${JSON.stringify(r)}`);
      assert.deepEqual({ pending: r.pending, issued: r.issued, skipped: r.skipped, cancelled: r.cancelled }, { pending: 0, issued: 2, skipped: 0, cancelled: 1 });
      assert.equal(t.bus.forDevice(devices[1]!.id).length, 0, 'nothing issued to the device revoked before it was reached');
      // the version of the device revoked after it got it is never re-published
      const before = t.bus.forDevice(devices[0]!.id).length;
      t.clock.advance(600_000);
      await republishDue(t.db, t.bus, t.s, silent);
      assert.equal(t.bus.forDevice(devices[0]!.id).length, before, 'no re-publication to a revoked device');
      assert.ok(t.bus.forDevice(devices[2]!.id).length > 1, 'the active device\'s version is re-published');
    });
  });
}
