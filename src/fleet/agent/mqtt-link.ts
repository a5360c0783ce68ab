import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { deviceTopic, MAX_DEVICE_MESSAGE_BYTES, type StatusMessage } from '../messages.ts';
import type { Agent } from './agent.ts';
import type { AgentStore, OutboxItem } from './agent-store.ts';
import { backoffDelay } from './backoff.ts';
import { createMqttClient, fallBackToMqtt311 } from '../bus/mqtt-connect.ts';
import { mqttTraceCarrier } from '../../platform/tracing.ts';

export interface MqttLinkOptions {
  /** mqtt://host:port (or mqtts://). */
  url: string;
  /** The device's broker password (the username is the device id). */
  password?: string;
  /** Keep-alive, s: the broker publishes the Last Will after 1.5 × this without a packet. */
  keepaliveS?: number;
  /** How many outbox messages may wait for their PUBACK at once. */
  window?: number;
  /** Reconnect backoff: first ceiling and cap, ms (`random` in [0, 1) for tests). */
  backoff?: { baseMs?: number; maxMs?: number; random?: () => number };
  /**
   * A connection must have lasted this long, ms (default 10 s), for its loss to start the backoff afresh: a broker
   * that accepts and then drops the client at once (another client taking over the same id, a broker kicking it) is
   * retried ever more slowly, not every few hundred ms.
   */
  stableMs?: number;
  connectTimeoutMs?: number;
  /** 5 (MQTT 5, the default; a broker refusing it gets 4) or 4 (MQTT 3.1.1, which the embedded Aedes speaks). */
  protocolVersion?: 4 | 5;
}

/**
 * The agent's MQTT 5 connection: client id = username = device id, a persistent session (clean start off, a week's
 * session expiry) so QoS 1 schedule messages published while it was away are delivered on return, a retained
 * Last Will `{online:false}` on its status topic, a subscription to its own retained schedule topic (QoS 1, renewed
 * on every connect, so a broker restart or a half-made session cannot leave it without one), and the outbox drained in `seq` order with QoS 1:
 * a message leaves the store only on its PUBACK. Reconnects with full-jitter exponential backoff, started afresh only
 * after a connection that lasted stableMs (so a connect-then-drop loop backs off like a refused connect).
 */
export class MqttLink {
  private client: MqttClient | undefined;
  private attempt = 0;
  private connectedAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private again = false;
  private closed = false;
  private holdUntil = 0;
  /** Rejected when the current connection closes, so a flush waiting for PUBACKs gives up and restarts on return. */
  private lost: Promise<never> = Promise.reject(new Error('not connected'));
  private markLost: (err: Error) => void = () => {};
  /** Whether the connection is up (the HTTP fallback polls while it is not). */
  connected = false;
  /** outbox messages over MAX_DEVICE_MESSAGE_BYTES, dropped unsent and logged */
  dropped = 0;

  private readonly agent: Agent;
  private readonly store: AgentStore;
  private readonly o: MqttLinkOptions;
  private readonly log: Logger;

  constructor(agent: Agent, store: AgentStore, o: MqttLinkOptions, log: Logger) {
    this.agent = agent;
    this.store = store;
    this.o = o;
    this.log = log;
  }

  /** Starts connecting; resolves at once (the link keeps trying in the background). */
  start(): void {
    const id = this.agent.deviceId;
    const will: StatusMessage = { schema: 'gridpulse.status/1', deviceId: id, online: false };
    const client = createMqttClient(this.o.url, {
      protocolVersion: this.o.protocolVersion ?? 5, clientId: id, username: id, password: this.o.password ?? '', clean: false,
      ...((this.o.protocolVersion ?? 5) === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      keepalive: this.o.keepaliveS ?? 30, reconnectPeriod: 0, connectTimeout: this.o.connectTimeoutMs ?? 10_000, resubscribe: false,
      will: { topic: deviceTopic(id, 'status'), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    });
    this.client = client;
    this.agent.onQueued = () => { void this.flush(); };
    this.lost.catch(() => undefined);
    client.on('connect', (connack) => {
      this.connectedAt = Date.now();
      this.lost = new Promise<never>((_, reject) => { this.markLost = reject; });
      this.lost.catch(() => undefined);
      this.connected = true;
      this.log.info({ deviceId: id, sessionPresent: connack.sessionPresent }, 'mqtt connected');
      void this.onConnect();
    });
    client.on('message', (topic, payload, packet) => {
      let parsed: unknown;
      try { parsed = JSON.parse(payload.toString('utf8')); } catch { parsed = undefined; }
      // the schedule's trace context (MQTT 5 user properties) goes back on the ack: the agent relays it, it traces nothing itself
      this.agent.receive(parsed, mqttTraceCarrier(packet.properties?.userProperties));
    });
    client.on('error', (err) => {
      if (fallBackToMqtt311(client.options, err)) {
        // the embedded Aedes speaks MQTT 3.1.1 only (mqtt-connect.ts): the same data path without the v5 session expiry
        this.log.info({ deviceId: id }, 'broker refused MQTT 5; using MQTT 3.1.1');
        return;
      }
      this.log.warn({ deviceId: id, err: err.message }, 'mqtt error');
    });
    client.on('close', () => {
      const was = this.connected;
      this.connected = false;
      if (was && Date.now() - this.connectedAt >= (this.o.stableMs ?? 10_000)) this.attempt = 0;
      this.markLost(new Error('connection lost'));
      if (was && !this.closed) this.log.warn({ deviceId: id }, 'mqtt connection lost');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.max(backoffDelay(this.attempt++, this.o.backoff), this.holdUntil - Date.now());
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.client && !this.client.connected) this.client.reconnect();
    }, delay);
  }

  private async onConnect(): Promise<void> {
    const client = this.client!;
    const id = this.agent.deviceId;
    try {
      // subscribe on every connect, even with a session present: a session the broker made for an attempt that timed
      // out before its SUBSCRIBE has no subscription (seen with 10,000 devices connecting at once). MQTT 5's retain
      // handling 1 sends the retained schedule only when the subscription is new; a repeat is a 'duplicate' anyway
      await client.subscribeAsync(deviceTopic(id, 'schedule'), { qos: 1, ...(client.options.protocolVersion === 5 ? { rh: 1 } : {}) });
      const status: StatusMessage = { schema: 'gridpulse.status/1', deviceId: id, online: true, at: new Date().toISOString() };
      await client.publishAsync(deviceTopic(id, 'status'), JSON.stringify(status), { qos: 1, retain: true });
    } catch (err) {
      this.log.warn({ deviceId: id, err: (err as Error).message }, 'mqtt subscribe failed; retrying on reconnect');
      return;
    }
    await this.flush();
  }

  /**
   * Whether an outbox message may be sent: one over MAX_DEVICE_MESSAGE_BYTES is dropped here with an error log
   * (the gateway drops it unparsed anyway, and one over the broker's packet limit, MAX_PACKET_BYTES, gets the connection
   * dropped: sent again on every reconnect, it cut the agent off for good), and forgotten with its window.
   */
  private sendable(item: OutboxItem): boolean {
    const bytes = Buffer.byteLength(JSON.stringify(item.message));
    if (bytes <= MAX_DEVICE_MESSAGE_BYTES) return true;
    this.log.error({ deviceId: this.agent.deviceId, seq: item.seq, kind: item.kind, bytes, limit: MAX_DEVICE_MESSAGE_BYTES },
      'outbox message over the device message size limit: dropped (the gateway would drop it; over the broker\'s packet limit it costs the connection)');
    this.dropped++;
    return false;
  }

  /** Sends queued acks and telemetry in order until the outbox is empty or the connection drops. */
  async flush(): Promise<void> {
    if (this.flushing) { this.again = true; return; }
    this.flushing = true;
    try {
      do {
        this.again = false;
        const window = this.o.window ?? 50;
        while (this.client?.connected) {
          const batch = this.store.pending(window);
          if (!batch.length) break;
          const client = this.client;
          // MQTT keeps a connection's order; all PUBACKs of the window arriving means every seq up to the last is in.
          // mqtt.js drops its in-flight store on reconnect, so a lost connection ends the wait and the window is resent
          // from the outbox (the gateway stores each (device, seq) once)
          const v5 = client.options.protocolVersion === 5;
          const sent = Promise.all(batch.filter((item) => this.sendable(item)).map((item) => client.publishAsync(deviceTopic(this.agent.deviceId, item.kind), JSON.stringify(item.message),
            { qos: 1, ...(v5 && item.trace ? { properties: { userProperties: { ...item.trace } } } : {}) })));
          sent.catch(() => undefined);
          await Promise.race([sent, this.lost]);
          this.store.delivered(batch.at(-1)!.seq);
          // a short window emptied the outbox; what was queued meanwhile set `again` (onQueued → flush)
          if (batch.length < window) break;
        }
      } while (this.again && this.client?.connected);
    } catch (err) {
      this.log.warn({ deviceId: this.agent.deviceId, err: (err as Error).message, queued: this.store.queued() }, 'outbox send interrupted; resent on reconnect');
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Simulates losing the network for `ms`: the connection is cut without DISCONNECT (so the broker publishes the Last
   * Will) and no reconnect is tried before the time is up. For the simulator's `--offline-rate`.
   */
  dropFor(ms: number): void {
    this.holdUntil = Date.now() + ms;
    this.client?.stream?.destroy();
  }

  /** Publishes `{online:false}` and disconnects (a clean stop: the broker does not need the Last Will). */
  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      const status: StatusMessage = { schema: 'gridpulse.status/1', deviceId: this.agent.deviceId, online: false, at: new Date().toISOString() };
      await Promise.race([client.publishAsync(deviceTopic(this.agent.deviceId, 'status'), JSON.stringify(status), { qos: 1, retain: true }), new Promise((r) => setTimeout(r, 2_000))]).catch(() => undefined);
    }
    await client.endAsync(true).catch(() => undefined);
  }
}
