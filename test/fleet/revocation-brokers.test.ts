import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { memoryCache } from '../../src/platform/cache.ts';
import { migrate } from '../../src/platform/migrate.ts';
import type { Config } from '../../src/platform/config.ts';
import type { Db } from '../../src/platform/db.ts';
import { startDeviceBus, ledgerSink, type DeviceBus } from '../../src/fleet/bus/device-bus.ts';
import type { DynsecAdmin } from '../../src/fleet/bus/dynsec-admin.ts';
import { connectMqtt } from '../../src/fleet/bus/mqtt-connect.ts';
import { startGateway, type Gateway } from '../../src/fleet/gateway/gateway.ts';
import { httpFallbackSinks } from '../../src/fleet/gateway/ingest-writer.ts';
import { createDevice, deviceInput } from '../../src/fleet/device-repository.ts';
import { deviceTopic } from '../../src/fleet/messages.ts';
import type { DeviceCredentials } from '../../src/fleet/contract.ts';
import { devicesSyncBroker } from '../../src/cli/devices-command.ts';
import { sharedMosquitto } from '../support/mosquitto.ts';
import { testDatabases } from '../support/databases.ts';
import { authHeaders } from '../support/auth.ts';
import type { FastifyInstance } from 'fastify';

/**
 * Revocation and rotation against the real brokers, through the whole path: the API in this process, the device bus
 * (startDeviceBus: the embedded Aedes, or the CI Mosquitto with dynamic security) and a gateway whose batches wait
 * long enough (flushMs) for a revocation to land between a message's receipt and its store.
 */
const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mosquitto = sharedMosquitto();
const run = randomBytes(3).toString('hex');
const FLUSH_MS = 2_500;

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const targets = [
  { name: 'embedded Aedes', skip: false as const, config: { MQTT_PORT: 0, HOST: '127.0.0.1' } },
  {
    name: 'Mosquitto (dynamic security)', skip: mosquitto ? false as const : 'TEST_MQTT_URL not set (CI unset): run eval "$(.ci/mosquitto.sh)"',
    config: mosquitto ? { MQTT_URL: mosquitto.url, MQTT_ADMIN_USERNAME: mosquitto.admin.username, MQTT_ADMIN_PASSWORD: mosquitto.admin.password } : {},
  },
];
// one database is enough here (the ledger's rule runs on both in device-revocation.test.ts): PostgreSQL when configured
const database = testDatabases().at(-1)!;

for (const target of targets) {
  describe(`revocation and rotation on the ${target.name} (${database.name})`, { skip: target.skip }, () => {
    let db: Db;
    let deviceBus: DeviceBus;
    let gateway: Gateway;
    let app: FastifyInstance;
    let operator: { authorization: string };
    const clients: MqttClient[] = [];
    const config = { ...target.config, MQTT_GATEWAY_GROUP: `rv-${run}`, MQTT_GATEWAY_ID: `rv-${run}` } as unknown as Config;

    before(async () => {
      db = await database.open();
      await migrate(db);
      // the device bus as a process with the API has it (its credential follower included), without its own gateway:
      // this test's gateway holds its batches FLUSH_MS
      deviceBus = await startDeviceBus(config, db, quiet, { gateway: false });
      const credentials = deviceBus.broker ? deviceBus.broker.gateway : await (deviceBus.brokerAdmin as DynsecAdmin).setup(mosquitto!.admin);
      gateway = await startGateway({ db, url: deviceBus.url, credentials, clientId: `rv-${run}`, group: `rv-${run}`, sink: ledgerSink, logger: quiet, flushMs: FLUSH_MS });
      app = await buildApp({ db, logger: quiet, cache: memoryCache(), fleet: { bus: deviceBus.bus, brokerAdmin: deviceBus.brokerAdmin, ...httpFallbackSinks(db) } });
      operator = await authHeaders(app, db, 'operator');
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await gateway?.stop();
      await app?.close();
      await deviceBus?.close();
      await db?.close();
    });

    const provision = async (name: string): Promise<DeviceCredentials> => {
      const res = await app.inject({ method: 'POST', url: '/api/v1/devices', headers: operator, payload: { id: `rv-${name}-${run}`, name } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json<{ credentials: DeviceCredentials }>().credentials;
    };
    const connect = async (id: string, password: string) => {
      const { client } = await connectMqtt(deviceBus.url, { clientId: id, username: id, password, clean: true, reconnectPeriod: 0 });
      clients.push(client);
      return client;
    };
    const telemetry = (deviceId: string, seq: number) => JSON.stringify({ schema: 'gridpulse.telemetry/1', deviceId, at: new Date().toISOString(), seq, socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'hold-soc' });
    const ackOf = (deviceId: string, seq: number) => JSON.stringify({ schema: 'gridpulse.ack/1', deviceId, version: 1, state: 'acknowledged', at: new Date().toISOString(), seq });
    const storedSeqs = async (id: string) => (await db.query<{ seq: number }>(
      'SELECT seq::int AS seq FROM device_telemetry WHERE device_id = $1 UNION ALL SELECT seq::int FROM device_acks WHERE device_id = $1 ORDER BY seq', [id])).map((r) => r.seq);

    it('a revoked device is disconnected within a second, what it sent before is dropped when stored, and it cannot come back', { timeout: 60_000 }, async () => {
      const d = await provision('live');
      const client = await connect(d.id, d.mqttPassword);
      await client.publishAsync(deviceTopic(d.id, 'telemetry'), telemetry(d.id, 1), { qos: 1 });
      await until('the first reading stored', async () => (await storedSeqs(d.id)).includes(1));

      // an ack and a reading taken by the gateway into its batch; the revocation lands before the batch is written
      let closedAt = 0;
      client.once('close', () => { closedAt = Date.now(); });
      const received = gateway.stats().received;
      const dropped = gateway.stats().fromRevoked;
      await client.publishAsync(deviceTopic(d.id, 'ack'), ackOf(d.id, 2), { qos: 1 });
      await client.publishAsync(deviceTopic(d.id, 'telemetry'), telemetry(d.id, 3), { qos: 1 });
      await until('the gateway holding both', () => gateway.stats().received >= received + 2);
      const res = await app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}`, headers: operator });
      assert.equal(res.statusCode, 204);
      const revokedAt = Date.now();
      // still connected, it would publish this too (mid-publish when the revocation lands)
      client.publish(deviceTopic(d.id, 'telemetry'), telemetry(d.id, 4), { qos: 1 }, () => {});
      await until('the broker ending the session', () => closedAt > 0, 1_000).catch(() => {});
      assert.ok(closedAt > 0, `disconnected within a second of the revocation (connected: ${client.connected})`);
      assert.ok(closedAt - revokedAt <= 1_000);

      await until('the batch written', () => gateway.stats().fromRevoked >= dropped + 2, FLUSH_MS * 4);
      await sleep(FLUSH_MS + 500);
      assert.deepEqual(await storedSeqs(d.id), [1], 'nothing the device sent after its first reading was stored');
      assert.equal(gateway.stats().fromRevoked - dropped >= 2, true);

      // it cannot come back with its password, and its HTTP key is refused
      await assert.rejects(connectMqtt(deviceBus.url, { clientId: d.id, username: d.id, password: d.mqttPassword, clean: true, reconnectPeriod: 0 }), /not authori[sz]ed|bad user|refused|credentials/i);
      const http = await app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: { authorization: `Bearer ${d.apiKey}` }, payload: JSON.parse(telemetry(d.id, 5)) as Record<string, unknown> });
      assert.equal(http.statusCode, 401);
      assert.deepEqual(await storedSeqs(d.id), [1]);
    });

    it('rotation: the live session ends, the old password is refused and the new one accepted', { timeout: 60_000 }, async () => {
      const d = await provision('rotate');
      const client = await connect(d.id, d.mqttPassword);
      let closed = false;
      client.once('close', () => { closed = true; });
      const res = await app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/credentials`, headers: operator });
      assert.equal(res.statusCode, 200, res.body);
      const c = res.json<{ credentials: DeviceCredentials }>().credentials;
      await until('the old session ended', () => closed, 2_000);
      await assert.rejects(connectMqtt(deviceBus.url, { clientId: d.id, username: d.id, password: d.mqttPassword, clean: true, reconnectPeriod: 0 }), /not authori[sz]ed|bad user|refused|credentials/i);
      const fresh = await connect(d.id, c.mqttPassword);
      await fresh.publishAsync(deviceTopic(d.id, 'telemetry'), telemetry(d.id, 1), { qos: 1 });
      await until('the reading over the new session stored', async () => (await storedSeqs(d.id)).includes(1), FLUSH_MS * 4);
    });

    it('a revoked device\'s retained schedule is cleared from the broker', { timeout: 60_000 }, async () => {
      const d = await provision('retained');
      const start = new Date(Date.now() + 3_600_000);
      await deviceBus.bus.publishSchedule({ schema: 'gridpulse.schedule/1', deviceId: d.id, version: 1, issuedAt: new Date().toISOString(),
        intervals: [{ start: start.toISOString(), end: new Date(start.getTime() + 3_600_000).toISOString(), action: 'idle' }], fallback: 'hold-soc' });
      const topic = deviceTopic(d.id, 'schedule');
      /** the retained message of the topic now: what a new subscriber gets at once (empty when there is none) */
      const retained = async (): Promise<string> => {
        if (deviceBus.broker) {
          // Aedes: only the device may read its topic; a device connecting reads it (before the revocation)
          const c = await connect(d.id, d.mqttPassword);
          const got = new Promise<string>((resolve) => { c.once('message', (_t, payload) => resolve(payload.toString())); setTimeout(() => resolve(''), 1_000); });
          await c.subscribeAsync(topic, { qos: 1 });
          const out = await got;
          await c.endAsync();
          return out;
        }
        const { client } = await connectMqtt(deviceBus.url, { ...mosquitto!.admin, clientId: `rv-spy-${randomBytes(3).toString('hex')}`, clean: true });
        try {
          const got = new Promise<string>((resolve) => { client.on('message', (_t, payload, packet) => { if (packet.retain) resolve(payload.toString()); }); setTimeout(() => resolve(''), 1_000); });
          await client.subscribeAsync(topic, { qos: 1 });
          return await got;
        } finally { await client.endAsync(); }
      };
      assert.match(await retained(), /gridpulse\.schedule\/1/, 'retained before the revocation');
      const cleared: string[] = [];
      const off = deviceBus.broker?.onAccepted((t, payload) => { if (t === topic && payload.length === 0) cleared.push(t); });
      try {
        assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/devices/${d.id}`, headers: operator })).statusCode, 204);
        if (deviceBus.broker) await until('the retained schedule cleared', () => cleared.length > 0, 2_000);
        else await until('the retained schedule cleared', async () => (await retained()) === '', 5_000);
      } finally { off?.(); }
    });

    if (target.name.startsWith('Mosquitto')) {
      it('a device provisioned on the embedded broker gets its Mosquitto account by rotation, or by sync-broker (a new password, printed once)', { timeout: 60_000 }, async () => {
        // provisioned with no broker admin: as on the embedded broker before the switch
        const made = await Promise.all(['a', 'b'].map((x) => db.transaction((tx) => createDevice(tx, deviceInput.parse({ id: `rv-emb-${x}-${run}`, name: x }))).then((o) => o.credentials)));
        for (const m of made) await assert.rejects(connectMqtt(deviceBus.url, { clientId: m.id, username: m.id, password: m.mqttPassword, clean: true, reconnectPeriod: 0 }), /not authori[sz]ed|bad user/i);
        // one by the API
        const res = await app.inject({ method: 'POST', url: `/api/v1/devices/${made[0]!.id}/credentials`, headers: operator, payload: { apiKey: false } });
        assert.equal(res.statusCode, 200, res.body);
        await connect(made[0]!.id, res.json<{ credentials: DeviceCredentials }>().credentials.mqttPassword);
        // the other by sync-broker, on this test's database
        const admin = deviceBus.brokerAdmin as DynsecAdmin;
        const here = <T,>(fn: (x: Db) => Promise<T>) => fn(db);
        const dry: string[] = [];
        await devicesSyncBroker({ dryRun: true, json: true }, async () => admin, { out: (x) => { dry.push(x); }, err: () => {} }, here);
        const listed = dry.join('').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
        assert.ok(listed.includes(made[1]!.id) && !listed.includes(made[0]!.id), `dry run lists the device without an account: ${listed.join(', ')}`);
        const out: string[] = [];
        await devicesSyncBroker({ json: true }, async () => admin, { out: (x) => { out.push(x); }, err: () => {} }, here);
        const printed = out.join('').trim().split('\n').map((l) => JSON.parse(l) as { id: string; mqttPassword: string; apiKey?: string });
        const mine = printed.find((p) => p.id === made[1]!.id);
        assert.ok(mine, 'sync-broker printed the device\'s new credentials');
        assert.equal(mine.apiKey, undefined, 'its HTTP key is kept');
        assert.ok(!printed.some((p) => p.id === made[0]!.id), 'a device with an account is left alone');
        await assert.rejects(connectMqtt(deviceBus.url, { clientId: made[1]!.id, username: made[1]!.id, password: made[1]!.mqttPassword, clean: true, reconnectPeriod: 0 }), /not authori[sz]ed|bad user/i);
        await connect(made[1]!.id, mine.mqttPassword);
      });
    }
  });
}
