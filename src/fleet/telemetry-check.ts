import type { Db } from '../platform/db.ts';
import { metricsOf, once } from '../platform/metrics.ts';
import type { TelemetryMessage } from './messages.ts';

/**
 * Plausibility of telemetry readings (gridpulse.telemetry/1), the one rule of every ingest path (the MQTT gateway and
 * the HTTP fallback both reach ledger.ts applyTelemetryLatest, which applies it). A reading passing the schema can
 * still be impossible for the device that sent it:
 * - `power`: |powerKw| over the device's limit in that direction (maxChargeKw when charging, +; maxDischargeKw when
 *   discharging, −) × POWER_TOLERANCE + POWER_SLACK_KW — inverters overshoot their rating briefly and meters have an
 *   offset, so 10 % and 0.1 kW of slack, no more;
 * - `schedule_version`: a scheduleVersion above the latest version issued to the device (its desired_version): a device
 *   cannot execute a version it was never sent;
 * SoC is NOT a rule: a reading outside the device's min/max SoC (the operating window GridPulse schedules in) is the
 * battery's real state as far as anyone knows (drained below its reserve by an outage, self-discharge, a window raised
 * since), and it is exactly what the schedule checks must see; ignoring it would let them plan from an older, higher
 * SoC. The schema already bounds it to 0–100 %.
 *
 * What happens to an implausible reading (the honest choice, not a silent drop): it is KEPT in the telemetry series
 * as sent (device_telemetry: the raw record of what the device said) with the rule it breaks in its `implausible`
 * column (migration 0046; NULL = plausible), decided once, before or in the transaction that stores it (the gateway's
 * storeBatch; the HTTP fallback's route, which hands the verdicts to its telemetrySink), never recomputed by a reader.
 * It does not become the device's reported state — SoC, power, executing version, mode — which schedule checks and
 * the optimizer take as fact, and no reader that takes power or SoC as fact uses it: fleet history and the device's
 * series (overview/fleet-overview.ts), metered performance for settlement and the delivery checks
 * (markets/fleet-adapters.ts telemetrySamples) all read `implausible IS NULL`. It is counted in
 * `gridpulse_fleet_telemetry_implausible_total{rule}` and logged (sampled, by device), and the HTTP answer says how many.
 */

export const IMPLAUSIBLE_RULES = ['power', 'schedule_version'] as const;
export type ImplausibleRule = (typeof IMPLAUSIBLE_RULES)[number];

export const POWER_TOLERANCE = 1.1;
export const POWER_SLACK_KW = 0.1;

/** What the check needs of a device. */
export interface TelemetryLimits { maxChargeKw: number; maxDischargeKw: number; issuedVersion: number }

/** The first rule `t` breaks for a device with `d`, with a detail for the log; null when plausible. */
export function implausibility(t: Pick<TelemetryMessage, 'powerKw' | 'scheduleVersion'>, d: TelemetryLimits): { rule: ImplausibleRule; detail: string } | null {
  const limit = t.powerKw >= 0 ? d.maxChargeKw : d.maxDischargeKw;
  const maxKw = limit * POWER_TOLERANCE + POWER_SLACK_KW;
  if (Math.abs(t.powerKw) > maxKw) return { rule: 'power', detail: `powerKw ${t.powerKw} beyond the device's ${t.powerKw >= 0 ? 'maxChargeKw' : 'maxDischargeKw'} ${limit} (at most ${Math.round(maxKw * 1000) / 1000} kW)` };
  if (t.scheduleVersion > d.issuedVersion) return { rule: 'schedule_version', detail: `scheduleVersion ${t.scheduleVersion} never issued (latest ${d.issuedVersion})` };
  return null;
}

export interface Implausible { deviceId: string; seq: number; at: string; rule: ImplausibleRule; detail: string }

/** A reading's identity as sent (device, seq, at): the key of a verdict. */
const readingKey = (t: Pick<TelemetryMessage, 'deviceId' | 'seq' | 'at'>) => `${t.deviceId}\u0000${t.seq}\u0000${t.at}`;

/** The rule each of `implausible` breaks, looked up by reading: what device_telemetry.implausible stores (null = plausible). */
export function verdicts(implausible: readonly Implausible[]): (t: Pick<TelemetryMessage, 'deviceId' | 'seq' | 'at'>) => ImplausibleRule | null {
  const rules = new Map(implausible.map((i) => [readingKey(i), i.rule]));
  return (t) => rules.get(readingKey(t)) ?? null;
}

/**
 * Splits readings by verdicts already decided (`judged`, from splitPlausible in the same transaction or before the
 * readings were stored): the same split as splitPlausible without deciding again. Only verdicts of `telemetry` return.
 */
export function splitJudged<T extends TelemetryMessage>(telemetry: readonly T[], judged: readonly Implausible[]): { plausible: T[]; implausible: Implausible[] } {
  const byKey = new Map(judged.map((i) => [readingKey(i), i]));
  const plausible: T[] = [];
  const implausible: Implausible[] = [];
  for (const t of telemetry) {
    const bad = byKey.get(readingKey(t));
    if (bad) implausible.push(bad);
    else plausible.push(t);
  }
  return { plausible, implausible };
}

/**
 * Splits readings into plausible ones and implausible ones, against the devices' stored limits and latest issued
 * version (read in the caller's transaction, which holds the device rows locked: ledger.ts lockDevices). Readings of
 * unknown devices count as plausible here (the ledger counts them unknown).
 */
export async function splitPlausible<T extends TelemetryMessage>(db: Db, telemetry: readonly T[]): Promise<{ plausible: T[]; implausible: Implausible[] }> {
  if (telemetry.length === 0) return { plausible: [], implausible: [] };
  const rows = await db.query<{ id: string; max_charge_kw: number; max_discharge_kw: number; desired_version: number }>(
    'SELECT id, max_charge_kw, max_discharge_kw, desired_version FROM devices WHERE id = ANY($1::text[])',
    [[...new Set(telemetry.map((t) => t.deviceId))]]);
  const limits = new Map(rows.map((r) => [r.id, {
    maxChargeKw: Number(r.max_charge_kw), maxDischargeKw: Number(r.max_discharge_kw),
    issuedVersion: Number(r.desired_version),
  }]));
  const plausible: T[] = [];
  const implausible: Implausible[] = [];
  for (const t of telemetry) {
    const d = limits.get(t.deviceId);
    const bad = d ? implausibility(t, d) : null;
    if (bad) implausible.push({ deviceId: t.deviceId, seq: t.seq, at: t.at, ...bad });
    else plausible.push(t);
  }
  return { plausible, implausible };
}

/** Counts implausible readings by rule in the registry attached to the root `db` (every rule starts at 0). */
export function countImplausible(db: Db, implausible: readonly Pick<Implausible, 'rule'>[]): void {
  const m = metricsOf(db);
  if (!m) return;
  const c = m.counter('gridpulse_fleet_telemetry_implausible_total', 'telemetry readings kept in the series, flagged with the rule they break (power, schedule_version): not applied to the device\'s reported state, left out of fleet history, device series, settlement and delivery checks', ['rule']);
  if (once(m, 'telemetry-implausible')) for (const rule of IMPLAUSIBLE_RULES) c.inc({ rule }, 0);
  for (const i of implausible) c.inc({ rule: i.rule });
}
