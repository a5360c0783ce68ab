import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../platform/log.ts';
import { runAgent, type RunningAgent } from './run-agent.ts';
import { DEFAULT_BATTERY, SimulatedBattery } from './battery.ts';
import { ackMessage, deviceTopic, TOPIC_ROOT, type AckMessage, type ScheduleMessage } from '../messages.ts';
import { startTestAedes, type TestAedes } from '../../../test/support/test-aedes.ts';

const logger = createLogger('silent');
const DEVICES = 40;
const ids = Array.from({ length: DEVICES }, (_, i) => `dev-restart-${String(i).padStart(3, '0')}`);

const scheduleFor = (deviceId: string, version: number, action: 'charge' | 'discharge'): ScheduleMessage => {
  const now = Date.now();
  return {
    schema: 'gridpulse.schedule/1', deviceId, version, issuedAt: new Date(now).toISOString(), fallback: 'hold-soc',
    intervals: [{ start: new Date(now - 1_000).toISOString(), end: new Date(now + 3_600_000).toISOString(), action, powerKw: version }],
  };
};

/** The cloud side on the embedded broker, in-process (no network race with the agents): publish retained QoS 1, hear acks. */
async function cloudOn(broker: TestAedes, acks: AckMessage[]): Promise<(m: ScheduleMessage, retain?: boolean) => Promise<void>> {
  await new Promise<void>((resolve) => broker.broker.subscribe(`${TOPIC_ROOT}/+/ack`, (packet, done) => { acks.push(ackMessage.parse(JSON.parse(packet.payload.toString()))); done(); }, resolve));
  return (m, retain = true) => new Promise<void>((resolve, reject) => broker.broker.publish(
    { cmd: 'publish', topic: deviceTopic(m.deviceId, 'schedule'), payload: Buffer.from(JSON.stringify(m)), qos: 1, retain, dup: false },
    (err) => (err ? reject(err) : resolve()),
  ));
}

const until = async (cond: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

test(`embedded broker killed mid-rollout: all ${DEVICES} devices converge to the latest version within 60 s of its return, none runs an older one`, async (t) => {
  let broker = await startTestAedes();
  const port = broker.port;
  const acks: AckMessage[] = [];
  let publish = await cloudOn(broker, acks);
  const applied = new Map<string, number[]>(ids.map((id) => [id, []]));
  const agents: RunningAgent[] = ids.map((deviceId) => {
    const battery = new SimulatedBattery(DEFAULT_BATTERY, Date.now, 50);
    const driver = { read: () => battery.read(), apply: async (c: Parameters<typeof battery.apply>[0]) => { applied.get(deviceId)!.push(c.version); await battery.apply(c); } };
    return runAgent({ deviceId, brokerUrl: broker.url, storePath: ':memory:', driver, logger, stepMs: 100, mqtt: { protocolVersion: 4, backoff: { baseMs: 100, maxMs: 2_000 } } });
  });
  t.after(async () => { await Promise.all(agents.map((a) => a.stop())); await broker.kill(); });

  assert.ok(await until(() => agents.every((a) => a.mqtt?.connected), 20_000), 'every agent connects');
  for (const id of ids) await publish(scheduleFor(id, 1, 'charge'));
  assert.ok(await until(() => agents.every((a) => a.store.ackedVersion() === 1), 20_000), 'version 1 reaches every device');

  // the rollout of version 2 reaches half the fleet, then the broker dies (in-memory sessions and retained messages with it)
  for (const id of ids.slice(0, DEVICES / 2)) await publish(scheduleFor(id, 2, 'discharge'));
  await broker.kill();
  await new Promise((r) => setTimeout(r, 1_500));
  broker = await startTestAedes(port);
  const back = Date.now();
  publish = await cloudOn(broker, acks);
  // what the re-publisher does on return: every device's latest desired version, retained; and a stale version 1
  // re-sent (not retained) to a quarter of the fleet that had already taken 2, which must not roll them back
  for (const id of ids) await publish(scheduleFor(id, 2, 'discharge'));
  for (const id of ids.slice(0, DEVICES / 4)) await publish(scheduleFor(id, 1, 'charge'), false);

  const converged = await until(() => agents.every((a) => a.store.schedule()?.version === 2 && a.store.ackedVersion() === 2 && a.store.queued() === 0)
    && ids.every((id) => acks.some((a) => a.deviceId === id && a.version === 2 && a.state === 'acknowledged')), 60_000);
  const tookS = (Date.now() - back) / 1000;
  const lagging = agents.filter((a) => a.store.schedule()?.version !== 2).map((a) => a.agent.deviceId);
  assert.ok(converged, `converged within 60 s of the broker's return (lagging: ${lagging.join(', ') || 'none'}, ${tookS.toFixed(1)} s)`);
  await new Promise((r) => setTimeout(r, 300));
  for (const [id, versions] of applied) {
    assert.ok(versions.every((v, i) => i === 0 || v >= versions[i - 1]!), `${id} never went back to an older version: ${[...new Set(versions)].join(' → ')}`);
    assert.equal(versions.at(-1), 2, `${id} runs version 2`);
  }
});
