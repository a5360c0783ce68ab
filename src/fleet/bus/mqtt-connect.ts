import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * The one way GridPulse's MQTT clients connect (the gateway, the fleet bus publisher, the Mosquitto admin, the agent
 * and through it the simulator): MQTT 5 first, MQTT 3.1.1 when the broker refuses version 5.
 *
 * Why a fallback: the embedded broker is Aedes 1.x, which speaks MQTT 3.1.1 only (its CONNECT handler refuses protocol
 * levels above 4 with "unacceptable protocol version"; no Aedes release has MQTT 5). What each side needs:
 * - both versions (the whole data path): retained schedules, QoS 1, persistent sessions (3.1.1: clean session off; the
 *   embedded broker keeps them in memory), the Last Will on the status topic, per-device topics and ACLs;
 * - MQTT 5 only: shared subscriptions (`$share/<group>/…`, N gateway copies sharing the load), session expiry
 *   (`sessionExpiryInterval`), receive maximum, retain handling (`rh: 1`). On 3.1.1 these are dropped: the gateway
 *   subscribes plainly (so run ONE gateway on the embedded broker; several copies need an external MQTT 5 broker such
 *   as Mosquitto 2 with MQTT_URL), sessions last as long as the embedded broker's process, and a device gets its
 *   retained schedule again on each resubscribe (a repeat is acknowledged as a duplicate).
 */

/** Creates an mqtt.js client with GridPulse's defaults (MQTT 5, reconnect every 1 s, 10 s connect timeout); `options` override them. */
export function createMqttClient(url: string, options: IClientOptions): MqttClient {
  return mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 1000, connectTimeout: 10_000, ...options });
}

/**
 * Switches options to MQTT 3.1.1 in place when `err` is the broker refusing MQTT 5 (and they asked for 5): drops the
 * MQTT 5-only `properties`. True when it switched, so the caller reconnects; false for any other error.
 */
export function fallBackToMqtt311(options: IClientOptions, err: unknown): boolean {
  if ((options.protocolVersion ?? 5) !== 5 || !isUnsupportedProtocol(err)) return false;
  options.protocolVersion = 4;
  delete options.properties;
  return true;
}

/**
 * Connects an mqtt.js client with MQTT 5 (`protocolVersion: 5`), and with MQTT 3.1.1 when the broker refuses
 * version 5 (see above: the embedded Aedes; `protocolVersion` in the result says which it got, and the caller drops
 * shared subscriptions on 4). Rejects on the first failure (refused credentials, unreachable broker) with mqtt.js's
 * error; once connected, the client reconnects by itself (`reconnectPeriod`, default 1 s). `prepare` runs on the
 * client before it connects: a persistent session's queued messages arrive right after CONNACK, so handlers go there.
 */
export async function connectMqtt(url: string, options: IClientOptions, prepare?: (client: MqttClient) => void): Promise<{ client: MqttClient; protocolVersion: 4 | 5 }> {
  const v5: IClientOptions = { ...options, protocolVersion: 5 };
  try {
    return { client: await connectOnce(url, v5, prepare), protocolVersion: 5 };
  } catch (err) {
    const v4 = { ...v5 };
    if (!fallBackToMqtt311(v4, err)) throw err;
    return { client: await connectOnce(url, v4, prepare), protocolVersion: 4 };
  }
}

function connectOnce(url: string, options: IClientOptions, prepare?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = createMqttClient(url, { ...options, manualConnect: true });
  prepare?.(client);
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      if (!err) return resolve(client);
      client.end(true);
      reject(err);
    };
    const onConnect = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error(`could not connect to ${url}`));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
    client.connect();
  });
}

/** Whether a connect error means the broker refused the MQTT protocol version (Aedes 1.x and MQTT 5). */
export const isUnsupportedProtocol = (err: unknown) =>
  [1, 132].includes((err as { code?: number }).code ?? 0) || /unsupported protocol|unacceptable protocol/i.test((err as Error).message ?? '');

/**
 * Whether a connect error is the broker refusing the credentials: MQTT 5 CONNACK 0x86 (bad user name or password) or
 * 0x87 (not authorized), MQTT 3.1.1 return codes 4 and 5.
 */
export const isNotAuthorized = (err: unknown) => [4, 5, 134, 135].includes((err as { code?: number }).code ?? 0);
