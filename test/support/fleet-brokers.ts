import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { connectMqtt } from '../../src/fleet/bus/mqtt-connect.ts';
import { DynsecAdmin } from '../../src/fleet/bus/dynsec-admin.ts';
import { startEmbeddedBroker, type MqttCredentials } from '../../src/fleet/bus/embedded-broker.ts';
import { dynsecPlugin, sharedMosquitto, startPrivateMosquitto, type PrivateMosquitto } from './mosquitto.ts';

/**
 * The brokers every fleet bus test runs against: the embedded Aedes (devices checked by an in-memory table
 * here, by the database in the product) and Mosquitto with the dynamic-security plugin (the CI broker of
 * .ci/mosquitto.sh, or a private one for tests that kill it). `skip` is set only when Mosquitto is absent
 * and CI is unset; under CI=true its absence is an error.
 */
export interface TestBroker {
  name: 'aedes' | 'mosquitto';
  url: string;
  /** an account holding the gateway role */
  gateway: MqttCredentials;
  provision(devices: Array<{ deviceId: string; password: string }>): Promise<void>;
  /** Records every message the broker accepted on gridpulse/# (Aedes: its publish event; Mosquitto: the admin account, which may read everything). */
  spy(): Promise<{ seen: Array<{ topic: string; payload: string }>; close(): Promise<void> }>;
  /** private Mosquitto only */
  kill?(): Promise<void>;
  restart?(): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerTarget { name: 'aedes' | 'mosquitto'; skip: string | false; start(): Promise<TestBroker> }

const quiet = pino({ level: 'silent' });

export function testBrokers(opts: { privateMosquitto?: boolean } = {}): BrokerTarget[] {
  const aedes: BrokerTarget = {
    name: 'aedes', skip: false,
    start: async () => {
      const accounts = new Map<string, string>();
      const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', logger: quiet, verify: async (u, p) => (accounts.get(u) === p ? u : null) });
      return {
        name: 'aedes', url: broker.url, gateway: broker.gateway,
        provision: async (devices) => { for (const d of devices) accounts.set(d.deviceId, d.password); },
        spy: async () => {
          const seen: Array<{ topic: string; payload: string }> = [];
          const off = broker.onAccepted((topic, payload) => { if (topic.startsWith('gridpulse/')) seen.push({ topic, payload: payload.toString() }); });
          return { seen, close: async () => off() };
        },
        close: () => broker.close(),
      };
    },
  };
  const shared = opts.privateMosquitto ? undefined : sharedMosquitto();
  const available = opts.privateMosquitto ? dynsecPlugin() !== undefined : shared !== undefined;
  const mosquitto: BrokerTarget = {
    name: 'mosquitto',
    skip: available ? false : opts.privateMosquitto ? 'Mosquitto is not installed (CI unset)' : 'TEST_MQTT_URL not set (CI unset): run eval "$(.ci/mosquitto.sh)"',
    start: async () => {
      const own: PrivateMosquitto | undefined = opts.privateMosquitto ? await startPrivateMosquitto() : undefined;
      const target = own ?? shared!;
      let admin: DynsecAdmin | undefined;
      let gateway: MqttCredentials;
      try {
        admin = await DynsecAdmin.connect(target.url, target.admin, quiet);
        gateway = await admin.setup(target.admin);
      } catch (err) {
        await admin?.close().catch(() => {});
        await own?.stop();
        throw err;
      }
      const dynsec = admin;
      const made: string[] = [];
      return {
        name: 'mosquitto', url: target.url, gateway,
        provision: async (devices) => { await dynsec.provisionDevices(devices); made.push(...devices.map((d) => d.deviceId)); },
        spy: async () => {
          const seen: Array<{ topic: string; payload: string }> = [];
          const { client } = await connectMqtt(target.url, { ...target.admin, clientId: `spy-${randomBytes(4).toString('hex')}`, clean: true });
          client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
          await client.subscribeAsync('gridpulse/#', { qos: 1 });
          return { seen, close: () => client.endAsync() };
        },
        ...(own ? { kill: () => own.kill(), restart: () => own.restart() } : {}),
        close: async () => {
          if (!own) await dynsec.revokeDevices(made).catch(() => {});
          await dynsec.close();
          await own?.stop();
        },
      };
    },
  };
  return [aedes, mosquitto];
}
