import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { testBrokers, type TestBroker } from '../../../test/support/fleet-brokers.ts';
import { connectMqtt } from './mqtt-connect.ts';
import { PacketSizeScanner } from './packet-size-guard.ts';
import { deviceTopic, MAX_PACKET_BYTES, PG_INT_MAX, scheduleMessage, type ScheduleMessage } from '../messages.ts';

/** A packet as the MQTT spec frames it: control byte, Remaining Length (7 bits a byte, high bit = more), body. */
function frame(bodyLength: number, headerOnly = false): Buffer {
  const length: number[] = [];
  let x = bodyLength;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    length.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...length]), Buffer.alloc(headerOnly ? 0 : bodyLength, 7)]);
}

/** The largest valid schedule: 2,880 intervals with the longest values the schema takes in practice. */
function largestSchedule(deviceId: string): ScheduleMessage {
  const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 900_000).toISOString().replace('Z', '999+05:30');
  return {
    schema: 'gridpulse.schedule/1', deviceId, version: PG_INT_MAX, issuedAt: at(0), fallback: 'self-consumption',
    rolloutId: '00000000-0000-4000-8000-000000000000',
    intervals: Array.from({ length: 2_880 }, (_, i) => ({ start: at(i), end: at(i + 1), action: 'discharge' as const, powerKw: 999.9999999999999, targetSoc: 99.99999999999999 })),
  };
}

describe('MQTT packet size scanner', () => {
  it('flags exactly the first packet over the limit, however the bytes are split (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5_000 }),
      fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 20 }),
      (max, sizes, cuts) => {
        const stream = Buffer.concat(sizes.map((s) => frame(s)));
        const scanner = new PacketSizeScanner(max);
        let flagged: number | null = null;
        for (let at = 0, k = 0; at < stream.length && flagged === null; k++) {
          const next = Math.min(stream.length, at + cuts[k % cuts.length]!);
          flagged = scanner.feed(stream.subarray(at, next));
          at = next;
        }
        const firstOver = sizes.find((s) => s > max);
        if (firstOver === undefined) assert.equal(flagged, null);
        // the declared length may be caught while partly read: it is over the limit and at most the packet's
        else assert.ok(flagged !== null && flagged > max && flagged <= firstOver, `flagged ${flagged}, first over ${firstOver}`);
      },
    ), { numRuns: 300 });
  });

  it('flags a 200 MB packet from its first 5 bytes, and a malformed length', () => {
    assert.equal(new PacketSizeScanner(MAX_PACKET_BYTES).feed(frame(200_000_000, true)), 200_000_000);
    assert.equal(new PacketSizeScanner(MAX_PACKET_BYTES * 1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), -1);
  });

  it('the largest valid schedule is valid and well under the limit', () => {
    const s = largestSchedule('dev-largest');
    assert.ok(scheduleMessage.safeParse(s).success);
    const bytes = Buffer.byteLength(JSON.stringify(s));
    assert.ok(bytes + 1_000 < MAX_PACKET_BYTES, `${bytes} bytes`);
  });
});

for (const target of testBrokers()) {
  describe(`broker packet size limit (${target.name})`, { skip: target.skip }, () => {
    let broker: TestBroker;
    const clients: MqttClient[] = [];
    const run = randomBytes(3).toString('hex');
    const big = { deviceId: `big-${run}`, password: randomBytes(12).toString('base64url') };
    const good = { deviceId: `good-${run}`, password: randomBytes(12).toString('base64url') };
    const connect = async (a: typeof big) => {
      const { client } = await connectMqtt(broker.url, { clientId: a.deviceId, username: a.deviceId, password: a.password, clean: true, reconnectPeriod: 0 });
      clients.push(client);
      return client;
    };
    before(async () => {
      broker = await target.start();
      await broker.provision([big, good]);
    });
    after(async () => {
      for (const c of clients) c.end(true);
      await broker?.close();
    });

    it('drops a device sending a packet over the limit, and still carries the largest valid schedule and other devices', async () => {
      const spy = await broker.spy();
      try {
        const bad = await connect(big);
        const closed = new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 10_000);
          bad.once('close', () => { clearTimeout(t); resolve(true); });
        });
        bad.publish(deviceTopic(big.deviceId, 'telemetry'), Buffer.alloc(MAX_PACKET_BYTES + 1, 0x20), { qos: 1 });
        assert.ok(await closed, 'the broker dropped the connection of the oversized packet');
        const device = await connect(good);
        const received = new Promise<string>((resolve) => device.once('message', (_t, payload) => resolve(payload.toString())));
        await device.subscribeAsync(deviceTopic(good.deviceId, 'schedule'), { qos: 1 });
        const { client: gateway } = await connectMqtt(broker.url, { ...broker.gateway, clientId: `gw-size-${run}`, clean: true, reconnectPeriod: 0 });
        clients.push(gateway);
        const schedule = JSON.stringify(largestSchedule(good.deviceId));
        await gateway.publishAsync(deviceTopic(good.deviceId, 'schedule'), schedule, { qos: 1 });
        assert.equal(await received, schedule);
        await device.publishAsync(deviceTopic(good.deviceId, 'telemetry'), 'small', { qos: 1 });
        const deadline = Date.now() + 10_000;
        while (!spy.seen.some((m) => m.topic === deviceTopic(good.deviceId, 'telemetry')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.ok(spy.seen.some((m) => m.topic === deviceTopic(good.deviceId, 'telemetry')), 'the broker still carries other devices');
        assert.ok(!spy.seen.some((m) => m.topic === deviceTopic(big.deviceId, 'telemetry')), 'the oversized message was never accepted');
      } finally {
        await spy.close();
      }
    });
  });
}
