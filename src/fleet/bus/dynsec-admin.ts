import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DEVICE_ID, TOPIC_ROOT } from '../messages.ts';
import { connectMqtt } from './mqtt-connect.ts';
import type { MqttCredentials } from './embedded-broker.ts';

const CONTROL = '$CONTROL/dynamic-security/v1';
/** The role every device client holds: its own topics only, by the `%u` (username = device id) pattern. */
export const DEVICE_ROLE = 'gridpulse-device';
/** The gateway's role: shared subscriptions to acks, telemetry and status; publishing schedules. */
export const GATEWAY_ROLE = 'gridpulse-gateway';

type Acl = { acltype: string; topic: string; allow: boolean; priority?: number };

/**
 * The roles, as Mosquitto's dynamic-security ACLs, of topic-rules.ts. Mosquitto substitutes `%u` (the
 * username) in ACL topics, and a device's username is its id, so one role serves every device. The default
 * access is deny for everything (dynsec's default lets any client receive whatever it subscribed to).
 */
const DEVICE_ACLS: Acl[] = [
  ...(['ack', 'telemetry', 'status'] as const).map((leaf) => ({ acltype: 'publishClientSend', topic: `${TOPIC_ROOT}/%u/${leaf}`, allow: true })),
  { acltype: 'subscribeLiteral', topic: `${TOPIC_ROOT}/%u/schedule`, allow: true },
  { acltype: 'publishClientReceive', topic: `${TOPIC_ROOT}/%u/schedule`, allow: true },
  { acltype: 'unsubscribeLiteral', topic: `${TOPIC_ROOT}/%u/schedule`, allow: true },
];
const GATEWAY_ACLS: Acl[] = [
  { acltype: 'publishClientSend', topic: `${TOPIC_ROOT}/+/schedule`, allow: true },
  ...(['ack', 'telemetry', 'status'] as const).flatMap((leaf) => [
    { acltype: 'subscribePattern', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
    { acltype: 'unsubscribePattern', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
    { acltype: 'publishClientReceive', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
  ]),
];

interface DynsecResponse { command: string; error?: string; data?: unknown; correlationData?: string }

export class DynsecError extends Error {
  readonly command: string;
  readonly reason: string;
  constructor(command: string, reason: string) { super(`dynamic-security ${command}: ${reason}`); this.command = command; this.reason = reason; }
}

/**
 * GridPulse's client of Mosquitto's dynamic-security control API (`$CONTROL/dynamic-security/v1`, JSON
 * commands answered on `…/response`), connected with the dynsec admin account (MQTT_ADMIN_USERNAME /
 * MQTT_ADMIN_PASSWORD, made by `mosquitto_ctrl dynsec init`). Implements fleet-core's BrokerAdmin:
 * `provisionDevice` creates the device's client (username and client id = the device id, its password, role
 * gridpulse-device; an existing one gets the new password), `revokeDevice` deletes it (Mosquitto disconnects
 * it). `setup()` creates the roles and the gateway's account once per broker (idempotent). Commands time out
 * after 10 s with an error naming the command.
 */
export class DynsecAdmin {
  private readonly pending = new Map<string, { resolve: (r: DynsecResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private readonly client: MqttClient;
  private readonly log: Logger;

  private constructor(client: MqttClient, log: Logger) {
    this.client = client;
    this.log = log;
    client.on('message', (topic, payload) => {
      if (topic !== `${CONTROL}/response`) return;
      let body: { responses?: DynsecResponse[] };
      try { body = JSON.parse(payload.toString('utf8')) as typeof body; } catch { return; }
      for (const r of body.responses ?? []) {
        const waiter = r.correlationData ? this.pending.get(r.correlationData) : undefined;
        if (!waiter) continue;
        this.pending.delete(r.correlationData!);
        clearTimeout(waiter.timer);
        waiter.resolve(r);
      }
    });
  }

  static async connect(url: string, admin: MqttCredentials, logger: Logger): Promise<DynsecAdmin> {
    const { client } = await connectMqtt(url, { username: admin.username, password: admin.password, clientId: `gridpulse-dynsec-${randomUUID()}`, clean: true });
    await client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
    return new DynsecAdmin(client, logger.child({ component: 'dynsec' }));
  }

  /** Sends commands in one control message; resolves with each response in order (errors included, not thrown). */
  async run(commands: Array<Record<string, unknown>>): Promise<DynsecResponse[]> {
    const tagged = commands.map((c) => ({ ...c, command: String(c.command), correlationData: randomUUID() }));
    const answers = tagged.map((c) => new Promise<DynsecResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(c.correlationData);
        reject(new DynsecError(String(c.command), 'no response within 10 s'));
      }, 10_000);
      this.pending.set(c.correlationData, { resolve, reject, timer });
    }));
    await this.client.publishAsync(CONTROL, JSON.stringify({ commands: tagged }), { qos: 1 });
    return Promise.all(answers);
  }

  private async must(command: Record<string, unknown>, tolerate: RegExp | null = null): Promise<DynsecResponse> {
    const [r] = await this.run([command]);
    if (r!.error && !(tolerate && tolerate.test(r!.error))) throw new DynsecError(String(command.command), r!.error);
    return r!;
  }

  /**
   * Creates (or brings up to date) the device and gateway roles, denies by default, and gives the gateway its
   * account: `gateway` credentials get a client of their own with the gateway role; without them the admin
   * account itself takes the gateway role (a small install).
   */
  async setup(admin: MqttCredentials, gateway?: MqttCredentials): Promise<void> {
    for (const [rolename, acls] of [[DEVICE_ROLE, DEVICE_ACLS], [GATEWAY_ROLE, GATEWAY_ACLS]] as const) {
      const created = await this.must({ command: 'createRole', rolename, acls }, /already exists/i);
      if (created.error) {
        // an existing role: make its ACLs these (adding one already there is an error we ignore)
        for (const acl of acls) await this.must({ command: 'addRoleACL', rolename, ...acl }, /already exists/i);
      }
    }
    for (const acltype of ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe']) {
      await this.must({ command: 'setDefaultACLAccess', acls: [{ acltype, allow: false }] });
    }
    if (gateway && gateway.username !== admin.username) {
      const created = await this.must({ command: 'createClient', username: gateway.username, password: gateway.password, roles: [{ rolename: GATEWAY_ROLE }] }, /already exists/i);
      if (created.error) {
        await this.must({ command: 'setClientPassword', username: gateway.username, password: gateway.password });
        await this.must({ command: 'addClientRole', username: gateway.username, rolename: GATEWAY_ROLE }, /already/i);
      }
    } else {
      await this.must({ command: 'addClientRole', username: admin.username, rolename: GATEWAY_ROLE }, /already/i);
    }
    this.log.info({ roles: [DEVICE_ROLE, GATEWAY_ROLE] }, 'dynamic-security roles ready');
  }

  /** BrokerAdmin: the device's broker account (username and client id = deviceId); a second call sets the new password. */
  async provisionDevice(deviceId: string, password: string): Promise<void> {
    await this.provisionDevices([{ deviceId, password }]);
  }

  /** Many devices, 100 commands per control message (the simulator and benchmarks provision thousands). */
  async provisionDevices(devices: Array<{ deviceId: string; password: string }>): Promise<void> {
    for (const d of devices) if (!DEVICE_ID.test(d.deviceId)) throw new RangeError(`not a device id: ${JSON.stringify(d.deviceId)}`);
    for (let i = 0; i < devices.length; i += 100) {
      const batch = devices.slice(i, i + 100);
      const answers = await this.run(batch.map((d) => ({ command: 'createClient', username: d.deviceId, clientid: d.deviceId, password: d.password, roles: [{ rolename: DEVICE_ROLE }] })));
      const existing = batch.filter((_, j) => answers[j]!.error);
      for (const [j, a] of answers.entries()) if (a.error && !/already exists/i.test(a.error)) throw new DynsecError('createClient', `${batch[j]!.deviceId}: ${a.error}`);
      if (existing.length) {
        const again = await this.run(existing.map((d) => ({ command: 'setClientPassword', username: d.deviceId, password: d.password })));
        for (const [j, a] of again.entries()) if (a.error) throw new DynsecError('setClientPassword', `${existing[j]!.deviceId}: ${a.error}`);
      }
    }
    this.log.info({ devices: devices.length }, 'device broker accounts provisioned');
  }

  /** BrokerAdmin: deletes the device's broker account (Mosquitto disconnects it); absent already is fine. */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.must({ command: 'deleteClient', username: deviceId }, /not found/i);
    this.log.info({ deviceId }, 'device broker account revoked');
  }

  async close(): Promise<void> {
    for (const [, w] of this.pending) { clearTimeout(w.timer); w.reject(new Error('dynsec admin closed')); }
    this.pending.clear();
    await this.client.endAsync();
  }
}
