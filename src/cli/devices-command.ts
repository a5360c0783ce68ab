import { deviceInput, createDevice } from '../fleet/device-repository.ts';
import type { BrokerAdmin } from '../fleet/contract.ts';
import { audit, systemActor } from '../auth/audit.ts';
import { HttpProblem } from '../platform/problem.ts';
import { withDb } from './keys-command.ts';

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
    io.out(`id            ${credentials.id}\nmqttUsername  ${credentials.mqttUsername}\nmqttPassword  ${credentials.mqttPassword}\napiKey        ${credentials.apiKey}\n`);
  }
  return 0;
}
