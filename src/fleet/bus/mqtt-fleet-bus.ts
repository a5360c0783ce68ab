import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { FleetBus } from '../contract.ts';
import { deviceTopic, type ScheduleMessage } from '../messages.ts';
import { publishableSchedule, PublishRefusedError, refusalOf } from './publish-refusal.ts';
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
 * fails the gridpulse.schedule/1 schema, or whose packet is over MAX_PACKET_BYTES (the broker would drop the
 * connection, and a re-publish would do it again), is refused before it is sent; a broker's PUBACK refusing the
 * message itself (MQTT 5 0x87 not authorized, 0x90, 0x95, 0x99) too: both reject with a PublishRefusedError
 * (publish-refusal.ts), logged here, which the distribution records as the version `failed`, never retried.
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
    // MQTT 3.1.1 (the embedded Aedes) has no user properties: the trace ends at the publish there. These sized the
    // packet for the check; the ones sent are injected inside the publish span below
    const userProperties = this.protocolVersion === 5 ? injectMqtt() : {};
    let publishable: { topic: string; payload: string };
    try {
      publishable = publishableSchedule(msg, this.protocolVersion, userProperties);
    } catch (err) {
      this.log.error({ deviceId: msg.deviceId, version: msg.version, reason: (err as PublishRefusedError).reason, err: (err as Error).message }, 'schedule refused before publishing');
      throw err;
    }
    if (!this.client.connected) throw new Error('MQTT broker unreachable: schedule not published');
    const { topic, payload } = publishable;
    await withSpan('publish schedule', { 'messaging.system': 'mqtt', 'messaging.operation.type': 'send', 'messaging.destination.name': topic, 'gridpulse.device_id': msg.deviceId, 'gridpulse.schedule_version': msg.version }, async () => {
      // the context sent is this PRODUCER span's (the device's ack answers the publish, not the API call); a traceparent
      // has one length whatever its ids, so the packet checked above is the packet sent
      const sent = this.protocolVersion === 5 ? injectMqtt() : {};
      try {
        await within(this.client.publishAsync(topic, payload, { qos: 1, retain: true, ...(sent.traceparent ? { properties: { userProperties: sent } } : {}) }),
          PUBLISH_TIMEOUT_MS, `no PUBACK within ${PUBLISH_TIMEOUT_MS} ms`);
      } catch (err) {
        const refused = refusalOf(err);
        if (refused instanceof PublishRefusedError) this.log.error({ deviceId: msg.deviceId, version: msg.version, reason: refused.reason, err: refused.message }, 'the broker refused the schedule publish (not retried)');
        throw refused;
      }
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
