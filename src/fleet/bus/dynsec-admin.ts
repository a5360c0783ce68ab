import { createHmac, randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DEVICE_ID, TOPIC_ROOT } from '../messages.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { connectMqtt } from './mqtt-connect.ts';
import type { MqttCredentials } from './embedded-broker.ts';

const CONTROL = '$CONTROL/dynamic-security/v1';
/** A device's own role: `gridpulse-device-<id>`. */
export const deviceRole = (deviceId: string) => `gridpulse-device-${deviceId}`;
/** The gateway's role: shared subscriptions to acks, telemetry and status; publishing schedules. */
export const GATEWAY_ROLE = 'gridpulse-gateway';

type Acl = { acltype: string; topic: string; allow: boolean; priority?: number };

/**
 * The rules of topic-rules.ts as Mosquitto dynamic-security ACLs. Mosquitto 2.0's dynsec does not substitute
 * `%u` in ACL topics (measured: a shared role with `…/%u/ack` refuses the device's own publish), so each device
 * has a role of its own naming its literal topics. The default access is deny for everything (dynsec's default
 * lets any client receive whatever it subscribed to).
 */
const deviceAcls = (id: string): Acl[] => [
  ...(['ack', 'telemetry', 'status'] as const).map((leaf) => ({ acltype: 'publishClientSend', topic: `${TOPIC_ROOT}/${id}/${leaf}`, allow: true })),
  { acltype: 'subscribeLiteral', topic: `${TOPIC_ROOT}/${id}/schedule`, allow: true },
  { acltype: 'publishClientReceive', topic: `${TOPIC_ROOT}/${id}/schedule`, allow: true },
  { acltype: 'unsubscribeLiteral', topic: `${TOPIC_ROOT}/${id}/schedule`, allow: true },
];
const GATEWAY_ACLS: Acl[] = [
  { acltype: 'publishClientSend', topic: `${TOPIC_ROOT}/+/schedule`, allow: true },
  ...(['ack', 'telemetry', 'status'] as const).flatMap((leaf) => [
    { acltype: 'subscribePattern', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
    // Mosquitto 2.0 checks a shared subscription with its `$share/<group>/` prefix
    { acltype: 'subscribePattern', topic: `$share/+/${TOPIC_ROOT}/+/${leaf}`, allow: true },
    { acltype: 'unsubscribePattern', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
    { acltype: 'unsubscribePattern', topic: `$share/+/${TOPIC_ROOT}/+/${leaf}`, allow: true },
    { acltype: 'publishClientReceive', topic: `${TOPIC_ROOT}/+/${leaf}`, allow: true },
  ]),
];

interface DynsecResponse { command: string; error?: string; data?: unknown; correlationData?: string }

/** The role names of a `getClient` answer (none when the client is absent). */
const clientRoles = (info: DynsecResponse | undefined): string[] =>
  ((info?.data as { client?: { roles?: Array<{ rolename: string }> } } | undefined)?.client?.roles ?? []).map((r) => r.rolename);

export class DynsecError extends Error {
  readonly command: string;
  readonly reason: string;
  constructor(command: string, reason: string) { super(`dynamic-security ${command}: ${reason}`); this.command = command; this.reason = reason; }
}

/**
 * GridPulse's client of Mosquitto's dynamic-security control API (`$CONTROL/dynamic-security/v1`, JSON
 * commands answered on `…/response`), connected with the dynsec admin account (MQTT_ADMIN_USERNAME /
 * MQTT_ADMIN_PASSWORD, made by `mosquitto_ctrl dynsec init`). Implements fleet-core's BrokerAdmin:
 * `provisionDevice` creates the device's role (its own topics) and client (username and client id = the device
 * id, its password; an existing one gets the new password), `revokeDevice` deletes it (Mosquitto disconnects
 * it). `setup()` creates the gateway role and account once per broker (idempotent). Commands time out
 * (10 s plus 200 ms a command of the message) with an error naming the command.
 */
export class DynsecAdmin {
  private readonly pending = new Map<string, { resolve: (r: DynsecResponse) => void; reject: (e: Error) => void }>();

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
        waiter.resolve(r);
      }
    });
  }

  static async connect(url: string, admin: MqttCredentials, logger: Logger): Promise<DynsecAdmin> {
    const { client } = await connectMqtt(url, { username: admin.username, password: admin.password, clientId: `gridpulse-dynsec-${randomUUID()}`, clean: true });
    await client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
    return new DynsecAdmin(client, logger.child({ component: 'dynsec' }));
  }

  /**
   * Sends commands in one control message; resolves with each response in order (errors included, not thrown).
   * Mosquitto saves its whole dynamic-security file after every change, so a message of many commands on a
   * broker with many accounts takes a while: the wait is 10 s plus 200 ms a command.
   */
  async run(commands: Array<Record<string, unknown>>): Promise<DynsecResponse[]> {
    const tagged = commands.map((c) => ({ ...c, command: String(c.command), correlationData: randomUUID() }));
    const answers = tagged.map((c) => new Promise<DynsecResponse>((resolve, reject) => {
      this.pending.set(c.correlationData, { resolve, reject });
    }));
    const timer = setTimeout(() => {
      for (const c of tagged) {
        const waiter = this.pending.get(c.correlationData);
        this.pending.delete(c.correlationData);
        waiter?.reject(new DynsecError(c.command, `no response within ${10 + 0.2 * tagged.length} s`));
      }
    }, 10_000 + 200 * tagged.length);
    try {
      await this.client.publishAsync(CONTROL, JSON.stringify({ commands: tagged }), { qos: 1 });
      const settled = await Promise.allSettled(answers);
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((r) => (r as PromiseFulfilledResult<DynsecResponse>).value);
    } finally {
      clearTimeout(timer);
      for (const c of tagged) this.pending.delete(c.correlationData);
    }
  }

  private async must(command: Record<string, unknown>, tolerate: RegExp | null = null): Promise<DynsecResponse> {
    const [r] = await this.run([command]);
    if (r!.error && !(tolerate && tolerate.test(r!.error))) throw new DynsecError(String(command.command), r!.error);
    return r!;
  }

  /**
   * Creates (or brings up to date) the device and gateway roles, denies by default, and gives the gateway its
   * own account (dynsec disconnects a client whose roles change, so the admin account never takes the gateway
   * role itself). Idempotent and quiet: every GridPulse process may call it at start while others run; it changes
   * nothing that makes Mosquitto disconnect a running client (an existing account keeps its password; its role is
   * added only when missing). Returns the gateway's credentials:
   * `gateway` when given, else `gridpulse-gateway` with a password derived from the admin's (HMAC-SHA-256),
   * so every process holding the admin credentials derives the same one.
   */
  async setup(admin: MqttCredentials, gateway?: MqttCredentials): Promise<MqttCredentials> {
    const role = await this.must({ command: 'createRole', rolename: GATEWAY_ROLE, acls: GATEWAY_ACLS }, /already exists/i);
    if (role.error) {
      // an existing role: make its ACLs these (adding one already there is an error we ignore)
      for (const acl of GATEWAY_ACLS) await this.must({ command: 'addRoleACL', rolename: GATEWAY_ROLE, ...acl }, /already exists/i);
    }
    for (const acltype of ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe']) {
      await this.must({ command: 'setDefaultACLAccess', acls: [{ acltype, allow: false }] });
    }
    const account = gateway ?? { username: 'gridpulse-gateway', password: createHmac('sha256', admin.password).update('gridpulse-gateway').digest('base64url') };
    if (account.username === admin.username) throw new Error('the gateway needs an MQTT account of its own (MQTT_GATEWAY_USERNAME differs from MQTT_ADMIN_USERNAME)');
    // created only when missing: an existing account keeps its password, because setting one makes Mosquitto
    // disconnect every client of the account (every running gateway copy and publisher); a copy whose connect is
    // then refused sets it (setGatewayPassword, device-bus.ts)
    const created = await this.must({ command: 'createClient', username: account.username, password: account.password, roles: [{ rolename: GATEWAY_ROLE }] }, /already exists/i);
    if (created.error) {
      const [info] = await this.run([{ command: 'getClient', username: account.username }]);
      if (!clientRoles(info).includes(GATEWAY_ROLE)) await this.must({ command: 'addClientRole', username: account.username, rolename: GATEWAY_ROLE });
    }
    this.log.info({ role: GATEWAY_ROLE, gateway: account.username }, 'dynamic-security gateway role ready');
    return account;
  }

  /**
   * Sets the gateway account's password (a credential rotation: MQTT_GATEWAY_PASSWORD or the admin password changed).
   * Mosquitto disconnects the account's connected clients, so it is called only when a connect with `account` was
   * refused as not authorized (device-bus.ts), never at every start.
   */
  async setGatewayPassword(account: MqttCredentials): Promise<void> {
    await this.must({ command: 'setClientPassword', username: account.username, password: account.password });
  }

  /**
   * BrokerAdmin: the device's broker account (username and client id = deviceId); a second call sets the new password.
   * An existing broker account that is not this device's (it lacks the device's role: the admin's, the gateway's, any
   * other client the broker keeps) is never changed: 409 `id` (a device must not take over another account's password).
   */
  async provisionDevice(deviceId: string, password: string): Promise<void> {
    await this.provisionDevices([{ deviceId, password }]);
  }

  /** Many devices, 100 commands per control message (the simulator and benchmarks provision thousands). */
  async provisionDevices(devices: Array<{ deviceId: string; password: string }>): Promise<void> {
    for (const d of devices) if (!DEVICE_ID.test(d.deviceId)) throw new RangeError(`not a device id: ${JSON.stringify(d.deviceId)}`);
    for (let i = 0; i < devices.length; i += 100) {
      const batch = devices.slice(i, i + 100);
      const answers = await this.run(batch.flatMap((d) => [
        { command: 'createRole', rolename: deviceRole(d.deviceId), acls: deviceAcls(d.deviceId) },
        { command: 'createClient', username: d.deviceId, clientid: d.deviceId, password: d.password, roles: [{ rolename: deviceRole(d.deviceId) }] },
      ]));
      for (const a of answers) if (a.error && !/already exists/i.test(a.error)) throw new DynsecError(a.command, a.error);
      const existing = batch.filter((_, j) => answers[2 * j + 1]!.error);
      if (existing.length) {
        const infos = await this.run(existing.map((d) => ({ command: 'getClient', username: d.deviceId })));
        const foreign = existing.filter((d, j) => !clientRoles(infos[j]).includes(deviceRole(d.deviceId)));
        if (foreign.length) {
          // the device roles this call created for them go again (a role whose device exists is left alone)
          const created = foreign.filter((d) => !answers[2 * batch.indexOf(d)]!.error);
          if (created.length) await this.run(created.map((d) => ({ command: 'deleteRole', rolename: deviceRole(d.deviceId) })));
          const ids = foreign.map((d) => d.deviceId).join(', ');
          this.log.warn({ ids }, 'device provisioning refused: the id is another broker account');
          throw new HttpProblem(409, `id: ${ids} is the username of a broker account that is not a GridPulse device (the admin's, the gateway's or another client's); choose another id`, 'id');
        }
        const again = await this.run(existing.map((d) => ({ command: 'setClientPassword', username: d.deviceId, password: d.password })));
        for (const [j, a] of again.entries()) if (a.error) throw new DynsecError('setClientPassword', `${existing[j]!.deviceId}: ${a.error}`);
      }
    }
    this.log.info({ devices: devices.length }, 'device broker accounts provisioned');
  }

  /**
   * Of these device ids, those without a device account on the broker (no client of that username holding the
   * device's role): what `gridpulse devices sync-broker` provisions after a switch from the embedded broker.
   * 100 commands per control message.
   */
  async devicesWithoutAccount(deviceIds: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (let i = 0; i < deviceIds.length; i += 100) {
      const batch = deviceIds.slice(i, i + 100);
      const infos = await this.run(batch.map((username) => ({ command: 'getClient', username })));
      for (const [j, info] of infos.entries()) {
        if (info.error && !/not found/i.test(info.error)) throw new DynsecError('getClient', `${batch[j]}: ${info.error}`);
        if (!clientRoles(info).includes(deviceRole(batch[j]!))) missing.push(batch[j]!);
      }
    }
    return missing;
  }

  /** BrokerAdmin: deletes the device's broker account (Mosquitto disconnects it); absent already is fine. */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.must({ command: 'deleteClient', username: deviceId }, /not found/i);
    await this.must({ command: 'deleteRole', rolename: deviceRole(deviceId) }, /not found/i);
    this.log.info({ deviceId }, 'device broker account revoked');
  }

  /** Many revocations, 100 commands per control message. */
  async revokeDevices(deviceIds: readonly string[]): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += 100) {
      const batch = deviceIds.slice(i, i + 100);
      const answers = await this.run(batch.flatMap((username) => [{ command: 'deleteClient', username }, { command: 'deleteRole', rolename: deviceRole(username) }]));
      for (const a of answers) if (a.error && !/not found/i.test(a.error)) throw new DynsecError(a.command, a.error);
    }
    this.log.info({ devices: deviceIds.length }, 'device broker accounts revoked');
  }

  async close(): Promise<void> {
    for (const [, w] of this.pending) w.reject(new Error('dynsec admin closed'));
    this.pending.clear();
    await this.client.endAsync();
  }
}
