import { deviceInput, createDevice, activeDeviceIds, rotateDeviceCredentials, type RotatedCredentials } from '../fleet/device-repository.ts';
import type { BrokerAdmin } from '../fleet/contract.ts';
import { audit, systemActor } from '../auth/audit.ts';
import { HttpProblem } from '../platform/problem.ts';
import { withDb } from './keys-command.ts';
import type { Db } from '../platform/db.ts';

export interface DevicesCreateOptions {
  name?: string; id?: string; capacityKwh?: string; powerKw?: string; chargeKw?: string; dischargeKw?: string;
  reserveSoc?: string; ba?: string; tariff?: string; fallback?: string; json?: boolean;
}

/** The CLI option of each field of deviceInput, so a refusal names what the operator typed. */
const OPTION_OF: Record<string, string> = {
  name: '--name', id: '--id', capacityKwh: '--capacity-kwh', maxChargeKw: '--power-kw (or --charge-kw)', maxDischargeKw: '--power-kw (or --discharge-kw)',
  reserveSocPct: '--reserve-soc', baCode: '--ba', tariff: '--tariff', fallback: '--fallback',
};

const number = (v: string | undefined, option: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`${option}: a number, got '${v}'`);
  return n;
};

/**
 * `gridpulse devices create --name … [--id …] [--capacity-kwh N] [--power-kw N] [--ba CODE] [--json]`: provisions a
 * battery device and prints its credentials once — with --json as `{id, mqttUsername, mqttPassword, apiKey}` on stdout.
 * Only hashes are kept. `brokerAdmin` (fleet-bus: Mosquitto dynsec from MQTT_ADMIN_URL) also creates its broker account.
 */
export async function devicesCreate(opts: DevicesCreateOptions, brokerAdmin?: () => Promise<BrokerAdmin | undefined>,
  io: { out(text: string): void; err(text: string): void } = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  const power = number(opts.powerKw, '--power-kw');
  const parsed = deviceInput.safeParse({
    name: opts.name, id: opts.id, capacityKwh: number(opts.capacityKwh, '--capacity-kwh'),
    maxChargeKw: number(opts.chargeKw, '--charge-kw') ?? power, maxDischargeKw: number(opts.dischargeKw, '--discharge-kw') ?? power,
    reserveSocPct: number(opts.reserveSoc, '--reserve-soc'), baCode: opts.ba, tariff: opts.tariff, fallback: opts.fallback,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'name');
    throw new Error(`${OPTION_OF[field] ?? field}: ${issue.message}`);
  }
  const admin = await brokerAdmin?.();
  const { device, credentials } = await withDb((db) => db.transaction(async (tx) => {
    try {
      const out = await createDevice(tx, parsed.data, admin);
      await audit(tx, { ...systemActor(), action: 'fleet.devices.create', outcome: 'success', objectType: 'device', objectId: out.device.id, detail: { capacityKwh: out.device.capacityKwh } });
      return out;
    } catch (err) {
      if (err instanceof HttpProblem && err.field) throw new Error(`${OPTION_OF[err.field] ?? err.field}: ${err.message.replace(/^\w+: /, '')}`, { cause: err });
      throw err;
    }
  }));
  if (opts.json) {
    io.out(`${JSON.stringify(credentials)}\n`);
  } else {
    io.err(`created device ${device.id} (${device.capacityKwh} kWh, ${device.maxChargeKw}/${device.maxDischargeKw} kW charge/discharge${device.baCode ? `, ${device.baCode}` : ''}). Store the credentials now: they are not shown again.\n`);
    io.out(credentialLines(credentials));
  }
  return 0;
}

type Io = { out(text: string): void; err(text: string): void };
const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** The plain output of `devices create`, `rotate` and `sync-broker`: a device's credentials, the secrets present. */
const credentialLines = (c: RotatedCredentials) => `id            ${c.id}\nmqttUsername  ${c.mqttUsername}\n${c.mqttPassword ? `mqttPassword  ${c.mqttPassword}\n` : ''}${c.apiKey ? `apiKey        ${c.apiKey}\n` : ''}`;

/** One device's rotation in its own transaction with its audit record; an HttpProblem (404/409) becomes one line. */
async function rotateOne(db: Db, id: string, what: { mqttPassword: boolean; apiKey: boolean }, admin: BrokerAdmin | undefined): Promise<RotatedCredentials> {
  return db.transaction(async (tx) => {
    try {
      const out = await rotateDeviceCredentials(tx, id, what, admin);
      await audit(tx, { ...systemActor(), action: 'fleet.devices.rotate', outcome: 'success', objectType: 'device', objectId: id, detail: what });
      return out;
    } catch (err) {
      if (err instanceof HttpProblem) throw new Error(err.message.replace(/^id: /, ''), { cause: err });
      throw err;
    }
  });
}

export interface DevicesRotateOptions { json?: boolean; mqttOnly?: boolean; apiKeyOnly?: boolean }

/**
 * `gridpulse devices rotate <id> [--mqtt-only | --api-key-only] [--json]`: new credentials for a device (both by default),
 * printed once as `devices create` prints them (--json: `{id, mqttUsername, mqttPassword, apiKey}`, a secret not rotated
 * left out). The old ones stop working; with the dynsec admin configured the Mosquitto account is created or updated.
 */
export async function devicesRotate(id: string, opts: DevicesRotateOptions, brokerAdmin?: () => Promise<BrokerAdmin | undefined>, io: Io = stdio): Promise<number> {
  if (opts.mqttOnly && opts.apiKeyOnly) throw new Error('--mqtt-only and --api-key-only: give at most one');
  const what = { mqttPassword: !opts.apiKeyOnly, apiKey: !opts.mqttOnly };
  const admin = what.mqttPassword ? await brokerAdmin?.() : undefined;
  const credentials = await withDb((db) => rotateOne(db, id, what, admin));
  if (opts.json) io.out(`${JSON.stringify(credentials)}\n`);
  else {
    io.err(`rotated the credentials of device ${id}: the old ${[what.mqttPassword && 'MQTT password', what.apiKey && 'API key'].filter(Boolean).join(' and ')} no longer work. Store these now: they are not shown again.\n`);
    io.out(credentialLines(credentials));
  }
  return 0;
}

export interface DevicesSyncBrokerOptions { json?: boolean; dryRun?: boolean }

/**
 * `gridpulse devices sync-broker [--dry-run] [--json]`: after switching from the embedded broker to Mosquitto, creates a
 * broker account for every active device that has none there. Only hashes of MQTT passwords are kept, so an account
 * cannot be created with the device's current password: each such device gets a NEW MQTT password (its HTTP key is
 * kept, so the HTTP fallback goes on working), printed once — with --json as one JSON line per device — and must be
 * given to the device (its agent configuration) before it can connect to Mosquitto. --dry-run lists them and changes
 * nothing. Each device is committed on its own: what was printed is what was stored, also when a later one fails.
 */
export async function devicesSyncBroker(opts: DevicesSyncBrokerOptions, brokerAdmin: () => Promise<(BrokerAdmin & { devicesWithoutAccount(ids: readonly string[]): Promise<string[]> }) | undefined>,
  io: Io = stdio, database: <T>(fn: (db: Db) => Promise<T>) => Promise<T> = withDb): Promise<number> {
  const admin = await brokerAdmin();
  if (!admin) throw new Error('sync-broker needs the Mosquitto broker and its dynamic-security admin: set MQTT_URL, MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD');
  return database(async (db) => {
    const missing = await admin.devicesWithoutAccount(await activeDeviceIds(db));
    if (opts.dryRun) {
      for (const id of missing) io.out(opts.json ? `${JSON.stringify({ id })}\n` : `${id}\n`);
      io.err(`${missing.length} active device(s) without a broker account; nothing changed (--dry-run)\n`);
      return 0;
    }
    let done = 0;
    for (const id of missing) {
      const c = await rotateOne(db, id, { mqttPassword: true, apiKey: false }, admin);
      io.out(opts.json ? `${JSON.stringify(c)}\n` : `${credentialLines(c)}\n`);
      done++;
    }
    io.err(`${done} device(s) got a broker account and a new MQTT password: give each device its new password (they are not shown again); their HTTP keys are unchanged\n`);
    return 0;
  });
}
