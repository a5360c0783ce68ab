import os from 'node:os';
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import { ackMessage, deviceTopic, sharedSubscription, statusMessage, telemetryMessage, TOPIC_ROOT, DEVICE_ID, RESERVED_ID_PREFIX, MAX_DEVICE_MESSAGE_BYTES, outOfWindow } from '../messages.ts';
import { metricsOf } from '../../platform/metrics.ts';
import { RejectionLog } from '../bus/rejection-log.ts';
import { connectMqtt } from '../bus/mqtt-connect.ts';
import type { MqttCredentials } from '../bus/embedded-broker.ts';
import { storeBatch, storeIsolating, type IngestBatch, type IngestResult, type LedgerSink } from './ingest-writer.ts';
import { observeAckLatencies } from '../fleet-metrics.ts';
import { countImplausible, type ImplausibleRule } from '../telemetry-check.ts';
import { extractMqtt, mqttTraceCarrier, SpanKind, startSpan, tracingEnabled, withSpan, type Span } from '../../platform/tracing.ts';
import { within } from '../../platform/within.ts';

export interface GatewayOptions {
  db: Db;
  /** the broker: MQTT_URL, or the embedded broker's url */
  url: string;
  /** its broker account (the gateway role); absent for a broker without authentication */
  credentials?: MqttCredentials | undefined;
  /** the gateway's persistent MQTT session: the same id after a restart gets the messages queued meanwhile */
  clientId?: string | undefined;
  /** shared-subscription group: every gateway copy in one group shares the load */
  group?: string;
  sink: LedgerSink;
  logger: Logger;
  /** messages per database batch (default 2,000) */
  batchSize?: number;
  /** longest wait before a partial batch is written, ms (default 50) */
  flushMs?: number;
  /** stop(): how long nothing more must arrive after the unsubscribe before it disconnects, ms (default 500) */
  quietMs?: number;
  /** the window of the sampled rejection log, ms (default 60,000: the first per device per minute plus a summary) */
  rejectionLogWindowMs?: number;
}

/**
 * Why the gateway dropped a device message: the `reason` label of gridpulse_gateway_messages_rejected_total.
 * `revoked`: the device was revoked while its message was in flight or queued in a batch.
 * `refused-by-store`: valid by its schema, but the database refused its content (a value out of a column's range, a
 * constraint): isolated from its batch, dropped and confirmed, so it never blocks the messages behind it.
 */
export type RejectReason = 'oversized' | 'not-json' | 'bad-topic' | 'schema' | 'wrong-device' | 'revoked' | 'refused-by-store';

export interface GatewayStats extends IngestResult { received: number; batches: number; invalid: number; retries: number; oversized: number }

export interface Gateway {
  readonly clientId: string;
  readonly protocolVersion: 4 | 5;
  stats(): GatewayStats;
  /** Whether its MQTT connection to the broker is up now (it reconnects by itself; readiness reports it). */
  connected(): boolean;
  /**
   * Graceful, for good (SIGTERM): unsubscribes from the shared subscriptions (the broker routes the group's messages
   * to the other copies from then on), writes and confirms what it holds and what still arrives until nothing has
   * for `quietMs`, then disconnects ending its session (MQTT 5 session expiry 0), so no session keeps a share.
   */
  stop(): Promise<void>;
  /** As if killed (SIGKILL): drops the connection at once, writes and confirms nothing it holds; its session keeps queueing (tests). */
  crash(): void;
}

type Held = { packet: Packet; generation: number };
const LEAF = new RegExp(`^${TOPIC_ROOT}/([^/]+)/(ack|telemetry|status)$`);
const SESSION_EXPIRY_S = 7 * 86_400;

/**
 * The gateway role: consumes every device's acks, telemetry and status (MQTT 5 shared subscriptions
 * `$share/<group>/gridpulse/v1/devices/+/{ack,telemetry,status}`, so N copies share the load; plain
 * subscriptions on an MQTT 3.1.1 broker such as the embedded Aedes), validates each message against its schema
 * and against its topic (a message naming another device than its topic's is dropped and logged), and writes
 * them in batches (ingest-writer.ts: COPY, exactly once per (device, seq), the ledger in the same transaction).
 *
 * No ack is lost: the gateway's session is persistent (clean start off, 7-day expiry, a stable client id) and
 * it sends a message's PUBACK only after the batch holding it committed. Killed in between, the broker still
 * holds those messages unconfirmed and redelivers them when the gateway reconnects; the unique (device, seq)
 * drops what was stored already. Stopped gracefully (SIGTERM) it leaves for good instead: it unsubscribes, writes and
 * confirms what still arrives, and ends its session, so a retired copy (an orchestrator's new hostname, a scaled-down
 * copy) keeps no share of the group queued for nobody. A database failure keeps the batch and retries it with backoff (confirming
 * nothing meanwhile); a message the database refuses for its content (SQLSTATE class 22 or 23) is isolated from its
 * batch and dropped with a counted rejection (`refused-by-store`) instead, the rest stored and all confirmed. mqtt.js has no manual acknowledgement, so the gateway defers the PUBACK packets its
 * client sends (one private method wrapped; mqtt.js is pinned by the lock file).
 *
 * Traces (when tracing is on): an ack that carries a trace context in its MQTT 5 user properties (the agent relays
 * the one its schedule came with) gets a CONSUMER span `store ack` in that trace — the API call's — from its receipt
 * to the commit of the batch holding it; each batch is a span `store device messages` linking those ack spans.
 */
/**
 * The gateway's MQTT client id: MQTT_GATEWAY_ID (default the host name) under the `gridpulse-` prefix that no device
 * id may take (DEVICE_ID), so a device never takes over a gateway's session. An id already carrying it is kept.
 */
export function gatewayClientId(configured: string | undefined): string {
  const id = configured ?? os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return id.startsWith(RESERVED_ID_PREFIX) ? id : `${RESERVED_ID_PREFIX}gateway-${id}`;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const clientId = gatewayClientId(o.clientId);
  const log = o.logger.child({ component: 'gateway', clientId });
  const batchSize = o.batchSize ?? 2_000;
  const flushMs = o.flushMs ?? 50;
  const quietMs = o.quietMs ?? 500;
  let lastMessageAt = 0;
  const stats: GatewayStats = { acksStored: 0, acksDuplicate: 0, telemetryStored: 0, telemetryDuplicate: 0, telemetryOutOfWindow: 0, acksOutOfWindow: 0, statusesOutOfWindow: 0, statuses: 0, fromRevoked: 0, received: 0, batches: 0, invalid: 0, retries: 0, oversized: 0 };
  // every rejection counts in /metrics (the registry attached to the db, metrics.ts) by reason; logs are sampled
  const rejectedTotal = () => metricsOf(o.db)?.counter('gridpulse_gateway_messages_rejected_total', 'device messages the gateway dropped, by reason (oversized, not-json, bad-topic, schema, wrong-device, revoked, refused-by-store)', ['reason']);
  const rejections = new RejectionLog(log, 'device message dropped', (reason) => rejectedTotal()?.inc({ reason }), o.rejectionLogWindowMs);
  // implausible telemetry (telemetry-check.ts): stored in the series, not applied; counted by rule, logged sampled
  countImplausible(o.db, []);
  const implausibleLog = new RejectionLog(log, 'implausible telemetry: kept in the series, not applied to the device\'s state', (rule) => countImplausible(o.db, [{ rule: rule as ImplausibleRule }]), o.rejectionLogWindowMs);

  let generation = 0;

  let buffer: IngestBatch = { acks: [], telemetry: [], statuses: [] };
  let held: Held[] = [];
  let ackSpans: Span[] = [];
  let holding: Held[] | null = null; // the PUBACKs of the message being handled land here
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let stopped = false;
  let crashed = false;
  let client!: MqttClient;
  let sendPacket!: (p: Packet, cb?: (e?: Error) => void, ...rest: unknown[]) => void;

  const reject = (reason: RejectReason, deviceId: string | undefined, detail: Record<string, unknown>) => {
    stats.invalid++;
    if (reason === 'oversized') stats.oversized++;
    rejections.refuse(deviceId, reason, detail);
  };

  const take = (packet: IPublishPacket) => {
    const m = LEAF.exec(packet.topic);
    const deviceId = m?.[1];
    const leaf = m?.[2];
    // the size first: an oversized payload is never decoded or parsed
    if (packet.payload.length > MAX_DEVICE_MESSAGE_BYTES) return reject('oversized', deviceId, { topic: packet.topic, bytes: packet.payload.length, limit: MAX_DEVICE_MESSAGE_BYTES });
    if (!m || !deviceId || !DEVICE_ID.test(deviceId)) return reject('bad-topic', deviceId, { topic: packet.topic });
    let parsed: unknown;
    try { parsed = JSON.parse(packet.payload.toString()); } catch { return reject('not-json', deviceId, { topic: packet.topic }); }
    const schema = leaf === 'ack' ? ackMessage : leaf === 'telemetry' ? telemetryMessage : statusMessage;
    const r = schema.safeParse(parsed);
    if (!r.success) return reject('schema', deviceId, { topic: packet.topic, err: r.error.issues[0]?.message });
    if ((r.data as { deviceId: string }).deviceId !== deviceId) return reject('wrong-device', deviceId, { topic: packet.topic, err: 'topic and message disagree' });
    if (leaf === 'ack') {
      buffer.acks.push(r.data as never);
      if (tracingEnabled()) traceAck(packet, r.data as { version: number; state: string; seq: number }, deviceId);
    }
    else if (leaf === 'telemetry') buffer.telemetry.push(r.data as never);
    else buffer.statuses.push(r.data as never);
  };

  /** Starts the ack's span in the trace its user properties name (none without a context: no trace of its own per ack). */
  const traceAck = (packet: IPublishPacket, ack: { version: number; state: string; seq: number }, deviceId: string) => {
    const props = packet.properties?.userProperties;
    if (!mqttTraceCarrier(props)) return;
    const span = startSpan('store ack', {
      'messaging.system': 'mqtt', 'messaging.operation.type': 'process', 'messaging.destination.name': packet.topic,
      'gridpulse.device_id': deviceId, 'gridpulse.schedule_version': ack.version, 'gridpulse.ack.state': ack.state, 'gridpulse.ack.seq': ack.seq, 'gridpulse.gateway.client_id': clientId,
    }, SpanKind.CONSUMER, extractMqtt(props));
    if (span) ackSpans.push(span);
  };

  const writeOnce = async (batch: IngestBatch, acks: Held[], spans: Span[]) => {
    let delay = 200;
    for (;;) {
      if (crashed) return;
      try {
        const { ackLatencySeconds, implausible, ...r } = await withSpan('store device messages', { 'gridpulse.acks': batch.acks.length, 'gridpulse.telemetry': batch.telemetry.length, 'gridpulse.statuses': batch.statuses.length, 'gridpulse.gateway.client_id': clientId },
          // a message the database refuses for its content is isolated and dropped; the rest of the batch is stored
          () => storeIsolating(batch, (b) => storeBatch(o.db, b, o.sink)), { root: true, links: spans.map((sp) => ({ context: sp.spanContext() })) });
        for (const sp of spans) sp.end();
        const { refused: poison, ...stored } = r;
        if (poison.length) {
          for (const p of poison) reject('refused-by-store', p.deviceId, { topic: deviceTopic(p.deviceId, p.kind), seq: p.seq, code: p.code, err: p.err });
          log.error({ refused: poison.length, messages: poison.slice(0, 20).map((p) => ({ deviceId: p.deviceId, topic: deviceTopic(p.deviceId, p.kind), seq: p.seq, code: p.code, err: p.err })) },
            'device messages refused by the database for their content: dropped and confirmed, the rest of the batch stored');
        }
        for (const k of Object.keys(stored) as Array<keyof IngestResult>) stats[k] += stored[k];
        observeAckLatencies(o.db, ackLatencySeconds);
        for (const i of implausible) implausibleLog.refuse(i.deviceId, i.rule, { seq: i.seq, at: i.at, detail: i.detail });
        stats.batches++;
        if (r.fromRevoked) {
          // a revoked device's messages that were in flight or queued here when the revocation committed: dropped at store time
          rejectedTotal()?.inc({ reason: 'revoked' }, r.fromRevoked);
          log.warn({ messages: r.fromRevoked }, 'device messages dropped: the device was revoked');
        }
        const refused = r.acksOutOfWindow + r.telemetryOutOfWindow + r.statusesOutOfWindow;
        if (refused) {
          const when = Date.now();
          log.warn({ acks: r.acksOutOfWindow, telemetry: r.telemetryOutOfWindow, statuses: r.statusesOutOfWindow,
            deviceIds: [...new Set([...batch.acks, ...batch.telemetry, ...batch.statuses].filter((m) => outOfWindow(m.at, when)).map((m) => m.deviceId))].slice(0, 20) },
          'device messages refused: at outside the accepted window');
        }
        break;
      } catch (err) {
        stats.retries++;
        for (const sp of spans) sp.addEvent('batch not stored; retrying', { 'exception.message': (err as Error).message });
        log.error({ err: (err as Error).message, messages: acks.length, retryInMs: delay }, 'batch not stored; retrying (nothing confirmed)');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
    // confirm to the broker only now; PUBACKs of an earlier connection are void (the broker redelivers those)
    for (const h of acks) if (h.generation === generation && client.connected && !crashed) sendPacket(h.packet);
  };

  const flush = (): Promise<void> => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    const run = async () => {
      while (count > 0 && !crashed) {
        const batch = buffer;
        const acks = held;
        const spans = ackSpans;
        buffer = { acks: [], telemetry: [], statuses: [] };
        held = [];
        ackSpans = [];
        count = 0;
        await writeOnce(batch, acks, spans);
      }
    };
    flushing = (flushing ?? Promise.resolve()).then(run, run);
    return flushing;
  };

  const { protocolVersion } = await connectMqtt(o.url, {
    clientId, ...o.credentials,
    clean: false, properties: { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: 65_535 },
  }, (c) => {
    // before CONNACK: the session's queued messages arrive at once, and none may be confirmed unwritten
    client = c;
    sendPacket = (client as unknown as { _sendPacket: (p: Packet, cb?: (e?: Error) => void, ...rest: unknown[]) => void })._sendPacket.bind(client);
    (client as unknown as { _sendPacket: typeof sendPacket })._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && holding) {
        holding.push({ packet, generation });
        cb?.();
        return;
      }
      sendPacket(packet, cb, ...rest);
    };

    client.handleMessage = (packet, callback) => {
      if (stopped) return; // never confirmed: the broker redelivers it to the next session
      lastMessageAt = Date.now();
      if (packet.cmd === 'publish') { stats.received++; take(packet); }
      count++;
      holding = held;
      try { callback(); } finally { holding = null; }
      if (count >= batchSize) void flush();
      else timer ??= setTimeout(() => { timer = undefined; void flush(); }, flushMs);
    };

    client.on('connect', () => { generation++; log.info({ generation }, 'gateway connected'); });
    client.on('offline', () => log.warn('gateway lost the broker; reconnecting'));
    client.on('error', (err) => { if (generation > 0) log.error({ err: err.message }, 'gateway MQTT error'); }); // before the first CONNACK, connectMqtt reports it
  });
  const leaves = ['ack', 'telemetry', 'status'] as const;
  const filters = leaves.map((leaf) => (protocolVersion === 5 ? sharedSubscription(leaf, o.group ?? 'gateway') : `${TOPIC_ROOT}/+/${leaf}`));
  const granted = await client.subscribeAsync(filters, { qos: 1 });
  const refused = granted.filter((g) => g.qos >= 0x80);
  if (refused.length) {
    client.end(true);
    throw new Error(`the broker refused the gateway's subscriptions (${refused.map((g) => g.topic).join(', ')}): does its account hold the gateway role?`);
  }
  log.info({ filters, protocolVersion }, 'gateway subscribed');

  return {
    clientId, protocolVersion,
    stats: () => ({ ...stats }),
    connected: () => client.connected && !crashed && !stopped,
    stop: async () => {
      // leave the group first: from the UNSUBACK on the broker sends this copy nothing new of it
      // (bounded: mqtt.js would hold an UNSUBSCRIBE for a broker that is down until it returns)
      if (client.connected) {
        await within(client.unsubscribeAsync(filters), 5_000, 'no UNSUBACK within 5 s')
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'gateway unsubscribe failed; leaving anyway'));
      }
      // what was in flight before the UNSUBACK still arrives: written and confirmed until quiet for quietMs (at most
      // 10 s more: a broker that went on sending would otherwise hold the stop past the orchestrator's grace period)
      lastMessageAt = Math.max(lastMessageAt, Date.now());
      const giveUpAt = Date.now() + 10_000;
      for (;;) {
        await flush();
        await flushing;
        const idle = Date.now() - lastMessageAt;
        if ((idle >= quietMs && count === 0) || Date.now() > giveUpAt) break;
        await new Promise((r) => setTimeout(r, Math.max(10, quietMs - idle)));
      }
      stopped = true;
      // MQTT 5: session expiry 0 ends the session with the connection (the copy leaves for good; a restart under the
      // same id starts afresh); MQTT 3.1.1 has no such DISCONNECT (the embedded broker's sessions end with its process)
      await client.endAsync(false, protocolVersion === 5 ? { reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : {});
      rejections.close();
      implausibleLog.close();
      log.info({ ...stats, sessionEnded: protocolVersion === 5 }, 'gateway stopped');
    },
    crash: () => {
      stopped = true;
      crashed = true;
      rejections.close();
      implausibleLog.close();
      if (timer) clearTimeout(timer);
      (client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
      client.end(true);
    },
  };
}
