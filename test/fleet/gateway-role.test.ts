import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GridpulseProcess, gridpulseEnv } from '../support/gridpulse-process.ts';
import { processTargets, withDb } from '../support/process-targets.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { createDevice, deviceInput } from '../../src/fleet/device-repository.ts';
import { connectMqtt } from '../../src/fleet/bus/mqtt-connect.ts';
import { deviceTopic } from '../../src/fleet/messages.ts';
import { freePort } from '../support/free-port.ts';

const dirs: string[] = [];
const tempDir = () => { const d = mkdtempSync(path.join(os.tmpdir(), 'gp-gateway-')); dirs.push(d); return d; };
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

for (const t of processTargets('gwrole')) {
  describe(`gridpulse gateway (${t.name}, embedded broker)`, () => {
    it('takes a device\'s ack into the database, refuses a stranger, names a taken MQTT_PORT in one line, and stops gracefully', { timeout: 180_000 }, async () => {
      const dir = tempDir();
      const target = await t.make(dir);
      try {
        // a device provisioned before the gateway starts (an embedded store belongs to one process at a time)
        const creds = await withDb(target, async (db) => {
          await migrate(db);
          return (await db.transaction((tx) => createDevice(tx, deviceInput.parse({ name: 'role test', capacityKwh: 10, maxChargeKw: 5, maxDischargeKw: 5 })))).credentials;
        });
        const port = await freePort();
        const env = gridpulseEnv({ ...target.env, DATA_DIR: dir, MQTT_PORT: String(port), LOG_LEVEL: 'info', MQTT_GATEWAY_ID: 'role-test' });
        const gw = new GridpulseProcess(['gateway'], env, dir);
        try {
          await gw.waitFor('gateway running', (l) => l.msg === 'gateway running');
          const url = `mqtt://127.0.0.1:${port}`;
          await assert.rejects(connectMqtt(url, { clientId: creds.id, username: creds.id, password: 'wrong', reconnectPeriod: 0 }), 'a wrong password is refused');
          const { client } = await connectMqtt(url, { clientId: creds.id, username: creds.id, password: creds.mqttPassword, reconnectPeriod: 0 });
          await client.publishAsync(deviceTopic(creds.id, 'ack'), JSON.stringify({ schema: 'gridpulse.ack/1', deviceId: creds.id, version: 1, state: 'acknowledged', at: new Date().toISOString(), seq: 7 }), { qos: 1 });
          await client.endAsync();

          // a second copy on the same MQTT_PORT: one line naming it, exit 1
          const other = new GridpulseProcess(['gateway'], gridpulseEnv({ DATA_DIR: tempDir(), MQTT_PORT: String(port), LOG_LEVEL: 'error' }), dir);
          const { code } = await other.exited;
          assert.equal(code, 1);
          assert.match(other.stderr, new RegExp(`^gridpulse: MQTT_PORT ${port} on 127\\.0\\.0\\.1 is taken: [^\\n]+\\n$`));

          gw.kill('SIGTERM');
          const exit = await gw.exited;
          assert.equal(exit.code, 0, gw.stderr);
          assert.ok(gw.lines.some((l) => l.msg === 'gateway stopped'), 'the gateway wrote what it held before it stopped');
        } finally {
          if (gw.child.exitCode === null) gw.kill('SIGKILL');
        }
        // the ack was stored by the gateway process (read after it released the store)
        const rows = await withDb(target, (db) => db.query<{ seq: number }>('SELECT seq::int AS seq FROM device_acks WHERE device_id = $1', [creds.id]));
        assert.deepEqual(rows.map((r) => r.seq), [7]);
      } finally {
        await target.drop();
      }
    });
  });
}
