import { deviceTopic, MAX_PACKET_BYTES, scheduleMessage, type ScheduleMessage } from '../messages.ts';

/**
 * Why a bus refused a schedule for good (the `reason` label of gridpulse_fleet_versions_refused_total):
 * `invalid` — it fails the gridpulse.schedule/1 schema (or the broker said 0x90 topic name invalid / 0x99 payload
 * format invalid); `too_large` — its PUBLISH packet is over MAX_PACKET_BYTES, the brokers' limit (or the broker said
 * 0x95 packet too large); `not_authorized` — the broker answered the publish with MQTT 5 reason 0x87.
 */
export const REFUSAL_REASONS = ['invalid', 'too_large', 'not_authorized'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * A publish that sending again cannot fix: the same message meets the same refusal. The distribution marks the
 * version `failed` with "publish refused: <message>" and never re-publishes it (distribution.ts publishVersions);
 * any other rejection of FleetBus.publishSchedule is transient (the version stays queued and is re-published).
 */
export class PublishRefusedError extends Error {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, message: string) {
    super(message);
    this.name = 'PublishRefusedError';
    this.reason = reason;
  }
}

/** MQTT 5 PUBACK reason codes that refuse the message itself (MQTT 5.0 §3.4.2.1), by RefusalReason. */
const PERMANENT: Readonly<Record<number, RefusalReason>> = { 0x87: 'not_authorized', 0x90: 'invalid', 0x95: 'too_large', 0x99: 'invalid' };
const REASON_NAMES: Readonly<Record<number, string>> = { 0x87: 'not authorized', 0x90: 'topic name invalid', 0x95: 'packet too large', 0x99: 'payload format invalid' };

/** The error of a rejected publish as a PublishRefusedError when the broker's reason code refuses the message for good; else the error unchanged (0x80 unspecified, 0x97 quota exceeded, timeouts, lost connections: transient). */
export function refusalOf(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number' || !(code in PERMANENT)) return err;
  return new PublishRefusedError(PERMANENT[code]!, `the broker refused the publish: ${REASON_NAMES[code]} (MQTT 5 reason 0x${code.toString(16)})`);
}

const varintBytes = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

/**
 * The size in bytes of a QoS 1 PUBLISH packet (MQTT 3.1.1 §3.3, 5.0 §3.3): fixed header, topic, packet id, on MQTT 5
 * the properties (user properties only), and the payload — what the broker compares with its packet limit
 * (Mosquitto `max_packet_size` counts the whole packet; the embedded broker's guard the Remaining Length, smaller).
 */
export function publishPacketBytes(topic: string, payload: string, protocolVersion: 4 | 5, userProperties: Readonly<Record<string, string | readonly string[]>> = {}): number {
  let props = 0;
  for (const [k, vs] of Object.entries(userProperties)) for (const v of typeof vs === 'string' ? [vs] : vs) props += 1 + 2 + Buffer.byteLength(k) + 2 + Buffer.byteLength(v);
  const remaining = 2 + Buffer.byteLength(topic) + 2 + (protocolVersion === 5 ? varintBytes(props) + props : 0) + Buffer.byteLength(payload);
  return 1 + varintBytes(remaining) + remaining;
}

/**
 * Checks a schedule before it is published: its packet against MAX_PACKET_BYTES first (a broker disconnects a client
 * sending more, and the publisher would reconnect and send it again for ever; no message that large can ever be
 * carried, valid or not), then the gridpulse.schedule/1 schema. A schedule accepted through the API never reaches
 * the limit (schedule-check.ts checkScheduleSize; the largest valid message is about a third of it): this is the
 * bus's own guard for any other path. Returns the topic and the payload to send; throws PublishRefusedError naming
 * the size or the field (by its path, `intervals/3/start`).
 */
export function publishableSchedule(msg: ScheduleMessage, protocolVersion: 4 | 5, userProperties: Readonly<Record<string, string | readonly string[]>> = {}): { topic: string; payload: string } {
  const asSent = JSON.stringify(msg);
  const sentBytes = publishPacketBytes(deviceTopic(String(msg.deviceId), 'schedule'), asSent, protocolVersion, userProperties);
  if (sentBytes > MAX_PACKET_BYTES) throw new PublishRefusedError('too_large', `schedule message of ${sentBytes} bytes over the broker's packet limit of ${MAX_PACKET_BYTES} bytes (MAX_PACKET_BYTES)`);
  const checked = scheduleMessage.safeParse(msg);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new PublishRefusedError('invalid', `schedule message: ${issue.path.join('/')}: ${issue.message}`);
  }
  const topic = deviceTopic(checked.data.deviceId, 'schedule');
  const payload = JSON.stringify(checked.data);
  return { topic, payload };
}
