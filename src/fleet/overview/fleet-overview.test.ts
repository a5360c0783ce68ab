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
import { applyAcks } from '../ledger.ts';
import { notifyFleetChanged, parseFleetEvent, fleetPayload, MAX_IDS } from '../fleet-events.ts';
import { evaluateAlerts } from '../../alerts/alert-evaluator.ts';
import { createAlert } from '../../alerts/alert-repository.ts';
import { alertRule } from '../../alerts/alert-rules.ts';
import { fleetHistory, fleetOverview, offlineDevices, STALE_AFTER_MS } from './fleet-overview.ts';

const logger = pino({ level: 'silent' });
const NOW = new Date('2026-11-30T12:00:00Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

/** A device row as fleet-core provisions it (credentials irrelevant here), with the reported state given. */
async function device(db: Db, id: string, d: { capacityKwh?: number; online?: boolean; lastSeen?: Date | null; statusAt?: Date | null; soc?: number | null; power?: number | null; ba?: string } = {}) {
  await db.query(
    `INSERT INTO devices (id, name, capacity_kwh, max_charge_kw, max_discharge_kw, mqtt_password_hash, online, last_seen_at, status_at, soc_pct, power_kw, ba_code)
     VALUES ($1, $2, $3, 5, 5, $4, $5, $6, $7, $8, $9, $10)`,
    [id, `Battery ${id}`, d.capacityKwh ?? 10, hashMqttPassword('x'), d.online ?? false, d.lastSeen ?? null, d.statusAt ?? null, d.soc ?? null, d.power ?? null, d.ba ?? null]);
}

async function version(db: Db, deviceId: string, v: number, state: string, finishedAt: Date | null, rolloutId: string | null = null) {
  await db.query(
    `INSERT INTO schedule_versions (device_id, version, intervals, fallback, starts_at, ends_at, rollout_id, state, state_at, finished_at)
     VALUES ($1, $2, $3::text::jsonb, 'hold-soc', $4, $5, $6, $7, $8, $9)`,
    [deviceId, v, JSON.stringify([{ start: ago(60).toISOString(), end: ago(30).toISOString(), action: 'charge', powerKw: 2 }]), ago(60), ago(30), rolloutId, state, finishedAt ?? ago(1), finishedAt]);
}

describe('fleet change events', () => {
  it('round-trip, drop long id lists rather than exceed NOTIFY\'s limit, and refuse what is not an event', () => {
    assert.deepEqual(parseFleetEvent(fleetPayload({ kind: 'devices', deviceIds: ['bat-1', 'bat-1', 'bat-2'] })), { kind: 'devices', deviceIds: ['bat-1', 'bat-2'] });
    const many = Array.from({ length: MAX_IDS + 1 }, (_, i) => `battery-${String(i).padStart(56, '0')}`);
    const payload = fleetPayload({ kind: 'ledger', deviceIds: many });
    assert.ok(Buffer.byteLength(payload) < 8000);
    assert.deepEqual(parseFleetEvent(payload), { kind: 'ledger' }, 'no id list: every subscriber hears it');
    assert.ok(Buffer.byteLength(fleetPayload({ kind: 'ledger', deviceIds: many.slice(0, MAX_IDS) })) < 8000, 'the longest list kept still fits');
    for (const bad of ['{', '{"kind":"hours"}', '[]', 'null', '{"kind":3}']) assert.equal(parseFleetEvent(bad), undefined, bad);
  });
});

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

    it('counts devices by status, weights SoC by capacity over online devices only, sums their power', async () => {
      const o = await fleetOverview(db, NOW);
      assert.deepEqual(o.devices, { total: 5, online: 2, offline: 2, neverSeen: 1 });
      // (50 % × 10 + 80 % × 20) / 30 kWh: the stale devices' last SoC does not count
      assert.equal(o.soc.fleetPct, 70);
      assert.equal(o.soc.storedKwh, 21);
      assert.equal(o.soc.capacityKwh, 60);
      assert.deepEqual(o.power, { netKw: 1, chargingKw: 2, dischargingKw: -1, reporting: 2 });
      assert.deepEqual(o.offline.map((d) => d.id), ['bat-c', 'bat-d'], 'longest offline first');
      assert.equal(o.offline[0]!.offlineSince, ago(35).toISOString(), 'the Last Will\'s time');
    });

    it('rates commands over the versions that finished in the window, superseded and in-flight ones aside', async () => {
      await version(db, 'bat-a', 1, 'succeeded', ago(120));
      await version(db, 'bat-a', 2, 'succeeded', ago(60));
      await version(db, 'bat-b', 1, 'succeeded', ago(60));
      await version(db, 'bat-b', 2, 'failed', ago(30));
      await version(db, 'bat-c', 1, 'superseded', null);
      await version(db, 'bat-c', 2, 'sent', null);
      await version(db, 'bat-d', 1, 'succeeded', ago(26 * 60)); // before the 24-hour window
      const o = await fleetOverview(db, NOW);
      assert.deepEqual(o.commands, { windowHours: 24, succeeded: 3, failed: 1, timedOut: 0, pending: 1, successRatePct: 75 });
    });

    it('shows a rollout\'s progress as the share of its devices done with delivery, moving with the devices\' own acks', async () => {
      const [r] = await db.query<{ id: string }>(
        `INSERT INTO rollouts (target_kind, intervals, rate_kind, max_per_minute, total, issued) VALUES ('fleet', '[]'::jsonb, 'max-per-minute', 100, 4, 2) RETURNING id`);
      const id = r!.id;
      for (const [i, dev] of ['bat-a', 'bat-b', 'bat-c', 'bat-d'].entries()) {
        await db.query('INSERT INTO rollout_devices (rollout_id, device_id, ord, version) VALUES ($1, $2, $3, $4)', [id, dev, i, i < 2 ? 3 : null]);
      }
      await version(db, 'bat-a', 3, 'sent', null, id);
      await version(db, 'bat-b', 3, 'sent', null, id);
      const progress = async () => (await fleetOverview(db, NOW)).rollouts.find((x) => x.id === id)!;
      assert.equal((await progress()).progressPct, 0);
      const acked = await applyAcks(db, [{ schema: 'gridpulse.ack/1', deviceId: 'bat-a', version: 3, state: 'acknowledged', at: NOW.toISOString(), seq: 1 }]);
      assert.equal(acked.applied, 1);
      assert.equal((await progress()).progressPct, 25);
      await applyAcks(db, [{ schema: 'gridpulse.ack/1', deviceId: 'bat-b', version: 3, state: 'rejected', at: NOW.toISOString(), seq: 1, reason: 'over power' }]);
      const p = await progress();
      assert.deepEqual({ pct: p.progressPct, confirmed: p.confirmed, failed: p.failed, issued: p.issued, total: p.total }, { pct: 50, confirmed: 1, failed: 1, issued: 2, total: 4 });
    });

    it('serves the overview and history to operators and admins only', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1/fleet/overview', headers: operator.headers });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<{ devices: { total: number } }>().devices.total, 5);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/overview' })).statusCode, 401);
      for (const role of ['analyst', 'viewer'] as const) {
        const who = await signIn(app, db, role);
        for (const url of ['/api/v1/fleet/overview', '/api/v1/fleet/history', '/api/v1/devices/bat-a/history']) {
          assert.equal((await app.inject({ method: 'GET', url, headers: who.headers })).statusCode, 403, `${role} ${url}`);
        }
      }
      const bad = await app.inject({ method: 'GET', url: '/api/v1/fleet/history?hours=500', headers: operator.headers });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json<{ field: string }>().field, /hours/);
      const none = await app.inject({ method: 'GET', url: '/api/v1/devices/no-such-device/history', headers: operator.headers });
      assert.equal(none.statusCode, 404);
      const hist = await app.inject({ method: 'GET', url: '/api/v1/devices/bat-a/history', headers: operator.headers });
      assert.deepEqual(hist.json<{ data: Array<{ version: number }> }>().data.map((v) => v.version), [3, 2, 1], 'newest first');
    });

    it('weights the fleet\'s SoC history by capacity and sums power per bucket, from telemetry', async () => {
      const from = new Date(NOW.getTime() - 3_600_000);
      await db.query('SELECT ensure_device_telemetry_partitions($1, $2)', [from, NOW]);
      const sample = (dev: string, minutes: number, soc: number, power: number, seq: number) =>
        db.query(`INSERT INTO device_telemetry (device_id, at, seq, soc_pct, power_kw, schedule_version, mode) VALUES ($1, $2, $3, $4, $5, 1, 'charge')`, [dev, ago(minutes), seq, soc, power]);
      await sample('bat-a', 50, 40, 2, 1); await sample('bat-a', 48, 60, 4, 2); // mean 50 %, 3 kW in the bucket at −50 min
      await sample('bat-b', 49, 80, -1, 1);
      await sample('bat-b', 20, 90, -2, 2);
      const points = await fleetHistory(db, from, NOW, 15);
      assert.equal(points.length, 2);
      // bucket [−60, −45): (50 × 10 + 80 × 20) / 30 = 70 %, 3 − 1 = 2 kW
      assert.deepEqual(points[0], { ts: from.toISOString(), socPct: 70, powerKw: 2, devices: 2 });
      assert.deepEqual(points[1], { ts: ago(30).toISOString(), socPct: 90, powerKw: -2, devices: 1 });
    });

    it('fires the devices-offline alert of an operator once per set of outages, never an analyst\'s, and stops when its owner loses the role', async () => {
      const rule = alertRule.parse({ kind: 'devices_offline', minutes: 30 });
      const mine = await createAlert(db, operator.userId, { name: 'batteries down', rule, webhookUrl: 'https://example.org/hook', cooldownMinutes: 0 });
      const run = (now: Date) => evaluateAlerts({ db, logger }, { kinds: ['devices_offline'], now });
      // bat-c offline 35 min, bat-d offline ~6 min: one device past 30 minutes
      assert.deepEqual(await run(NOW), { evaluated: 1, fired: 1, repeats: 0, cooldown: 0 });
      assert.deepEqual(await run(new Date(NOW.getTime() + 1000)), { evaluated: 1, fired: 0, repeats: 1, cooldown: 0 }, 'the same outage fires once');
      const [delivery] = await db.query<{ payload: unknown }>('SELECT payload FROM alert_deliveries WHERE alert_id = $1', [mine.id]);
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

    it('streams committed fleet changes to operators over SSE, filtered by device, and refuses analysts', async () => {
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
      const one = await open('/api/v1/fleet/live?device=bat-b', operator.headers);
      assert.equal(all.res.statusCode, 200);
      assert.match(String(all.res.headers['content-type']), /text\/event-stream/);
      // the process LISTENs from its first subscriber on: probe until both streams hear, then start clean
      for (let i = 0; i < 100 && (all.events.length === 0 || one.events.length === 0); i++) {
        await db.transaction((tx) => notifyFleetChanged(tx, { kind: 'ledger' }));
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 100));
      all.events.length = 0; one.events.length = 0;
      // a rolled-back change is never heard
      await db.transaction(async (tx) => { await notifyFleetChanged(tx, { kind: 'devices', deviceIds: ['bat-z'] }); throw new Error('roll back'); }).catch(() => undefined);
      await db.transaction((tx) => notifyFleetChanged(tx, { kind: 'devices', deviceIds: ['bat-a'] }));
      await db.transaction((tx) => notifyFleetChanged(tx, { kind: 'rollouts', rolloutIds: ['r1'] }));
      for (let i = 0; i < 100 && (all.events.length < 2 || one.events.length < 1); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(all.events.map((e) => JSON.parse(e) as unknown), [{ kind: 'devices', deviceIds: ['bat-a'] }, { kind: 'rollouts', rolloutIds: ['r1'] }]);
      assert.deepEqual(one.events.map((e) => JSON.parse(e) as unknown), [{ kind: 'rollouts', rolloutIds: ['r1'] }], 'bat-a\'s change is not bat-b\'s; an event naming no device reaches everyone');
      all.req.destroy(); one.req.destroy();
    });
  });
}
