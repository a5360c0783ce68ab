import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { sharedMosquitto } from '../../../test/support/mosquitto.ts';
import { DynsecAdmin, deviceRole } from './dynsec-admin.ts';
import { rotateOnRefusal } from './device-bus.ts';
import { connectMqtt } from './mqtt-connect.ts';
import { MqttFleetBus } from './mqtt-fleet-bus.ts';

const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const broker = sharedMosquitto();

describe('the shared gateway account on Mosquitto (dynamic security)', { skip: broker ? false : 'TEST_MQTT_URL not set (CI unset): run eval "$(.ci/mosquitto.sh)"' }, () => {
  it('setup() at another copy\'s start leaves running clients of the gateway account connected', async () => {
    const m = broker!;
    const account = { username: `gw-acct-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
    const first = await DynsecAdmin.connect(m.url, m.admin, quiet);
    try {
      await first.setup(m.admin, account);
      const { client } = await connectMqtt(m.url, { ...account, clientId: `${account.username}-running`, clean: true });
      let dropped = 0;
      client.on('close', () => dropped++);
      try {
        // a second copy starts: its own admin connection runs the same setup
        const second = await DynsecAdmin.connect(m.url, m.admin, quiet);
        try { assert.deepEqual(await second.setup(m.admin, account), account); } finally { await second.close(); }
        await sleep(1_000);
        assert.equal(dropped, 0, 'Mosquitto did not disconnect the running client');
        assert.ok(client.connected);
      } finally {
        await client.endAsync();
      }
    } finally {
      await first.run([{ command: 'deleteClient', username: account.username }]);
      await first.close();
    }
  });

  it('never provisions a device over another broker account: its password and roles stay (attack: a device named after an account)', async () => {
    const m = broker!;
    const other = { username: `acct-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
    const admin = await DynsecAdmin.connect(m.url, m.admin, quiet);
    try {
      await admin.setup(m.admin, other);
      const device = `dev-${randomBytes(3).toString('hex')}`;
      await assert.rejects(admin.provisionDevices([{ deviceId: device, password: 'device-pw-1' }, { deviceId: other.username, password: 'taken-over' }]),
        (err: Error & { status?: number; field?: string }) => err.status === 409 && err.field === 'id' && err.message.includes(other.username));
      // the account keeps its password (the device's is refused), and no device role was left on the broker for it
      const { client } = await connectMqtt(m.url, { ...other, clientId: `${other.username}-probe`, clean: true });
      await client.endAsync();
      await assert.rejects(connectMqtt(m.url, { username: other.username, password: 'taken-over', clientId: `${other.username}-x`, clean: true }), /not authori[sz]ed|bad user/i);
      const [role] = await admin.run([{ command: 'getRole', rolename: deviceRole(other.username) }]);
      assert.match(String(role!.error), /not found/i);
      // a device re-provisioned (its own account) still gets its new password
      await admin.provisionDevice(device, 'device-pw-2');
      const { client: d } = await connectMqtt(m.url, { username: device, password: 'device-pw-2', clientId: device, clean: true });
      await d.endAsync();
      await admin.revokeDevice(device);
    } finally {
      await admin.run([{ command: 'deleteClient', username: other.username }]);
      await admin.close();
    }
  });

  it('a refused gateway account gets its password set once (a credential rotation), logged, and connects', async () => {
    const m = broker!;
    const username = `gw-rot-${randomBytes(3).toString('hex')}`;
    const old = { username, password: 'before-rotation' };
    const next = { username, password: 'after-rotation' };
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, new Writable({ write(c: Buffer, _e, done) { lines.push(JSON.parse(c.toString()) as Record<string, unknown>); done(); } }));
    const admin = await DynsecAdmin.connect(m.url, m.admin, quiet);
    try {
      await admin.setup(m.admin, old);
      // the configuration now names another password: setup keeps the broker's, so the first connect is refused
      assert.deepEqual(await admin.setup(m.admin, next), next);
      await assert.rejects(connectMqtt(m.url, { ...next, clientId: `${username}-probe`, clean: true }), /not authori[sz]ed|bad user/i);
      const bus = await rotateOnRefusal(admin, next, logger)(() => MqttFleetBus.connect(m.url, next, quiet));
      await bus.close();
      assert.equal(lines.filter((l) => String(l.msg).includes('credential rotation')).length, 1, 'the rotation is in the log');
      assert.equal(lines[0]!.gateway, username);
      // without an admin, or for another refusal, nothing is rotated
      await assert.rejects(rotateOnRefusal(undefined, old, logger)(() => connectMqtt(m.url, { ...old, clientId: `${username}-x`, clean: true })), /not authori[sz]ed|bad user/i);
      assert.equal(lines.length, 1);
    } finally {
      await admin.run([{ command: 'deleteClient', username }]);
      await admin.close();
    }
  });
});
