import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { testBrokers, type TestBroker } from '../../../test/support/fleet-brokers.ts';
import { connectMqtt } from './mqtt-connect.ts';
import { deviceTopic, TOPIC_ROOT } from '../messages.ts';

const N = 1_000;
const CONCURRENCY = 100;

async function inChunks<T>(items: T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) await Promise.all(items.slice(i, i + CONCURRENCY).map((item, j) => fn(item, i + j)));
}

/** True when the broker refused the subscription (SUBACK ≥ 0x80), however mqtt.js reports it. */
async function subscribeRefused(client: MqttClient, filter: string): Promise<boolean> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted.every((g) => g.qos >= 0x80);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (packet?.granted) return packet.granted.every((g) => g >= 0x80);
    throw err;
  }
}

/** True when the broker refused the publish: MQTT 5 PUBACK ≥ 0x80, or (MQTT 3.1.1, Aedes) it closed the connection. */
async function publishRefused(client: MqttClient, topic: string, payload: string): Promise<boolean> {
  let onClose!: () => void;
  const closed = new Promise<boolean>((resolve) => { onClose = () => resolve(true); client.once('close', onClose); });
  try {
    return await Promise.race([
      client.publishAsync(topic, payload, { qos: 1 }).then(() => false, (err: unknown) => ((err as { code?: number }).code ?? 0) >= 0x80),
      closed,
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
  } finally {
    client.off('close', onClose);
  }
}

for (const target of testBrokers()) {
  describe(`1,000 devices attacking each other's topics (${target.name})`, { skip: target.skip }, () => {
    let broker: TestBroker;
    const run = randomBytes(3).toString('hex');
    const marker = `attack-${run}`;
    const accounts = Array.from({ length: N }, (_, i) => ({ deviceId: `acl-${run}-${i}`, password: randomBytes(16).toString('base64url') }));
    const clients: MqttClient[] = [];
    before(async () => {
      broker = await target.start();
      await broker.provision(accounts);
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await broker?.close();
    });

    it('refuses every read and write of another device\'s topics, and lets each device use its own', { timeout: 240_000 }, async () => {
      const spy = await broker.spy();
      // the control: each device may subscribe to its own schedule and publish its own telemetry
      await inChunks(accounts, async (a) => {
        const { client } = await connectMqtt(broker.url, { clientId: a.deviceId, username: a.deviceId, password: a.password, clean: true, reconnectPeriod: 0 });
        clients.push(client);
        assert.equal(await subscribeRefused(client, deviceTopic(a.deviceId, 'schedule')), false, `${a.deviceId} may read its own schedule`);
      });
      const byId = new Map(clients.map((c) => [c.options.clientId!, c]));
      await inChunks(accounts, async (a) => {
        await byId.get(a.deviceId)!.publishAsync(deviceTopic(a.deviceId, 'telemetry'), JSON.stringify({ control: run }), { qos: 1 });
      });

      let attempts = 0;
      const accepted: string[] = [];
      await inChunks(accounts, async (a, i) => {
        const client = byId.get(a.deviceId)!;
        const victim = accounts[(i + 1) % N]!.deviceId;
        // reads: another device's schedule and acks, and wildcards over every device
        for (const filter of [deviceTopic(victim, 'schedule'), deviceTopic(victim, 'ack'), `${TOPIC_ROOT}/+/schedule`, `${TOPIC_ROOT}/#`, '#']) {
          attempts++;
          if (!(await subscribeRefused(client, filter))) accepted.push(`${a.deviceId} subscribe ${filter}`);
        }
        // one write: another device's ack, telemetry, status or schedule, or a schedule of its own (the cloud's to write)
        const topic = [deviceTopic(victim, 'ack'), deviceTopic(victim, 'telemetry'), deviceTopic(victim, 'status'), deviceTopic(victim, 'schedule'), deviceTopic(a.deviceId, 'schedule')][i % 5]!;
        attempts++;
        if (!(await publishRefused(client, topic, JSON.stringify({ marker, from: a.deviceId })))) accepted.push(`${a.deviceId} publish ${topic}`);
      });
      // session takeover: connecting with another device's client id, or with a wrong password, is refused
      for (const [i, a] of accounts.slice(0, 50).entries()) {
        const victim = accounts[(i + 1) % N]!;
        for (const options of [{ clientId: victim.deviceId, username: a.deviceId, password: a.password }, { clientId: victim.deviceId, username: victim.deviceId, password: a.password }]) {
          attempts++;
          const connected = await connectMqtt(broker.url, { ...options, clean: true, reconnectPeriod: 0 }).then((r) => { void r.client.endAsync(true); return true; }, () => false);
          if (connected) accepted.push(`${a.deviceId} connect as ${options.clientId} with ${options.username}'s name`);
        }
      }
      await new Promise((r) => setTimeout(r, 500)); // anything let through would have arrived by now
      await spy.close();

      assert.equal(attempts, N * 6 + 100);
      assert.deepEqual(accepted, [], `${accepted.length} of ${attempts} attacks accepted`);
      const leaked = spy.seen.filter((m) => m.payload.includes(marker));
      assert.deepEqual(leaked, [], 'no attack message reached any topic');
      const controls = new Set(spy.seen.filter((m) => m.payload.includes(`"control":"${run}"`)).map((m) => m.topic));
      assert.equal(controls.size, N, 'the spy saw every device\'s own telemetry: it would have seen a leak');
    });
  });
}
