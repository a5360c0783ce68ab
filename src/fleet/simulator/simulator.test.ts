import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { createLogger } from '../../platform/log.ts';
import { startSimulator } from './simulator.ts';
import { startTestAedes } from '../../../test/support/test-aedes.ts';
import { deviceTopic, statusMessage, TOPIC_ROOT, type ScheduleMessage } from '../messages.ts';

const logger = createLogger('silent');

test('the simulator runs 200 agents on real connections: each takes its own schedule, acks it, and dropped devices leave their Last Will', async (t) => {
  const broker = await startTestAedes();
  t.after(() => broker.kill());
  const devices = Array.from({ length: 200 }, (_, i) => ({ deviceId: `sim-test-${String(i).padStart(4, '0')}` }));
  const sim = await startSimulator({ devices, brokerUrl: broker.url, logger, stepMs: 500, connectRate: 100, mqtt: { backoff: { baseMs: 100, maxMs: 1_000 } } });
  t.after(() => sim.stop());
  assert.equal(await sim.ready(30_000), 200);
  assert.ok(sim.stats().memoryPerDeviceKb > 0);

  const cloud = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'sim-cloud' });
  t.after(() => cloud.endAsync(true));
  const acked = new Set<string>();
  const offline = new Set<string>();
  cloud.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/ack') && body.version === 9 && body.state === 'acknowledged') acked.add(body.deviceId);
    if (topic.endsWith('/status') && statusMessage.parse(body).online === false) offline.add(body.deviceId);
  });
  await cloud.subscribeAsync([`${TOPIC_ROOT}/+/ack`, `${TOPIC_ROOT}/+/status`], { qos: 1 });
  const now = Date.now();
  for (const { deviceId } of devices) {
    const m: ScheduleMessage = { schema: 'gridpulse.schedule/1', deviceId, version: 9, issuedAt: new Date(now).toISOString(), fallback: 'hold-soc', intervals: [{ start: new Date(now).toISOString(), end: new Date(now + 3_600_000).toISOString(), action: 'charge', powerKw: 2 }] };
    await cloud.publishAsync(deviceTopic(deviceId, 'schedule'), JSON.stringify(m), { qos: 1, retain: true });
  }
  const deadline = Date.now() + 30_000;
  while (acked.size < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(acked.size, 200, 'every device acknowledged its own version');
  assert.deepEqual(sim.stats().versions, { 9: 200 });

  sim.agents.slice(0, 10).forEach((a) => a.mqtt!.dropFor(60_000));
  while (offline.size < 10 && Date.now() < deadline + 20_000) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([...offline].sort(), devices.slice(0, 10).map((d) => d.deviceId), 'the broker published the Last Will of exactly the dropped devices');
  assert.equal(sim.stats().connected, 190);
});
