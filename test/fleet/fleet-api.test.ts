import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../support/databases.ts';
import { authHeaders } from '../support/auth.ts';
import { verifyDeviceMqtt } from '../../src/fleet/device-credentials.ts';
import { gatewayClientId } from '../../src/fleet/gateway/gateway.ts';
import { ack, openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';

interface Shadow { shadow: { desired: { version: number; state: string; supersededBy: number | null } | null; confirmedVersion: number; inSync: boolean }; history: Array<{ version: number; state: string }> }

for (const target of testDatabases()) {
  describe(`fleet API on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('provisions a device for operators only, shows its credentials once, and lets the broker check its MQTT password', async () => {
      const viewer = await authHeaders(t.app, t.db, 'viewer');
      const refused = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: viewer, payload: { name: 'x' } });
      assert.equal(refused.statusCode, 403);
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/devices', payload: { name: 'x' } })).statusCode, 401);
      const d = await provision(t, { id: 'pi-cred-1', baCode: undefined });
      assert.equal(d.mqttUsername, 'pi-cred-1');
      assert.match(d.apiKey, /^gp_[0-9a-f]{12}_/);
      assert.equal(await verifyDeviceMqtt(t.db, 'pi-cred-1', d.mqttPassword), 'pi-cred-1');
      assert.equal(await verifyDeviceMqtt(t.db, 'pi-cred-1', d.mqttPassword.slice(0, -1) + (d.mqttPassword.endsWith('A') ? 'B' : 'A')), null);
      const stored = await t.db.query<{ mqtt_password_hash: string }>('SELECT mqtt_password_hash FROM devices WHERE id = $1', ['pi-cred-1']);
      assert.notEqual(stored[0]!.mqtt_password_hash, d.mqttPassword, 'only a hash is kept');
      const get = await t.app.inject({ url: '/api/v1/devices/pi-cred-1', headers: t.operator });
      assert.equal(get.statusCode, 200);
      assert.equal(get.body.includes(d.mqttPassword) || get.body.includes(d.apiKey), false, 'credentials are never shown again');
      const [rec] = await t.db.query<{ actor_kind: string; object_id: string }>(`SELECT actor_kind, object_id FROM audit_log WHERE action = 'fleet.devices.create' ORDER BY id DESC LIMIT 1`);
      assert.deepEqual(rec, { actor_kind: 'user', object_id: 'pi-cred-1' });
      const dup = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { id: 'pi-cred-1', name: 'again' } });
      assert.equal(dup.statusCode, 409);
      const badSoc = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { name: 'x', reserveSocPct: 100 } });
      assert.equal(badSoc.statusCode, 400);
      assert.equal(badSoc.json<{ field: string }>().field, 'reserveSocPct');
      // revoked: the broker refuses its password, its key stops working
      assert.equal((await t.app.inject({ method: 'DELETE', url: '/api/v1/devices/pi-cred-1', headers: t.operator })).statusCode, 204);
      assert.equal(await verifyDeviceMqtt(t.db, 'pi-cred-1', d.mqttPassword), null);
      assert.equal((await t.app.inject({ url: '/api/v1/devices/pi-cred-1/schedule', headers: d.headers })).statusCode, 401);
      // a revoked id is not given out again, and the answer says why
      const reuse = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { id: 'pi-cred-1', name: 'again' } });
      assert.equal(reuse.statusCode, 409);
      assert.match(reuse.json<{ detail: string }>().detail, /revoked/);
    });

    it('refuses device ids of GridPulse\'s own broker accounts and sessions (attack: a device named after the gateway takes over its session)', async () => {
      for (const id of ['gridpulse-gateway', 'gridpulse-gateway-host-1', 'gridpulse-admin', 'gridpulse-publisher-x']) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/devices', headers: t.operator, payload: { id, name: 'impostor' } });
        assert.equal(res.statusCode, 400, id);
        assert.equal(res.json<{ field: string }>().field, 'id');
      }
      assert.equal((await t.db.query('SELECT 1 FROM devices WHERE id LIKE $1', ['gridpulse-%'])).length, 0);
      // whatever MQTT_GATEWAY_ID says, the gateway's client id carries the reserved prefix
      for (const configured of ['gateway-1', 'pi-cred-2', undefined]) assert.match(gatewayClientId(configured), /^gridpulse-/);
      assert.equal(gatewayClientId('gridpulse-gateway-a'), 'gridpulse-gateway-a');
    });

    it('refuses an infeasible schedule naming the interval and sends nothing; accepts a feasible one as version 1, sent on the bus', async () => {
      const d = await provision(t, { id: 'pi-sched-1' });
      await reportSoc(t, d, 50);
      const before = t.bus.published.length;
      // 10 kWh at 50 %: one hour charging 4 kW adds 38 points (fine), then 5 kW discharge for 2 h takes 105 points
      const res = await t.app.inject({
        method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [
          { start: t.clock.at(10), end: t.clock.at(70), action: 'charge', powerKw: 4 },
          { start: t.clock.at(70), end: t.clock.at(190), action: 'discharge', powerKw: 5 },
        ] },
      });
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.headers['content-type'] as string, /problem\+json/);
      assert.equal(res.json<{ field: string }>().field, 'intervals/1/powerKw');
      const overPower = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(10), end: t.clock.at(20), action: 'charge', powerKw: 6 }] } });
      assert.equal(overPower.json<{ field: string }>().field, 'intervals/0/powerKw');
      const overlap = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(10), end: t.clock.at(30), action: 'idle' }, { start: t.clock.at(20), end: t.clock.at(40), action: 'idle' }] } });
      assert.equal(overlap.statusCode, 400);
      assert.equal(overlap.json<{ field: string }>().field, 'intervals/1/start');
      assert.equal(t.bus.published.length, before, 'nothing was sent');
      assert.equal((await t.db.query('SELECT 1 FROM schedule_versions WHERE device_id = $1', [d.id])).length, 0, 'nothing was stored');

      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(10), end: t.clock.at(70), action: 'discharge', powerKw: 3 }] } });
      assert.equal(ok.statusCode, 201, ok.body);
      assert.deepEqual(ok.json(), { kind: 'device', deviceId: d.id, version: 1, superseded: [], state: 'sent', socAssumption: null });
      const sent = t.bus.forDevice(d.id);
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.version, 1);
      assert.equal(sent[0]!.intervals[0]!.powerKw, 3);
    });

    it('shows desired vs confirmed vs executed; acks over HTTP move the ledger forward only; a new version supersedes by priority', async () => {
      const d = await provision(t, { id: 'pi-shadow-1' });
      await reportSoc(t, d, 60);
      const send = (priority: number) => t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, priority, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'hold-soc', targetSoc: 60 }] } });
      assert.equal((await send(5)).statusCode, 201);
      const shadow = async () => (await t.app.inject({ url: `/api/v1/devices/${d.id}`, headers: t.operator })).json<Shadow>();
      assert.equal((await shadow()).shadow.desired!.state, 'sent');
      const acks = (body: object) => t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/acks`, headers: d.headers, payload: body });
      const now = new Date(t.clock.now()).toISOString();
      const a1 = await acks([ack(d.id, 1, 'executing', now, 2), ack(d.id, 1, 'acknowledged', now, 1)]);
      assert.deepEqual(a1.json(), { applied: 2, stale: 0, unknown: 0, outOfWindow: 0 });
      let s = await shadow();
      assert.equal(s.shadow.desired!.state, 'executing');
      assert.equal(s.shadow.confirmedVersion, 1);
      assert.equal(s.shadow.inSync, true);
      // a replayed older ack changes nothing; an unknown version is counted as such
      assert.deepEqual((await acks(ack(d.id, 1, 'acknowledged', now, 1))).json(), { applied: 0, stale: 1, unknown: 0, outOfWindow: 0 });
      assert.deepEqual((await acks(ack(d.id, 9, 'acknowledged', now, 3))).json(), { applied: 0, stale: 0, unknown: 1, outOfWindow: 0 });
      assert.equal((await shadow()).shadow.desired!.state, 'executing');
      // lower priority: rejected while version 1 is unfinished
      const low = await send(1);
      assert.equal(low.statusCode, 409);
      assert.equal(low.json<{ field: string }>().field, 'priority');
      // equal priority: supersedes
      const high = await send(5);
      assert.equal(high.statusCode, 201);
      assert.deepEqual(high.json<{ version: number; superseded: number[] }>().superseded, [1]);
      s = await shadow();
      assert.equal(s.shadow.desired!.version, 2);
      assert.equal(s.shadow.inSync, false, 'desired 2, confirmed 1');
      assert.deepEqual(s.history.map((v) => [v.version, v.state]), [[2, 'sent'], [1, 'superseded']]);
      // a device's refusal is a failure with its reason
      await acks(ack(d.id, 2, 'rejected', now, 4, 'inverter fault'));
      const [v2] = await t.db.query<{ state: string; reason: string }>('SELECT state, reason FROM schedule_versions WHERE device_id = $1 AND version = 2', [d.id]);
      assert.deepEqual(v2, { state: 'failed', reason: 'rejected by the device: inverter fault' });
    });

    it('serves the schedule to its own device only: another device\'s key, a user or a mismatched body are refused (attack)', async () => {
      const a = await provision(t, { id: 'pi-victim-1' });
      const b = await provision(t, { id: 'pi-attacker-1' });
      await reportSoc(t, a, 50);
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: a.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(35), action: 'idle' }] } })).statusCode, 201);
      const own = await t.app.inject({ url: `/api/v1/devices/${a.id}/schedule`, headers: a.headers });
      assert.equal(own.statusCode, 200);
      assert.equal(own.json<{ version: number }>().version, 1);
      const stolen = await t.app.inject({ url: `/api/v1/devices/${a.id}/schedule`, headers: b.headers });
      assert.equal(stolen.statusCode, 404);
      assert.equal(stolen.body.includes('intervals'), false);
      const forged = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${a.id}/acks`, headers: b.headers, payload: ack(a.id, 1, 'failed', new Date(t.clock.now()).toISOString(), 1) });
      assert.equal(forged.statusCode, 404);
      const smuggled = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${b.id}/acks`, headers: b.headers, payload: [ack(a.id, 1, 'failed', new Date(t.clock.now()).toISOString(), 1)] });
      assert.equal(smuggled.statusCode, 400);
      assert.equal(smuggled.json<{ field: string }>().field, '0/deviceId');
      const telemetry = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${a.id}/telemetry`, headers: b.headers,
        payload: { schema: 'gridpulse.telemetry/1', deviceId: a.id, at: new Date(t.clock.now()).toISOString(), seq: 9, socPct: 1, powerKw: 0, scheduleVersion: 0, mode: 'idle' } });
      assert.equal(telemetry.statusCode, 404);
      const [v] = await t.db.query<{ state: string }>('SELECT state FROM schedule_versions WHERE device_id = $1 AND version = 1', [a.id]);
      assert.equal(v!.state, 'sent', 'the forged failure changed nothing');
      const [dev] = await t.db.query<{ soc_pct: number }>('SELECT soc_pct FROM devices WHERE id = $1', [a.id]);
      assert.equal(Number(dev!.soc_pct), 50);
      // a user (even an operator) is not a device
      assert.equal((await t.app.inject({ url: `/api/v1/devices/${a.id}/schedule`, headers: t.operator })).statusCode, 403);
      // and a device key cannot use the operator API
      assert.equal((await t.app.inject({ url: '/api/v1/devices', headers: a.headers })).statusCode, 403);
    });

    it('answers the schedule with an ETag, 304 when unchanged, and wakes a long poll when a new version is issued', async () => {
      const d = await provision(t, { id: 'pi-poll-1' });
      await reportSoc(t, d, 50);
      const none = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule`, headers: d.headers });
      assert.equal(none.statusCode, 204);
      assert.equal(none.headers.etag, '"v0"');
      const issue = () => t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(35), action: 'idle' }] } });
      await issue();
      const first = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule`, headers: d.headers });
      assert.equal(first.headers.etag, '"v1"');
      const same = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule`, headers: { ...d.headers, 'if-none-match': '"v1"' } });
      assert.equal(same.statusCode, 304);
      const listed = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule`, headers: { ...d.headers, 'if-none-match': '"v0", W/"v1"' } });
      assert.equal(listed.statusCode, 304, 'a list of tags, a weak one matching');
      const started = Date.now();
      const poll = t.app.inject({ url: `/api/v1/devices/${d.id}/schedule?wait=20`, headers: { ...d.headers, 'if-none-match': '"v1"' } });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await issue()).statusCode, 201);
      const woke = await poll;
      assert.equal(woke.statusCode, 200);
      assert.equal(woke.json<{ version: number }>().version, 2);
      assert.equal(woke.headers.etag, '"v2"');
      assert.ok(Date.now() - started < 10_000, 'woken by the new version, not by the end of the wait');
      const quiet = Date.now();
      const timedOut = await t.app.inject({ url: `/api/v1/devices/${d.id}/schedule?wait=1`, headers: { ...d.headers, 'if-none-match': '"v2"' } });
      assert.equal(timedOut.statusCode, 304);
      assert.ok(Date.now() - quiet >= 900, 'held for the wait');
    });

    it('changes a device\'s settings, groups devices, and pages through the device list', async () => {
      const a = await provision(t, { id: 'pi-list-a' });
      await provision(t, { id: 'pi-list-b' });
      const patched = await t.app.inject({ method: 'PATCH', url: `/api/v1/devices/${a.id}`, headers: t.operator, payload: { maxDischargeKw: 3.3, reserveSocPct: 20, fallback: 'idle' } });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual([patched.json<{ maxDischargeKw: number }>().maxDischargeKw, patched.json<{ reserveSocPct: number }>().reserveSocPct], [3.3, 20]);
      const bad = await t.app.inject({ method: 'PATCH', url: `/api/v1/devices/${a.id}`, headers: t.operator, payload: { maxSocPct: 15 } });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json<{ field: string }>().field, 'maxSocPct', 'the field the patch changed is named');
      const badReserve = await t.app.inject({ method: 'PATCH', url: `/api/v1/devices/${a.id}`, headers: t.operator, payload: { reserveSocPct: 100 } });
      assert.equal(badReserve.json<{ field: string }>().field, 'reserveSocPct');
      assert.equal((await t.app.inject({ method: 'PATCH', url: '/api/v1/devices/pi-nobody', headers: t.operator, payload: { name: 'x' } })).statusCode, 404);
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: 'Listing', deviceIds: [a.id] } });
      assert.equal(g.statusCode, 201, g.body);
      const gid = g.json<{ id: string }>().id;
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: 'listing' } })).statusCode, 409);
      const moved = await t.app.inject({ method: 'POST', url: `/api/v1/device-groups/${gid}/devices`, headers: t.operator, payload: { add: ['pi-list-b'], remove: [a.id] } });
      assert.equal(moved.json<{ deviceCount: number }>().deviceCount, 1);
      const unknown = await t.app.inject({ method: 'POST', url: `/api/v1/device-groups/${gid}/devices`, headers: t.operator, payload: { add: ['pi-list-zz'] } });
      assert.equal(unknown.json<{ field: string }>().field, 'add/0');
      const inGroup = await t.app.inject({ url: `/api/v1/devices?groupId=${gid}`, headers: t.operator });
      assert.deepEqual(inGroup.json<{ data: Array<{ id: string }> }>().data.map((d) => d.id), ['pi-list-b']);
      const ids: string[] = [];
      let after: string | null = '';
      while (after !== null) {
        const page: { data: Array<{ id: string }>; next: string | null } = (await t.app.inject({ url: `/api/v1/devices?limit=2${after ? `&after=${after}` : ''}`, headers: t.operator })).json();
        ids.push(...page.data.map((d) => d.id));
        after = page.next;
      }
      assert.deepEqual(ids, [...ids].sort());
      assert.equal(new Set(ids).size, ids.length);
      assert.ok(ids.includes('pi-list-a') && ids.includes('pi-list-b'));
      const audits = await t.db.query<{ action: string }>(`SELECT DISTINCT action FROM audit_log WHERE action LIKE 'fleet.%'`);
      for (const action of ['fleet.devices.update', 'fleet.groups.create', 'fleet.groups.members', 'fleet.schedules.create']) assert.ok(audits.some((r) => r.action === action), action);
    });
  });
}
