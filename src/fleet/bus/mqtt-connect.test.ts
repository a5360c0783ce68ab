import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { testBrokers, type TestBroker } from '../../../test/support/fleet-brokers.ts';
import { connectMqtt, fallBackToMqtt311 } from './mqtt-connect.ts';

const SRC = path.resolve(import.meta.dirname, '../..');

function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return productFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('one connect helper', () => {
  it('no product code outside mqtt-connect.ts opens an mqtt.js connection itself', () => {
    const offenders = productFiles(SRC)
      .filter((f) => !f.endsWith(path.join('bus', 'mqtt-connect.ts')))
      .filter((f) => /\bmqtt\.connect(Async)?\s*\(/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map((f) => path.relative(SRC, f)), []);
  });

  it('falls back only on a refused protocol version, dropping the MQTT 5-only properties', () => {
    const refused = Object.assign(new Error('Connection refused: Unacceptable protocol version'), { code: 1 });
    const o = { protocolVersion: 5 as const, clientId: 'x', properties: { sessionExpiryInterval: 60 } };
    assert.equal(fallBackToMqtt311({ ...o }, new Error('Connection refused: Not authorized')), false);
    const switched = { ...o } as Record<string, unknown>;
    assert.equal(fallBackToMqtt311(switched, refused), true);
    assert.equal(switched.protocolVersion, 4);
    assert.equal('properties' in switched, false);
    assert.equal(fallBackToMqtt311(switched, refused), false, 'already on 3.1.1: nothing to fall back to');
  });
});

for (const target of testBrokers()) {
  describe(`protocol version on ${target.name}`, { skip: target.skip }, () => {
    let broker: TestBroker;
    const device = { deviceId: `pv-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
    before(async () => { broker = await target.start(); await broker.provision([device]); });
    after(async () => { await broker?.close(); });

    it(target.name === 'aedes' ? 'Aedes refuses MQTT 5; connectMqtt gets MQTT 3.1.1' : 'Mosquitto speaks MQTT 5; connectMqtt gets it', async () => {
      const opts = { clientId: device.deviceId, username: device.deviceId, password: device.password, reconnectPeriod: 0 };
      const raw = await mqtt.connectAsync(broker.url, { ...opts, protocolVersion: 5 }).then((c) => { c.end(true); return 'connected'; }, (err: Error) => err.message);
      const { client, protocolVersion } = await connectMqtt(broker.url, opts);
      client.end(true);
      if (target.name === 'aedes') {
        assert.match(raw, /unacceptable protocol version/i);
        assert.equal(protocolVersion, 4);
      } else {
        assert.equal(raw, 'connected');
        assert.equal(protocolVersion, 5);
      }
    });
  });
}
