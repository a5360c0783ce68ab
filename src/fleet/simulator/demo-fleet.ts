import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { BrokerAdmin } from '../contract.ts';
import { createDevice, deviceInput, getDevice } from '../device-repository.ts';
import { forgetDeviceCredentials, hashMqttPassword, newMqttPassword } from '../device-credentials.ts';
import { startSimulator, type Simulator } from './simulator.ts';

export interface DemoFleetOptions {
  db: Db;
  /** The broker the demo agents connect to (the embedded one in `npm start`). */
  brokerUrl: string;
  /** Creates the demo devices' broker accounts where the broker keeps its own (Mosquitto dynsec). */
  brokerAdmin?: BrokerAdmin;
  /** Where the demo devices' MQTT passwords are kept between starts (DATA_DIR). */
  dataDir: string;
  devices?: number;
  logger: Logger;
}

/** Demo device ids: `sim-demo-01…`, named "Simulated battery NN (SIMULATED)" so no page mistakes them for hardware. */
export const demoDeviceId = (i: number) => `sim-demo-${String(i + 1).padStart(2, '0')}`;

/**
 * The small simulated fleet `npm start` shows (default 20 devices), labelled simulated everywhere: provisioned
 * through fleet-core's createDevice (capacities 10–15 kWh, 5 kW) on first start, their MQTT passwords kept in
 * DATA_DIR/demo-fleet.json (simulated devices only) so later starts reuse them (a lost file gives them new ones),
 * then run by the simulator on real connections to the broker, a few dropping offline now and then so the
 * offline alert has something to show.
 */
export async function startDemoFleet(o: DemoFleetOptions): Promise<Simulator> {
  const n = o.devices ?? 20;
  const file = join(o.dataDir, 'demo-fleet.json');
  const known = new Map<string, string>(existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Array<{ id: string; mqttPassword: string }>).map((d) => [d.id, d.mqttPassword]) : []);
  const devices: Array<{ deviceId: string; mqttPassword: string }> = [];
  for (let i = 0; i < n; i++) {
    const id = demoDeviceId(i);
    let password = known.get(id);
    const existing = await getDevice(o.db, id);
    if (!existing) {
      const input = deviceInput.parse({ id, name: `Simulated battery ${String(i + 1).padStart(2, '0')} (SIMULATED)`, capacityKwh: 10 + (i % 6), fallback: i % 3 === 0 ? 'self-consumption' : 'hold-soc' });
      password = (await o.db.transaction((tx) => createDevice(tx, input, o.brokerAdmin))).credentials.mqttPassword;
    } else if (!password) {
      password = newMqttPassword();
      await o.db.query('UPDATE devices SET mqtt_password_hash = $2 WHERE id = $1', [id, hashMqttPassword(password)]);
      forgetDeviceCredentials([id]);
      await o.brokerAdmin?.provisionDevice(id, password);
    }
    devices.push({ deviceId: id, mqttPassword: password });
  }
  mkdirSync(o.dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(devices.map((d) => ({ id: d.deviceId, mqttPassword: d.mqttPassword })), null, 1), { mode: 0o600 });
  const log = o.logger.child({ component: 'demo-fleet' });
  const sim = await startSimulator({
    devices, brokerUrl: o.brokerUrl, logger: log, agentLogger: log.child({}, { level: 'warn' }), offlineRate: 0.05, churnMs: 300_000, stepMs: 5_000, connectRate: 20,
  });
  log.warn({ devices: n, ids: `${demoDeviceId(0)}…${demoDeviceId(n - 1)}` }, 'demo fleet: SIMULATED battery agents (not hardware)');
  return sim;
}
