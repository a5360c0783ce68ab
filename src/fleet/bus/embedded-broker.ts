import { randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { DEVICE_ID, MAX_PACKET_BYTES } from '../messages.ts';
import { guardPacketSize } from './packet-size-guard.ts';
import { RejectionLog } from './rejection-log.ts';
import { mayPublish, mayReceive, maySubscribe, type BusPrincipal } from './topic-rules.ts';

/** Checks a device's MQTT credentials: its id when they are right (fleet-core's `verifyDeviceMqtt`), else null. */
export type VerifyDevice = (username: string, password: string) => Promise<string | null>;

/** Broker credentials (MQTT username and password). */
export interface MqttCredentials { username: string; password: string }

export interface EmbeddedBroker {
  /** `mqtt://host:port` of the listener. */
  readonly url: string;
  readonly port: number;
  /** The in-process gateway's credentials: random per start, never stored. */
  readonly gateway: MqttCredentials;
  /** Connected MQTT clients. */
  connectedClients(): number;
  /** Connections dropped for a packet over MAX_PACKET_BYTES since the start. */
  oversizedRefused(): number;
  /** Calls `listener` with every message a client published that the broker accepted (metrics, tests); returns an unsubscribe. */
  onAccepted(listener: (topic: string, payload: Buffer, clientId: string) => void): () => void;
  /**
   * Ends the live sessions of these devices at once (a revocation or a new password: Mosquitto's dynamic security does
   * the same when an account is deleted or its password set). Their connections are closed, and anything more they
   * send before the close completes is refused; a reconnect authenticates anew (`verify`). Returns how many were
   * connected.
   */
  disconnectDevices(deviceIds: readonly string[]): number;
  close(): Promise<void>;
}

export class BrokerPortTakenError extends Error {}

const GATEWAY_USERNAME = 'gridpulse-gateway';

function authError(message: string, returnCode: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The embedded device bus: an Aedes broker (MQTT 3.1.1; Aedes 1.x has no MQTT 5, so clients connecting with
 * protocol 5 are refused and `connectMqtt` falls back to 4) on `host:port` (MQTT_PORT, default 1884; loopback
 * unless HOST says otherwise). Every connection must authenticate: a device with username = its id, client id
 * = its id and its password (checked by `verify` against the database), or the in-process gateway with the
 * random credentials in `gateway`. Publish, subscribe and delivery are checked by topic-rules.ts, the same
 * rules Mosquitto's dynamic-security roles express. A taken port rejects with a BrokerPortTakenError whose
 * message is one line. In-memory persistence: sessions and retained schedules live as long as the process
 * (the delivery ledger re-publishes what devices have not acknowledged). A packet declaring more than
 * `maxPacketBytes` (default MAX_PACKET_BYTES, Mosquitto's `max_packet_size`) drops its connection before the
 * broker buffers it (packet-size-guard.ts); those are counted (`oversizedRefused`) and logged sampled.
 */
export async function startEmbeddedBroker(opts: { port: number; host: string; verify: VerifyDevice; logger: Logger; maxPacketBytes?: number; countRefused?: (reason: 'oversized') => void }): Promise<EmbeddedBroker> {
  const log = opts.logger.child({ component: 'mqtt-broker' });
  const gateway: MqttCredentials = { username: GATEWAY_USERNAME, password: randomBytes(24).toString('base64url') };
  const principals = new WeakMap<Client, BusPrincipal>();
  /** sessions ended by disconnectDevices: nothing they still send is accepted */
  const cutOff = new WeakSet<Client>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const pass = password?.toString('utf8') ?? '';
      if (!username || !pass) return done(authError('credentials required', 4), false);
      if (username === GATEWAY_USERNAME) {
        if (!sameSecret(pass, gateway.password)) return done(authError('bad user name or password', 4), false);
        principals.set(client, { kind: 'gateway' });
        return done(null, true);
      }
      // a device's session is bound to its id: no device can take over (or read the queue of) another's session
      if (!DEVICE_ID.test(username) || client.id !== username) return done(authError('client id must be the device id', 5), false);
      opts.verify(username, pass).then((deviceId) => {
        if (deviceId !== username) {
          log.info({ deviceId: username }, 'device refused: bad credentials');
          return done(authError('bad user name or password', 4), false);
        }
        principals.set(client, { kind: 'device', deviceId });
        done(null, true);
      }, (err: unknown) => {
        log.error({ deviceId: username, err: (err as Error).message }, 'device credentials could not be checked');
        done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError, false);
      });
    },
    authorizePublish: (client, packet, done) => {
      const who = client && principals.get(client);
      if (!client) return done(null); // the broker's own messages ($SYS)
      if (cutOff.has(client)) {
        log.warn({ clientId: client.id, topic: packet.topic }, 'publish refused: the device\'s session was ended (revoked or new credentials)');
        return done(new Error('not authorized'));
      }
      if (who && mayPublish(who, packet.topic)) return done(null);
      log.warn({ clientId: client.id, topic: packet.topic }, 'publish refused');
      done(new Error('not authorized'));
    },
    authorizeSubscribe: (client, sub, done) => {
      const who = principals.get(client);
      if (who && maySubscribe(who, sub.topic)) return done(null, sub);
      log.warn({ clientId: client.id, topic: sub.topic }, 'subscribe refused');
      done(null, null); // SUBACK 0x80 for this filter
    },
    authorizeForward: (client, packet) => {
      const who = principals.get(client);
      return who && mayReceive(who, packet.topic) ? packet : null;
    },
  });
  const maxPacketBytes = opts.maxPacketBytes ?? MAX_PACKET_BYTES;
  let oversized = 0;
  const refusals = new RejectionLog(log, 'MQTT packet over the size limit: connection dropped', () => opts.countRefused?.('oversized'));
  const server = net.createServer((socket) => {
    broker.handle(guardPacketSize(socket, maxPacketBytes, (bytes) => {
      oversized++;
      refusals.refuse(socket.remoteAddress, 'oversized', { declaredBytes: bytes, limit: maxPacketBytes });
    }));
  });
  try {
    server.listen(opts.port, opts.host);
    await once(server, 'listening');
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new BrokerPortTakenError(`MQTT_PORT ${opts.port} on ${opts.host} is taken: stop what listens there, set another MQTT_PORT, or set MQTT_URL to use an external broker`);
    throw new Error(`embedded MQTT broker cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`, { cause: err });
  }
  const port = (server.address() as net.AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  log.info({ host: opts.host, port }, 'embedded MQTT broker listening');
  return {
    url: `mqtt://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    port,
    gateway,
    connectedClients: () => broker.connectedClients,
    oversizedRefused: () => oversized,
    onAccepted: (listener) => {
      const handler = (packet: { topic: string; payload: Buffer | string }, client: Client | null) => {
        if (client) listener(packet.topic, Buffer.from(packet.payload), client.id);
      };
      broker.on('publish', handler);
      return () => { broker.off('publish', handler); };
    },
    disconnectDevices: (deviceIds) => {
      let n = 0;
      const clients = (broker as unknown as { clients: Record<string, Client | undefined> }).clients;
      for (const id of deviceIds) {
        // a device's client id is its id (authenticate), so its live session is the broker's client of that id
        const client = clients[id];
        const who = client && principals.get(client);
        if (!client || who?.kind !== 'device' || who.deviceId !== id) continue;
        cutOff.add(client);
        client.close();
        n++;
      }
      if (n) log.info({ deviceIds: deviceIds.slice(0, 20), disconnected: n }, 'device sessions ended (revoked or new credentials)');
      return n;
    },
    close: async () => {
      refusals.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
