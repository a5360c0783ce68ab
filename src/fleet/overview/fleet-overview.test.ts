import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../../../test/support/databases.ts';
import { openTestApp } from '../../../test/support/app.ts';
import { signIn, type SignedIn } from '../../../test/support/auth.ts';
import type { Db } from '../../platform/db.ts';
import { hashMqttPassword } from '../device-credentials.ts';
import { notifyFleet } from '../fleet-events.ts';
import { evaluateAlerts } from '../../alerts/alert-evaluator.ts';
import { createAlert } from '../../alerts/alert-repository.ts';
import { alertRule } from '../../alerts/alert-rules.ts';
import { fleetHistory, offlineDevices, STALE_AFTER_MS } from './fleet-overview.ts';

const logger = pino({ level: 'silent' });
// the API answers at the real clock: the test's instants are relative to now (whole minutes)
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000);
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

/** A device row as fleet-core provisions it (credentials irrelevant here), with the reported state given. */
async function device(db: Db, id: string, d: { capacityKwh?: number; online?: boolean; lastSeen?: Date | null; statusAt?: Date | null; soc?: number | null; power?: number | null; ba?: string } = {}) {
  await db.query(
    `INSERT INTO devices (id, name, capacity_kwh, max_charge_kw, max_discharge_kw, mqtt_password_hash, online, last_seen_at, status_at, soc_pct, power_kw, ba_code)
     VALUES ($1, $2, $3, 5, 5, $4, $5, $6, $7, $8, $9, $10)`,
    [id, `Battery ${id}`, d.capacityKwh ?? 10, hashMqttPassword('x'), d.online ?? false, d.lastSeen ?? null, d.statusAt ?? null, d.soc ?? null, d.power ?? null, d.ba ?? null]);
}

for (const target of testDatabases()) {
  describe(`fleet overview, history and offline alert on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let operator: SignedIn;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      operator = await signIn(app, db, 'operator');
      await device(db, 'bat-a', { capacityKwh: 10, online: true, lastSeen: ago(1), statusAt: ago(30), soc: 50, power: 2 });
      await device(db, 'bat-b', { capacityKwh: 20, online: true, lastSeen: ago(2), statusAt: ago(30), soc: 80, power: -1, ba: 'CISO' });
      await device(db, 'bat-c', { capacityKwh: 10, online: false, lastSeen: ago(40), statusAt: ago(35), soc: 10, power: 0, ba: 'CISO' });
      // said online, silent longer than STALE_AFTER_MS without a Last Will: offline since its last sign of life
      await device(db, 'bat-d', { capacityKwh: 10, online: true, lastSeen: new Date(NOW.getTime() - STALE_AFTER_MS - 60_000), soc: 90, power: 3 });
      await device(db, 'bat-e', {});
    });
    after(async () => { await app.close(); await db.close(); });

    it('lists the offline devices longest offline first, with their Last Will or last sign of life, by BA and duration', async () => {
      const all = await offlineDevices(db, NOW);
      assert.deepEqual(all.map((d) => d.id), ['bat-c', 'bat-d'], 'online and never-seen devices are not listed');
      assert.equal(all[0]!.offlineSince, ago(35).toISOString(), 'the Last Will\'s time');
      assert.equal(all[1]!.offlineSince, new Date(NOW.getTime() - STALE_AFTER_MS - 60_000).toISOString(), 'silent without a Last Will: its last sign of life');
      assert.deepEqual((await offlineDevices(db, NOW, { ba: 'CISO' })).map((d) => d.id), ['bat-c']);
      assert.deepEqual((await offlineDevices(db, NOW, { offlineBefore: ago(30) })).map((d) => d.id), ['bat-c']);
      const res = await app.inject({ method: 'GET', url: '/api/v1/fleet/offline?minutes=30', headers: operator.headers });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json<{ data: Array<{ id: string }> }>().data.map((d) => d.id), ['bat-c']);
      // a device that reports again is online at once
      await db.query(`UPDATE devices SET online = true, last_seen_at = $1, status_at = $1 WHERE id = 'bat-c'`, [NOW]);
      assert.deepEqual((await offlineDevices(db, NOW)).map((d) => d.id), ['bat-d']);
      await db.query(`UPDATE devices SET online = false, last_seen_at = $1, status_at = $2 WHERE id = 'bat-c'`, [ago(40), ago(35)]);
    });

    it('counts online, offline and never-seen devices by one rule: the headline offline count is the offline list\'s length, never-seen devices apart', async () => {
      const summary = await app.inject({ url: '/api/v1/fleet/summary', headers: operator.headers });
      assert.equal(summary.statusCode, 200, summary.body);
      const s = summary.json<{ devices: number; online: number; offline: number; neverSeen: number }>();
      const list = await app.inject({ url: '/api/v1/fleet/offline', headers: operator.headers });
      const offline = list.json<{ data: Array<{ id: string }> }>().data.map((d) => d.id);
      assert.equal(s.offline, offline.length, `summary ${JSON.stringify(s)} vs list ${offline.join(', ')}`);
      assert.equal(s.neverSeen, 1, 'bat-e was provisioned and never heard from');
      assert.equal(offline.includes('bat-e'), false);
      assert.equal(s.online + s.offline + s.neverSeen, s.devices);
    });

    it('serves the offline list and the history to operators and admins only, and names the field of a bad query', async () => {
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/history', headers: operator.headers })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/offline' })).statusCode, 401);
      for (const role of ['analyst', 'viewer'] as const) {
        const who = await signIn(app, db, role);
        for (const url of ['/api/v1/fleet/offline', '/api/v1/fleet/history', '/api/v1/fleet/live']) {
          assert.equal((await app.inject({ method: 'GET', url, headers: who.headers })).statusCode, 403, `${role} ${url}`);
        }
      }
      const bad = await app.inject({ method: 'GET', url: '/api/v1/fleet/history?hours=500', headers: operator.headers });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json<{ field: string }>().field, /hours/);
      const ba = await app.inject({ method: 'GET', url: '/api/v1/fleet/offline?ba=not%20a%20ba', headers: operator.headers });
      assert.equal(ba.statusCode, 400);
      assert.match(ba.json<{ field: string }>().field, /ba/);
    });

    it('weights the fleet\'s SoC history by capacity and sums power per bucket, from telemetry', async () => {
      const from = new Date(NOW.getTime() - 3_600_000);
      await db.query('SELECT ensure_device_telemetry_partitions($1, $2)', [from, NOW]);
      const sample = (dev: string, minutes: number, soc: number, power: number, seq: number) =>
        db.query(`INSERT INTO device_telemetry (device_id, at, seq, soc_pct, power_kw, schedule_version, mode) VALUES ($1, $2, $3, $4, $5, $6, 'charge')`, [dev, ago(minutes), seq, soc, power, seq]);
      await sample('bat-a', 50, 40, 2, 1); await sample('bat-a', 48, 60, 4, 2); // mean 50 %, 3 kW in the bucket at −50 min
      await sample('bat-b', 49, 80, -1, 1);
      await sample('bat-b', 20, 90, -2, 2);
      const points = await fleetHistory(db, from, NOW, 15);
      assert.equal(points.length, 2);
      // bucket [−60, −45): (50 × 10 + 80 × 20) / 30 = 70 %, 3 − 1 = 2 kW
      assert.deepEqual(points[0], { ts: from.toISOString(), socPct: 70, powerKw: 2, devices: 2 });
      assert.deepEqual(points[1], { ts: ago(30).toISOString(), socPct: 90, powerKw: -2, devices: 1 });
      // one device's own series, as the device page reads it
      const res = await app.inject({ method: 'GET', url: '/api/v1/fleet/devices/bat-b/telemetry?hours=2&bucket=1', headers: operator.headers });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json<{ data: unknown[] }>().data, [
        { ts: ago(49).toISOString(), socPct: 80, powerKw: -1, mode: 'charge', scheduleVersion: 1, samples: 1 },
        { ts: ago(20).toISOString(), socPct: 90, powerKw: -2, mode: 'charge', scheduleVersion: 2, samples: 1 },
      ]);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/devices/no-such-battery/telemetry', headers: operator.headers })).statusCode, 404);
      const analyst = await signIn(app, db, 'analyst');
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/devices/bat-b/telemetry', headers: analyst.headers })).statusCode, 403);
    });

    it('fires the devices-offline alert of an operator once per set of outages, never an analyst\'s, and stops when its owner loses the role', async () => {
      const rule = alertRule.parse({ kind: 'devices_offline', minutes: 30 });
      const mine = await createAlert(db, operator.userId, { name: 'batteries down', rule, webhookUrl: 'https://example.org/hook', cooldownMinutes: 0 });
      const run = (now: Date) => evaluateAlerts({ db, logger }, { kinds: ['devices_offline'], now });
      // bat-c offline 35 min, bat-d offline ~6 min: one device past 30 minutes
      assert.deepEqual(await run(NOW), { evaluated: 1, fired: 1, repeats: 0, cooldown: 0 });
      assert.deepEqual(await run(new Date(NOW.getTime() + 1000)), { evaluated: 1, fired: 0, repeats: 1, cooldown: 0 }, 'the same outage fires once');
      const [delivery] = await db.query<{ payload: unknown }>('SELECT payload FROM webhook_deliveries WHERE alert_id = $1', [mine.id]);
      const payload = (typeof delivery!.payload === 'string' ? JSON.parse(delivery!.payload) : delivery!.payload) as { summary: string; details: { devices: Array<{ id: string }> } };
      assert.deepEqual(payload.details.devices.map((d) => d.id), ['bat-c']);
      assert.match(payload.summary, /1 device offline for more than 30 minutes/);
      // a BA-scoped rule with a higher count does not hold
      assert.deepEqual((await offlineDevices(db, NOW, { ba: 'CISO', offlineBefore: ago(30) })).map((d) => d.id), ['bat-c']);
      // the API refuses the rule to an analyst, naming the field
      const analyst = await signIn(app, db, 'analyst');
      const refused = await app.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: analyst.headers, payload: { name: 'x', rule: { kind: 'devices_offline', minutes: 5 }, webhookUrl: 'https://example.org/hook' } });
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(refused.json<{ field: string }>().field, 'rule/kind');
      // even written straight into the table, an analyst's fleet rule is never evaluated; a demoted operator's neither
      await createAlert(db, analyst.userId, { name: 'sneaky', rule, webhookUrl: 'https://example.org/hook', cooldownMinutes: 0 });
      // bat-a's Last Will: offline from −29 min, so past 30 minutes two minutes later
      await db.query(`UPDATE devices SET online = false, status_at = $1 WHERE id = 'bat-a'`, [ago(29)]);
      const later = new Date(NOW.getTime() + 2 * 60_000);
      await db.query(`UPDATE users SET role = 'analyst' WHERE id = $1`, [operator.userId]);
      assert.deepEqual(await run(later), { evaluated: 0, fired: 0, repeats: 0, cooldown: 0 });
      await db.query(`UPDATE users SET role = 'operator' WHERE id = $1`, [operator.userId]);
      assert.deepEqual(await run(later), { evaluated: 1, fired: 1, repeats: 0, cooldown: 0 }, 'a new device offline: a new outage set');
    });

    it('streams committed fleet changes to every operator\'s SSE stream, never rolled-back ones, and refuses analysts', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const open = (path: string, headers: Record<string, string>) => new Promise<{ res: http.IncomingMessage; events: string[]; req: http.ClientRequest }>((resolve, reject) => {
        const events: string[] = [];
        const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => { for (const block of chunk.split('\n\n')) if (block.startsWith('event: fleet')) events.push(block.split('\n')[1]!.slice(6)); });
          resolve({ res, events, req });
        });
        req.on('error', reject);
      });
      const analyst = await signIn(app, db, 'analyst');
      const refused = await open('/api/v1/fleet/live', analyst.headers);
      assert.equal(refused.res.statusCode, 403);
      refused.req.destroy();
      const all = await open('/api/v1/fleet/live', operator.headers);
      const other = await open('/api/v1/fleet/live', operator.headers);
      assert.equal(all.res.statusCode, 200);
      assert.match(String(all.res.headers['content-type']), /text\/event-stream/);
      // the process LISTENs from its first subscriber on: probe until both streams hear, then start clean
      for (let i = 0; i < 100 && (all.events.length === 0 || other.events.length === 0); i++) {
        await db.transaction((tx) => notifyFleet(tx, 'ledger', 1));
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 100));
      all.events.length = 0; other.events.length = 0;
      // a rolled-back change is never heard; committed ones reach every stream, in order
      await db.transaction(async (tx) => { await notifyFleet(tx, 'devices', 7); throw new Error('roll back'); }).catch(() => undefined);
      await db.transaction((tx) => notifyFleet(tx, 'devices', 2));
      await db.transaction((tx) => notifyFleet(tx, 'rollouts', 1));
      for (let i = 0; i < 100 && (all.events.length < 2 || other.events.length < 2); i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      for (const stream of [all, other]) assert.deepEqual(stream.events.map((e) => JSON.parse(e) as unknown), [{ kind: 'devices', count: 2 }, { kind: 'rollouts', count: 1 }]);
      all.req.destroy(); other.req.destroy();
    });
  });
}
