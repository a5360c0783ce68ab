import type { Db } from '../../platform/db.ts';
import type { FleetBus } from '../contract.ts';
import { listDevices, type Device } from '../device-repository.ts';
import { loopSettings, publishVersions } from '../distribution.ts';
import { issueVersions, type Refusal } from '../schedule-versions.ts';
import type { PowerSample } from './delivery.ts';
import type { DeviceState } from './flexibility.ts';
import { countIssued } from '../fleet-metrics.ts';
import type { ScheduleSink } from './market-run.ts';

/**
 * The markets' view of the fleet (branch fleet-core's devices and schedule versions, fleet-bus's telemetry):
 * device states for flexibility, awarded energy as schedule versions, and telemetry samples for delivery.
 */

/** A fleet device as market flexibility sees it: limits and reserve from its row, SoC and its age from its last telemetry; offline or never reported: offers nothing. */
export function toDeviceState(d: Device, nowMs = Date.now()): DeviceState {
  const at = d.reported.at === null ? null : Date.parse(d.reported.at);
  return {
    id: d.id, capacityKwh: d.capacityKwh, maxChargeKw: d.maxChargeKw, maxDischargeKw: d.maxDischargeKw,
    soc: (d.reported.socPct ?? 0) / 100, reserveSoc: Math.max(d.reserveSocPct, d.minSocPct) / 100, maxSoc: d.maxSocPct / 100,
    chargeEfficiency: d.chargeEfficiency, dischargeEfficiency: d.dischargeEfficiency,
    online: d.status === 'online' && d.reported.socPct !== null, socAgeMinutes: at === null ? 0 : Math.max(0, (nowMs - at) / 60_000),
  };
}

/** Every active device of the fleet as DeviceState (pages of 1,000). */
export async function fleetDeviceStates(db: Db, nowMs = Date.now()): Promise<DeviceState[]> {
  const out: DeviceState[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await listDevices(db, { limit: 1000, ...(after ? { after } : {}) }, nowMs);
    out.push(...page.map((d) => toDeviceState(d, nowMs)));
    if (page.length < 1000) return out;
    after = page.at(-1)!.id;
  }
}

/**
 * Awarded energy as each device's next schedule version (fleet-core's issueVersions: validated against the
 * device's limits and SoC, superseding lower-priority versions), published on the bus when one is given
 * (otherwise the fleet's loop re-publishes it). Refused devices (infeasible, a higher-priority schedule running)
 * are collected in `refused`: their share is not delivered, which settlement measures.
 */
export function fleetScheduleSink(db: Db, opts: { priority: number; bus?: FleetBus; republishMs?: number }): ScheduleSink & { refused: Refusal[] } {
  const s = loopSettings();
  const refused: Refusal[] = [];
  return {
    refused,
    async submit(deviceId, intervals) {
      const r = await db.transaction((tx) => issueVersions(tx, { deviceIds: [deviceId], intervals, priority: opts.priority, republishMs: opts.republishMs ?? s.republishMs }));
      refused.push(...r.refused);
      countIssued(db, 'market', r.messages.length);
      if (opts.bus && r.messages.length) await publishVersions(db, opts.bus, r.messages, s);
    },
  };
}

/**
 * The devices' telemetry (fleet-bus's device_telemetry) between two instants as power samples for delivery.ts (metered
 * performance, settlement, the OpenADR event reports): implausible readings (telemetry-check.ts) are no measurement, left out.
 */
export async function telemetrySamples(db: Db, from: Date, to: Date, deviceIds?: readonly string[]): Promise<PowerSample[]> {
  const rows = deviceIds
    ? await db.query<{ device_id: string; at: Date | string; power_kw: number }>('SELECT device_id, at, power_kw FROM device_telemetry WHERE at >= $1 AND at < $2 AND implausible IS NULL AND device_id = ANY($3::text[]) ORDER BY device_id, at, seq', [from, to, deviceIds])
    : await db.query<{ device_id: string; at: Date | string; power_kw: number }>('SELECT device_id, at, power_kw FROM device_telemetry WHERE at >= $1 AND at < $2 AND implausible IS NULL ORDER BY device_id, at, seq', [from, to]);
  return rows.map((r) => ({ deviceId: r.device_id, at: new Date(r.at).toISOString(), powerKw: Number(r.power_kw) }));
}
