import type { Logger } from 'pino';
import type { Config } from '../../platform/config.ts';
import type { Db } from '../../platform/db.ts';
import type { BrokerAdmin, FleetBus } from '../contract.ts';
import { forgetDeviceCredentials, verifyDeviceMqtt } from '../device-credentials.ts';
import { CREDENTIALS_CHANNEL, parseCredentialsChange } from '../fleet-events.ts';
import { applyAcks, applyStatus, applyTelemetryLatest, lockDevices } from '../ledger.ts';
import { startGateway, type Gateway } from '../gateway/gateway.ts';
import { DynsecAdmin } from './dynsec-admin.ts';
import { startEmbeddedBroker, type EmbeddedBroker, type MqttCredentials } from './embedded-broker.ts';
import { MqttFleetBus } from './mqtt-fleet-bus.ts';
import { isNotAuthorized } from './mqtt-connect.ts';
import { metricsOf } from '../../platform/metrics.ts';

/** What a process role gets from the device bus. */
export interface DeviceBus {
  /** publishes schedules (fleet-core's FleetBus) */
  bus: FleetBus;
  /** creates device accounts on a broker that keeps its own (Mosquitto dynamic security); absent for the embedded broker */
  brokerAdmin?: BrokerAdmin;
  /** the broker the devices reach: MQTT_URL, or the embedded broker's */
  url: string;
  gateway?: Gateway;
  broker?: EmbeddedBroker;
  /** Graceful, in order: the gateway (writes and confirms what it holds), the publisher, the admin client, the embedded broker. */
  close(): Promise<void>;
}

/** fleet-core's ledger, where the gateway hands what it stored. */
export const ledgerSink = { applyAcks, applyStatus, applyTelemetryLatest, lockDevices };

/**
 * The device bus of a process, from its configuration. With MQTT_URL: that broker; with MQTT_ADMIN_USERNAME
 * and MQTT_ADMIN_PASSWORD a DynsecAdmin (its roles set up once) provisions device accounts, and the gateway and
 * the publisher use MQTT_GATEWAY_USERNAME/PASSWORD, else an account derived from the admin's (DynsecAdmin.setup). Without MQTT_URL: the embedded
 * Aedes broker on HOST:MQTT_PORT, authenticating devices against the database (a taken port rejects with one
 * line naming MQTT_PORT). `gateway: true` also starts the gateway role (shared subscriptions, batched COPY).
 */
export async function startDeviceBus(config: Config, db: Db, logger: Logger, opts: { gateway: boolean }): Promise<DeviceBus> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => { for (const c of closers.reverse()) await c().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'device bus close')); };
  try {
    let url: string;
    let credentials: MqttCredentials | undefined;
    let brokerAdmin: DynsecAdmin | undefined;
    let broker: EmbeddedBroker | undefined;
    if (config.MQTT_URL) {
      url = config.MQTT_URL;
      const admin = config.MQTT_ADMIN_USERNAME && config.MQTT_ADMIN_PASSWORD ? { username: config.MQTT_ADMIN_USERNAME, password: config.MQTT_ADMIN_PASSWORD } : undefined;
      const gatewayAccount = config.MQTT_GATEWAY_USERNAME && config.MQTT_GATEWAY_PASSWORD ? { username: config.MQTT_GATEWAY_USERNAME, password: config.MQTT_GATEWAY_PASSWORD } : undefined;
      if (admin) {
        brokerAdmin = await DynsecAdmin.connect(url, admin, logger);
        closers.push(() => brokerAdmin!.close());
        credentials = await brokerAdmin.setup(admin, gatewayAccount);
      } else {
        logger.warn('MQTT_ADMIN_USERNAME/PASSWORD not set: device broker accounts are not created by GridPulse');
        credentials = gatewayAccount;
      }
    } else {
      broker = await startEmbeddedBroker({
        port: config.MQTT_PORT, host: config.HOST, logger, verify: (u, p) => verifyDeviceMqtt(db, u, p),
        // the process's registry once attached to the db (metrics.ts); documented in deploy/prometheus/fleet-metrics.txt
        countRefused: (reason) => metricsOf(db)?.counter('gridpulse_mqtt_packets_refused_total', 'embedded broker: connections dropped for a packet over the size limit, by reason', ['reason']).inc({ reason }),
      });
      closers.push(() => broker!.close());
      url = broker.url;
      credentials = broker.gateway;
    }
    const rotating = rotateOnRefusal(brokerAdmin, credentials, logger);
    const bus = await rotating(() => MqttFleetBus.connect(url, credentials, logger));
    closers.push(() => bus.close());
    const gateway = opts.gateway
      ? await rotating(() => startGateway({ db, url, credentials, clientId: config.MQTT_GATEWAY_ID, group: config.MQTT_GATEWAY_GROUP, sink: ledgerSink, logger }))
      : undefined;
    if (gateway) closers.push(() => gateway.stop());
    closers.push(await followCredentialChanges(db, logger, { bus, broker }));
    return { bus, url, close, ...(brokerAdmin ? { brokerAdmin } : {}), ...(gateway ? { gateway } : {}), ...(broker ? { broker } : {}) };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Acts on device revocations and password rotations as they commit, in whichever process made them
 * (CREDENTIALS_CHANNEL): drops this process's cached credential state of those devices (so a reconnect with the old
 * password is refused at once, not CREDENTIAL_TTL_MS later), has the embedded broker end their live sessions (Mosquitto's
 * dynamic security ends them itself when the account is deleted or its password set), and clears a revoked device's
 * retained schedule on the broker. Returns its stop.
 */
export async function followCredentialChanges(db: Db, logger: Logger, o: { bus: Pick<MqttFleetBus, 'clearSchedule'>; broker?: EmbeddedBroker | undefined }): Promise<() => Promise<void>> {
  const log = logger.child({ component: 'device-credentials' });
  return db.listen(CREDENTIALS_CHANNEL, (payload) => {
    const change = parseCredentialsChange(payload);
    if (!change) return;
    forgetDeviceCredentials(change.ids);
    const disconnected = o.broker?.disconnectDevices(change.ids) ?? 0;
    log.info({ deviceIds: change.ids.slice(0, 20), devices: change.ids.length, revoked: change.revoked, disconnected }, change.revoked ? 'devices revoked: sessions ended' : 'device credentials rotated: sessions ended');
    if (change.revoked) {
      for (const id of change.ids) {
        o.bus.clearSchedule(id).catch((err: unknown) => log.warn({ deviceId: id, err: (err as Error).message }, 'retained schedule of a revoked device not cleared'));
      }
    }
  });
}

/**
 * Connects with the gateway account, and when the broker refuses it as not authorized (its password there differs:
 * MQTT_GATEWAY_PASSWORD or the admin password changed), sets the password through dynamic security once, says so in
 * the log, and connects again. A credential rotation only: setup() never resets an existing account's password,
 * because Mosquitto then disconnects every running copy using it. Without an admin there is nothing to rotate.
 */
export function rotateOnRefusal(admin: Pick<DynsecAdmin, 'setGatewayPassword'> | undefined, account: MqttCredentials | undefined, logger: Logger) {
  let rotated = false;
  return async <T>(connect: () => Promise<T>): Promise<T> => {
    try {
      return await connect();
    } catch (err) {
      if (!admin || !account || rotated || !isNotAuthorized(err)) throw err;
      logger.warn({ gateway: account.username, err: (err as Error).message }, 'the broker refused the gateway account: setting its password (credential rotation; Mosquitto disconnects its other clients, which reconnect only with the new password)');
      await admin.setGatewayPassword(account);
      rotated = true;
      return connect();
    }
  };
}
