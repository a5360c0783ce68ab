import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * Connects an mqtt.js client with MQTT 5 (`protocolVersion: 5`), and with MQTT 3.1.1 when the broker refuses
 * version 5 (the embedded Aedes 1.x speaks 3.1.1 only): the data path uses only features both have (retained
 * messages, QoS 1, persistent sessions, Last Will) except shared subscriptions, which the caller drops on 3.1.1
 * (`protocolVersion` says which it got). Rejects on the first failure (refused credentials, unreachable broker)
 * with mqtt.js's error; once connected, the client reconnects by itself (`reconnectPeriod`, default 1 s).
 * MQTT 5-only options (`properties`) are dropped on the fallback. `prepare` runs on the client before it
 * connects: a persistent session's queued messages arrive right after CONNACK, so handlers go there.
 */
export async function connectMqtt(url: string, options: IClientOptions, prepare?: (client: MqttClient) => void): Promise<{ client: MqttClient; protocolVersion: 4 | 5 }> {
  try {
    return { client: await connectOnce(url, { ...options, protocolVersion: 5 }, prepare), protocolVersion: 5 };
  } catch (err) {
    if (!isUnsupportedProtocol(err)) throw err;
    const { properties: _v5only, ...rest } = options;
    return { client: await connectOnce(url, { ...rest, protocolVersion: 4 }, prepare), protocolVersion: 4 };
  }
}

function connectOnce(url: string, options: IClientOptions, prepare?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 1000, connectTimeout: 10_000, ...options, manualConnect: true });
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
