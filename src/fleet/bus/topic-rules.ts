import { DEVICE_ID, TOPIC_ROOT, deviceTopic } from '../messages.ts';

/**
 * Who may use which topic on the device bus: the one rule set the embedded broker (Aedes hooks) enforces and
 * the Mosquitto dynamic-security roles (dynsec-admin.ts) express. A device (username = its id, client id = its
 * id) may publish only to its own `ack`, `telemetry` and `status` topics and subscribe only to its own
 * `schedule` topic, without wildcards; the gateway publishes any device's schedule and subscribes to every
 * device's acks, telemetry and status (as MQTT 5 shared subscriptions, `$share/<group>/…`, where the broker has
 * them). Nothing else is allowed to anyone.
 */
export type BusPrincipal = { kind: 'device'; deviceId: string } | { kind: 'gateway' };

const DEVICE_LEAVES = ['ack', 'telemetry', 'status'] as const;
const GATEWAY_LEAVES = new Set<string>(DEVICE_LEAVES);
const SHARE_GROUP = /^[A-Za-z0-9_-]{1,64}$/;

/** The device id of `gridpulse/v1/devices/<id>/<leaf>`, or null when the topic is not one device's. */
function deviceOf(topic: string, leaf: string): string | null {
  const prefix = `${TOPIC_ROOT}/`;
  const suffix = `/${leaf}`;
  if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) return null;
  const id = topic.slice(prefix.length, topic.length - suffix.length);
  return DEVICE_ID.test(id) ? id : null;
}

/** May `who` publish a message to `topic` (a topic name, never a filter)? */
export function mayPublish(who: BusPrincipal, topic: string): boolean {
  if (who.kind === 'device') return DEVICE_LEAVES.some((leaf) => topic === deviceTopic(who.deviceId, leaf));
  return deviceOf(topic, 'schedule') !== null;
}

/** May `who` subscribe to `filter` (a topic filter, possibly `$share/<group>/…`)? */
export function maySubscribe(who: BusPrincipal, filter: string): boolean {
  if (who.kind === 'device') return filter === deviceTopic(who.deviceId, 'schedule');
  let plain = filter;
  if (filter.startsWith('$share/')) {
    const [, group, ...rest] = filter.split('/');
    if (!group || !SHARE_GROUP.test(group)) return false;
    plain = rest.join('/');
  }
  const levels = plain.split('/');
  const root = TOPIC_ROOT.split('/');
  if (levels.length !== root.length + 2 || root.some((level, i) => levels[i] !== level)) return false;
  const [id, leaf] = levels.slice(root.length);
  return (id === '+' || DEVICE_ID.test(id!)) && GATEWAY_LEAVES.has(leaf!);
}

/** May the broker deliver a message on `topic` to `who` (checked again at delivery, after the subscription)? */
export function mayReceive(who: BusPrincipal, topic: string): boolean {
  if (who.kind === 'device') return topic === deviceTopic(who.deviceId, 'schedule');
  return DEVICE_LEAVES.some((leaf) => deviceOf(topic, leaf) !== null);
}
