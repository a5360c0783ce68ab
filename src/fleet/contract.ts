import type { ScheduleMessage } from './messages.ts';

/**
 * The seams between fleet-core (devices, schedules, ledger, rollouts) and the broker layer (fleet-bus).
 * fleet-core never talks MQTT itself: it hands whole schedule versions to a FleetBus, and the device's own
 * acknowledgement (ledger.ts applyAcks, called by the gateway or the HTTP fallback) is what proves delivery.
 */

/**
 * Publishes a device's desired schedule: the whole version, retained, QoS 1, on
 * `gridpulse/v1/devices/{id}/schedule` (messages.ts deviceTopic). Resolves when the broker took it (PUBACK);
 * rejects when it could not (the ledger then keeps the version `queued` and the re-publisher tries again), or with a
 * PublishRefusedError (bus/publish-refusal.ts) when sending it again cannot help — invalid, over the broker's packet
 * limit, or refused by the broker (MQTT 5 0x87): the version is then marked `failed` and never re-published.
 * Implementations: MqttFleetBus (fleet-bus), RecordingFleetBus in tests (fleet/testing/recording-bus.ts).
 */
export interface FleetBus {
  publishSchedule(msg: ScheduleMessage): Promise<void>;
  /** Removes a revoked device's retained schedule from the broker (MqttFleetBus); optional for test buses. */
  clearSchedule?(deviceId: string): Promise<void>;
  close?(): Promise<void>;
}

/**
 * Creates and removes a device's broker credentials where the broker keeps its own (Mosquitto's
 * dynamic-security plugin, driven over `$CONTROL/dynamic-security/v1`). The embedded Aedes broker checks the
 * database instead (device-credentials.ts verifyDeviceMqtt), so it needs none. Username = device id.
 * provisionDevice also grants the device's ACL: publish ack/telemetry/status, subscribe schedule, its own id only.
 */
export interface BrokerAdmin {
  provisionDevice(deviceId: string, password: string): Promise<void>;
  revokeDevice(deviceId: string): Promise<void>;
}

/** The delivery state of one schedule version on one device, by name (the ledger's states). */
export const DELIVERY_STATES = ['queued', 'sent', 'acknowledged', 'executing', 'succeeded', 'failed', 'timed-out', 'superseded'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** What `gridpulse devices create --json` prints and POST /api/v1/devices answers once: the device's credentials. */
export interface DeviceCredentials {
  id: string;
  /** = the device id */
  mqttUsername: string;
  /** shown once; only its SHA-256 is stored */
  mqttPassword: string;
  /** `gp_…`: an API key of kind `device` (scope fleet:device) for the HTTP fallback; shown once */
  apiKey: string;
}

/** Options of the background loops (rollout runner, re-publisher, timeout sweep); every copy of web/gateway may run them. */
export interface FleetLoopOptions {
  /** how often the loops look for work, ms (default 1000) */
  tickMs?: number;
  /** first re-publish of an unacknowledged version after this long, ms, doubling up to maxRepublishMs (default 30 000) */
  republishMs?: number;
  /** longest wait between re-publishes, ms (default 300 000) */
  maxRepublishMs?: number;
  /** a version not acknowledged this long after it was issued is timed-out, ms (default 900 000) */
  ackTimeoutMs?: number;
  /** a version acknowledged but not finished this long after its last interval ends is timed-out, ms (default 600 000) */
  finishGraceMs?: number;
  /** versions handled per query (default 500) */
  batch?: number;
  now?: () => number;
}
