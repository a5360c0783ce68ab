import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createLogger } from '../../platform/log.ts';
import { Agent } from './agent.ts';
import { AgentStore } from './agent-store.ts';
import { DEFAULT_BATTERY, SimulatedBattery } from './battery.ts';
import { MqttLink } from './mqtt-link.ts';
import type { Command } from './command.ts';
import { ackMessage, MAX_PACKET_BYTES, telemetryMessage, TOPIC_ROOT, type ScheduleMessage } from '../messages.ts';
import { startEmbeddedBroker } from '../bus/embedded-broker.ts';
import { connectMqtt } from '../bus/mqtt-connect.ts';
import { startTestAedes } from '../../../test/support/test-aedes.ts';

const logger = createLogger('silent');
const H = 3_600_000;
const T0 = Date.parse('2026-12-01T06:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const deviceId = 'dev-offline-1';

const schedule = (version: number, intervals: ScheduleMessage['intervals']): ScheduleMessage =>
  ({ schema: 'gridpulse.schedule/1', deviceId, version, issuedAt: iso(T0 - 60_000), intervals, fallback: 'self-consumption' });

test('a device offline for 24 h runs its cached schedule then its fallback with no gap, survives a restart, and replays every ack in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gp-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.sqlite');
  let now = T0;
  const clock = () => now;
  const battery = new SimulatedBattery(DEFAULT_BATTERY, clock, 50);
  const make = (store: AgentStore) => new Agent({ deviceId, store, driver: battery, clock, logger, fallback: 'hold-soc', limits: { maxChargeKw: 5, maxDischargeKw: 5 } });

  let store = new AgentStore(path);
  let agent = make(store);
  // the last message before the link went down: version 7, six hours of intervals with a gap at 2–3 h
  const v7 = schedule(7, [
    { start: iso(T0), end: iso(T0 + 2 * H), action: 'charge', powerKw: 3 },
    { start: iso(T0 + 3 * H), end: iso(T0 + 5 * H), action: 'discharge', powerKw: 4, targetSoc: 30 },
    { start: iso(T0 + 5 * H), end: iso(T0 + 6 * H), action: 'hold-soc', targetSoc: 40 },
  ]);
  assert.equal(agent.receive(v7), 'accepted');
  assert.equal(agent.receive(v7), 'duplicate');

  const commands: Command[] = [];
  for (let minute = 0; minute < 24 * 60; minute++) {
    now = T0 + minute * 60_000;
    if (minute === 12 * 60) {
      // the Raspberry Pi reboots mid-outage: the cached schedule and the queue come back from SQLite
      store.close();
      store = new AgentStore(path);
      agent = make(store);
      // an old version arriving late (e.g. a stale HTTP cache) is never run
      assert.equal(agent.receive(schedule(5, [{ start: iso(now), end: iso(now + H), action: 'discharge', powerKw: 5 }])), 'stale');
    }
    commands.push(await agent.step());
    const soc = (await battery.read()).socPct;
    assert.ok(soc >= DEFAULT_BATTERY.minSoc && soc <= DEFAULT_BATTERY.maxSoc);
  }

  assert.equal(commands.length, 24 * 60, 'one command for every minute');
  for (const [minute, c] of commands.entries()) {
    const at = T0 + minute * 60_000;
    const interval = v7.intervals.find((i) => Date.parse(i.start) <= at && at < Date.parse(i.end));
    assert.equal(c.version, 7, `minute ${minute}: only version 7 ever runs`);
    if (interval) assert.deepEqual([c.source, c.mode], ['schedule', interval.action], `minute ${minute}`);
    else assert.deepEqual([c.source, c.mode], ['fallback', 'self-consumption'], `minute ${minute}`);
  }
  assert.ok(commands.slice(2 * 60, 3 * 60).every((c) => c.source === 'fallback'), 'the gap inside the schedule runs the fallback');

  const queued = store.pending(10_000);
  assert.equal(queued.length, 3 + 24 * 60, 'three acks and a reading a minute are queued');
  assert.deepEqual(queued.filter((i) => i.kind === 'ack').map((i) => i.message.version === 7 && (i.message as { state: string }).state), ['acknowledged', 'executing', 'succeeded']);

  // back online: everything queued reaches the broker, in seq order, once
  const broker = await startTestAedes();
  t.after(() => broker.kill());
  const cloud = await mqtt.connectAsync(broker.url, { clientId: 'test-cloud', protocolVersion: 4 });
  t.after(() => cloud.endAsync(true));
  const seen: { seq: number; kind: string; state?: string }[] = [];
  cloud.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/ack')) seen.push({ seq: ackMessage.parse(body).seq, kind: 'ack', state: body.state });
    if (topic.endsWith('/telemetry')) seen.push({ seq: telemetryMessage.parse(body).seq, kind: 'telemetry' });
  });
  await cloud.subscribeAsync(`${TOPIC_ROOT}/${deviceId}/+`, { qos: 1 });
  const link = new MqttLink(agent, store, { url: broker.url, protocolVersion: 4, backoff: { baseMs: 50, maxMs: 200 } }, logger);
  link.start();
  t.after(() => link.stop());
  const deadline = Date.now() + 30_000;
  while ((store.queued() > 0 || seen.length < queued.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(store.queued(), 0, 'the outbox is empty once the broker has every message');
  assert.deepEqual(seen.map((s) => s.seq), queued.map((q) => q.seq), 'replayed in seq order, none missing, none twice');
  assert.deepEqual(seen.filter((s) => s.kind === 'ack').map((s) => s.state), ['acknowledged', 'executing', 'succeeded']);
  assert.ok(seen.every((s, i) => i === 0 || s.seq > seen[i - 1]!.seq));
  store.close();
});

test('a schedule over the device\'s power rating is refused with the interval named, and never run', async () => {
  let now = T0;
  const store = new AgentStore(':memory:');
  const agent = new Agent({ deviceId, store, driver: new SimulatedBattery(DEFAULT_BATTERY, () => now, 50), clock: () => now, logger, limits: { maxChargeKw: 5, maxDischargeKw: 5 } });
  const over = schedule(3, [{ start: iso(T0), end: iso(T0 + H), action: 'idle' }, { start: iso(T0 + H), end: iso(T0 + 2 * H), action: 'charge', powerKw: 7 }]);
  assert.equal(agent.receive(over), 'rejected');
  const [ack] = store.pending();
  assert.equal(ack?.kind, 'ack');
  assert.equal((ack?.message as { state: string }).state, 'rejected');
  assert.equal((ack?.message as { intervalIndex: number }).intervalIndex, 1);
  assert.match((ack?.message as { reason: string }).reason, /intervals\/1\/powerKw/);
  now += 90 * 60_000;
  assert.equal((await agent.step()).version, 0, 'the refused version is not run');
  assert.equal(agent.receive(schedule(2, [])), 'stale', 'nor is anything older than it');
  assert.equal(agent.receive({ schema: 'gridpulse.schedule/1', deviceId, version: 'x' }), 'invalid');
  assert.equal(agent.receive(schedule(4, [{ start: iso(now), end: iso(now + H), action: 'charge', powerKw: 2 }])), 'accepted');
  assert.equal((await agent.step()).version, 4);
  assert.equal(agent.receive(schedule(5, [{ start: iso(now), end: iso(now + H), action: 'discharge', powerKw: 9 }])), 'rejected');
  const c = await agent.step();
  assert.deepEqual([c.source, c.version], ['fallback', 0], 'refusing version 5 drops version 4 too: the fallback runs, nothing older than 5');
  assert.equal(agent.receive(schedule(4, [])), 'stale');
  store.close();
});

test('an outbox message too large for the gateway is dropped unsent with an error log: the agent keeps its connection and sends the rest in order', async (t) => {
  let refusedPackets = 0;
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', logger, verify: async (u) => u, countRefused: () => { refusedPackets++; } });
  t.after(() => broker.close());
  const { client: cloud } = await connectMqtt(broker.url, { ...broker.gateway, clientId: 'gridpulse-test-cloud', clean: true });
  t.after(() => cloud.endAsync(true));
  const seen: number[] = [];
  cloud.on('message', (_topic, payload) => { seen.push(telemetryMessage.parse(JSON.parse(payload.toString())).seq); });
  await cloud.subscribeAsync(`${TOPIC_ROOT}/${deviceId}/telemetry`, { qos: 1 });
  const store = new AgentStore(':memory:');
  t.after(() => store.close());
  const agent = new Agent({ deviceId, store, driver: new SimulatedBattery(DEFAULT_BATTERY, () => T0, 50), clock: () => T0, logger, limits: { maxChargeKw: 5, maxDischargeKw: 5 } });
  const reading = { schema: 'gridpulse.telemetry/1' as const, deviceId, at: iso(Date.now()), socPct: 50, powerKw: 0, scheduleVersion: 0, mode: 'idle' };
  const first = store.queueTelemetry(reading);
  // e.g. a driver's mode string gone wrong: over the broker's packet limit, which drops the connection of its sender
  store.queueTelemetry({ ...reading, mode: 'x'.repeat(MAX_PACKET_BYTES + 1) });
  const last = store.queueTelemetry(reading);
  const link = new MqttLink(agent, store, { url: broker.url, password: 'any', protocolVersion: 4, backoff: { baseMs: 50, maxMs: 200 } }, logger);
  link.start();
  t.after(() => link.stop());
  const deadline = Date.now() + 10_000;
  while ((store.queued() > 0 || seen.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(store.queued(), 0, 'the outbox is empty');
  assert.deepEqual(seen, [first.seq, last.seq]);
  assert.equal(link.dropped, 1);
  assert.equal(refusedPackets, 0, 'the broker never had to drop the agent\'s connection');
});
