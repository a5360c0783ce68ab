import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devicesCreate, devicesRotate, devicesSyncBroker } from './devices-command.ts';
import { openDb } from '../platform/db.ts';
import { verifyDeviceMqtt } from '../fleet/device-credentials.ts';
import type { BrokerAdmin } from '../fleet/contract.ts';

/** Runs fn with what it prints recorded. */
async function stdoutOf(fn: (io: { out(t: string): void; err(t: string): void }) => Promise<number>): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  return { code: await fn({ out: (t) => { out.push(t); }, err: () => {} }), out: out.join('') };
}

describe('gridpulse devices create', () => {
  let dir: string;
  const saved = { DATA_DIR: process.env.DATA_DIR, DATABASE_URL: process.env.DATABASE_URL };
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devices-cli-test-'));
    process.env.DATA_DIR = path.join(dir, 'data');
    delete process.env.DATABASE_URL; // the CLI on its embedded PGlite store
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints {id, mqttUsername, mqttPassword, apiKey} once with --json, gives the broker the same password, and stores only hashes', async () => {
    const provisioned: Array<[string, string]> = [];
    const admin: BrokerAdmin = { provisionDevice: async (id, pw) => { provisioned.push([id, pw]); }, revokeDevice: async () => {} };
    const { code, out } = await stdoutOf((io) => devicesCreate({ name: 'Garage', id: 'cli-bat-1', capacityKwh: '10', powerKw: '4', json: true }, async () => admin, io));
    assert.equal(code, 0);
    const c = JSON.parse(out) as Record<string, string>;
    assert.deepEqual(Object.keys(c).sort(), ['apiKey', 'id', 'mqttPassword', 'mqttUsername']);
    assert.equal(c.id, 'cli-bat-1');
    assert.equal(c.mqttUsername, 'cli-bat-1');
    assert.deepEqual(provisioned, [['cli-bat-1', c.mqttPassword]]);
    const db = await openDb({ dataDir: process.env.DATA_DIR! });
    try {
      assert.equal(await verifyDeviceMqtt(db, 'cli-bat-1', c.mqttPassword!), 'cli-bat-1');
      const [row] = await db.query<{ capacity_kwh: number; max_charge_kw: number; max_discharge_kw: number; mqtt_password_hash: string }>(
        'SELECT capacity_kwh, max_charge_kw, max_discharge_kw, mqtt_password_hash FROM devices WHERE id = $1', ['cli-bat-1']);
      assert.deepEqual([Number(row!.capacity_kwh), Number(row!.max_charge_kw), Number(row!.max_discharge_kw)], [10, 4, 4]);
      assert.equal(JSON.stringify(await db.query('SELECT * FROM devices')).includes(c.mqttPassword!), false);
      assert.equal(JSON.stringify(await db.query('SELECT * FROM api_keys')).includes(c.apiKey!.slice(16)), false);
    } finally { await db.close(); }
  });

  it('names the option at fault, and a broker that refuses leaves no device behind', async () => {
    await assert.rejects(devicesCreate({ name: 'x', capacityKwh: '-3' }), /^Error: --capacity-kwh: /);
    await assert.rejects(devicesCreate({ name: 'x', powerKw: 'lots' }), /^Error: --power-kw: a number/);
    await assert.rejects(devicesCreate({ name: 'x', id: 'cli-bat-1' }), /^Error: --id: /);
    const refusing: BrokerAdmin = { provisionDevice: async () => { throw new Error('dynsec: refused'); }, revokeDevice: async () => {} };
    await assert.rejects(devicesCreate({ name: 'x', id: 'cli-bat-2' }, async () => refusing), /dynsec: refused/);
    const db = await openDb({ dataDir: process.env.DATA_DIR! });
    try {
      assert.equal((await db.query('SELECT 1 FROM devices WHERE id = $1', ['cli-bat-2'])).length, 0);
    } finally { await db.close(); }
  });

  it('rotate prints the new credentials once (--json), gives the broker the new password, and the old ones stop working', async () => {
    const provisioned: Array<[string, string]> = [];
    const admin: BrokerAdmin = { provisionDevice: async (id, pw) => { provisioned.push([id, pw]); }, revokeDevice: async () => {} };
    const made = JSON.parse((await stdoutOf((io) => devicesCreate({ name: 'Shed', id: 'cli-rot-1', json: true }, undefined, io))).out) as Record<string, string>;
    const { code, out } = await stdoutOf((io) => devicesRotate('cli-rot-1', { json: true }, async () => admin, io));
    assert.equal(code, 0);
    const c = JSON.parse(out) as Record<string, string>;
    assert.deepEqual(Object.keys(c).sort(), ['apiKey', 'id', 'mqttPassword', 'mqttUsername']);
    assert.notEqual(c.mqttPassword, made.mqttPassword);
    assert.deepEqual(provisioned, [['cli-rot-1', c.mqttPassword]]);
    const only = JSON.parse((await stdoutOf((io) => devicesRotate('cli-rot-1', { json: true, mqttOnly: true }, async () => admin, io))).out) as Record<string, string>;
    assert.equal(only.apiKey, undefined, 'the key was not rotated: none printed');
    const db = await openDb({ dataDir: process.env.DATA_DIR! });
    try {
      assert.equal(await verifyDeviceMqtt(db, 'cli-rot-1', made.mqttPassword!), null);
      assert.equal(await verifyDeviceMqtt(db, 'cli-rot-1', c.mqttPassword!), null, 'rotated again since');
      assert.equal(await verifyDeviceMqtt(db, 'cli-rot-1', only.mqttPassword!), 'cli-rot-1');
      await db.query('UPDATE devices SET revoked_at = now() WHERE id = $1', ['cli-rot-1']);
    } finally { await db.close(); }
    await assert.rejects(devicesRotate('cli-rot-1', {}), /is revoked/);
    await assert.rejects(devicesRotate('cli-nobody', {}), /no device cli-nobody/);
    await assert.rejects(devicesRotate('cli-rot-1', { mqttOnly: true, apiKeyOnly: true }), /--mqtt-only and --api-key-only/);
  });

  it('rotate with a broker that refuses changes nothing; sync-broker without the dynsec admin says what to set', async () => {
    const made = JSON.parse((await stdoutOf((io) => devicesCreate({ name: 'Barn', id: 'cli-rot-2', json: true }, undefined, io))).out) as Record<string, string>;
    const refusing: BrokerAdmin = { provisionDevice: async () => { throw new Error('dynsec: refused'); }, revokeDevice: async () => {} };
    await assert.rejects(devicesRotate('cli-rot-2', {}, async () => refusing), /dynsec: refused/);
    const db = await openDb({ dataDir: process.env.DATA_DIR! });
    try {
      assert.equal(await verifyDeviceMqtt(db, 'cli-rot-2', made.mqttPassword!), 'cli-rot-2', 'the old password still works');
    } finally { await db.close(); }
    await assert.rejects(devicesSyncBroker({}, async () => undefined), /MQTT_URL, MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD/);
  });
});
