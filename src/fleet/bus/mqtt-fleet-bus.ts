import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { FleetBus } from '../contract.ts';
import { deviceTopic, scheduleMessage, type ScheduleMessage } from '../messages.ts';
import { connectMqtt } from './mqtt-connect.ts';
import type { MqttCredentials } from './embedded-broker.ts';
import { injectMqtt, SpanKind, withSpan } from '../../platform/tracing.ts';
import { within } from '../../platform/within.ts';

/** How long a publish may wait for the broker's PUBACK before it counts as failed, ms. */
export const PUBLISH_TIMEOUT_MS = 10_000;

/**
 * FleetBus over MQTT: each schedule version is published whole, retained, QoS 1, on
 * `gridpulse/v1/devices/{id}/schedule` with the account holding the gateway role (any device's schedule topic,
 * nothing else). Resolves on the broker's PUBACK (MQTT 5: a reason code below 0x80); rejects at once when the
 * broker is unreachable (mqtt.js would queue the message until it returns: the ledger keeps the version
 * `queued` and re-publishes instead), when the broker refuses, or after PUBLISH_TIMEOUT_MS. A message that
 * fails the gridpulse.schedule/1 schema is refused before it is sent (a TypeError naming the field).
 *
 * With tracing on, each publish is a PRODUCER span (`publish schedule`, a child of the API call or loop round that
 * issued the version) and, on MQTT 5, the message carries its context in the user properties `traceparent` and
 * `tracestate`: the agent sends it back on its ack and the gateway's span for storing the ack joins the trace.
 */
export class MqttFleetBus implements FleetBus {
  private readonly client: MqttClient;
  private readonly log: Logger;
  private readonly protocolVersion: 4 | 5;

  private constructor(client: MqttClient, log: Logger, protocolVersion: 4 | 5) {
    this.client = client;
    this.log = log;
    this.protocolVersion = protocolVersion;
  }

  static async connect(url: string, credentials: MqttCredentials | undefined, logger: Logger): Promise<MqttFleetBus> {
    const { client, protocolVersion } = await connectMqtt(url, { ...credentials, clientId: `gridpulse-publisher-${randomUUID()}`, clean: true });
    const log = logger.child({ component: 'fleet-bus' });
    client.on('error', (err) => log.error({ err: err.message }, 'schedule publisher MQTT error'));
    return new MqttFleetBus(client, log, protocolVersion);
  }

  async publishSchedule(msg: ScheduleMessage): Promise<void> {
    const checked = scheduleMessage.safeParse(msg);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      throw new TypeError(`schedule message: ${issue.path.join('.')}: ${issue.message}`);
    }
    if (!this.client.connected) throw new Error('MQTT broker unreachable: schedule not published');
    const topic = deviceTopic(msg.deviceId, 'schedule');
    await withSpan('publish schedule', { 'messaging.system': 'mqtt', 'messaging.operation.type': 'send', 'messaging.destination.name': topic, 'gridpulse.device_id': msg.deviceId, 'gridpulse.schedule_version': msg.version }, async () => {
      // MQTT 3.1.1 (the embedded Aedes) has no user properties: the trace ends at the publish there
      const userProperties = this.protocolVersion === 5 ? injectMqtt() : {};
      await within(this.client.publishAsync(topic, JSON.stringify(checked.data), { qos: 1, retain: true, ...(userProperties.traceparent ? { properties: { userProperties } } : {}) }),
        PUBLISH_TIMEOUT_MS, `no PUBACK within ${PUBLISH_TIMEOUT_MS} ms`);
    }, { kind: SpanKind.PRODUCER });
    this.log.debug({ deviceId: msg.deviceId, version: msg.version }, 'schedule published');
  }

  /**
   * Removes the retained schedule of a revoked device from the broker (an empty retained message, QoS 1), so nothing
   * addressed to it stays there. Rejects as publishSchedule does.
   */
  async clearSchedule(deviceId: string): Promise<void> {
    if (!this.client.connected) throw new Error('MQTT broker unreachable: retained schedule not cleared');
    await within(this.client.publishAsync(deviceTopic(deviceId, 'schedule'), Buffer.alloc(0), { qos: 1, retain: true }), PUBLISH_TIMEOUT_MS, `no PUBACK within ${PUBLISH_TIMEOUT_MS} ms`);
    this.log.debug({ deviceId }, 'retained schedule cleared');
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
