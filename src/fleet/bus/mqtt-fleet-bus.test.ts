import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { testBrokers, type TestBroker } from '../../../test/support/fleet-brokers.ts';
import { connectMqtt } from './mqtt-connect.ts';
import { MqttFleetBus } from './mqtt-fleet-bus.ts';
import { deviceTopic, scheduleMessage, type ScheduleMessage } from '../messages.ts';

const quiet = pino({ level: 'silent' });

for (const target of testBrokers()) {
  describe(`MqttFleetBus (${target.name})`, { skip: target.skip }, () => {
    let broker: TestBroker;
    before(async () => { broker = await target.start(); });
    after(async () => { await broker?.close(); });

    it('publishes a schedule retained with QoS 1: a device connecting afterwards gets exactly that version', async () => {
      const device = { deviceId: `bus-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
      await broker.provision([device]);
      const bus = await MqttFleetBus.connect(broker.url, broker.gateway, quiet);
      try {
        const msg: ScheduleMessage = { schema: 'gridpulse.schedule/1', deviceId: device.deviceId, version: 4, issuedAt: new Date().toISOString(), fallback: 'hold-soc',
          intervals: [{ start: '2026-12-01T10:00:00Z', end: '2026-12-01T11:00:00Z', action: 'charge', powerKw: 3 }] };
        await bus.publishSchedule(msg);
        await assert.rejects(bus.publishSchedule({ ...msg, version: 0 }), /version/, 'a malformed message is refused before it is sent');
        const { client } = await connectMqtt(broker.url, { clientId: device.deviceId, username: device.deviceId, password: device.password, reconnectPeriod: 0 });
        try {
          const got = new Promise<{ payload: string; retain: boolean; qos: number }>((resolve) => client.on('message', (_t, payload, packet) => resolve({ payload: payload.toString(), retain: packet.retain, qos: packet.qos })));
          await client.subscribeAsync(deviceTopic(device.deviceId, 'schedule'), { qos: 1 });
          const m = await got;
          assert.equal(m.retain, true);
          assert.equal(m.qos, 1);
          assert.deepEqual(scheduleMessage.parse(JSON.parse(m.payload)), msg);
        } finally {
          await client.endAsync();
        }
      } finally {
        await bus.close();
      }
    });
  });
}

describe('MqttFleetBus without its broker', () => {
  it('rejects at once, so the ledger keeps the version queued', async () => {
    const [aedes] = testBrokers();
    const broker = await aedes!.start();
    const bus = await MqttFleetBus.connect(broker.url, broker.gateway, quiet);
    await broker.close();
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await assert.rejects(bus.publishSchedule({ schema: 'gridpulse.schedule/1', deviceId: 'pi-0001', version: 1, issuedAt: new Date().toISOString(), fallback: 'idle', intervals: [] }), /unreachable/);
    assert.ok(Date.now() - t0 < 1_000);
    await bus.close();
  });
});
