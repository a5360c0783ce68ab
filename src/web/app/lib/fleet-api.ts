/** Shapes of the fleet API answers the fleet pages read (see the OpenAPI document for units: kW, kWh, SoC %). */
export type { FleetOverview, FleetHistoryPoint, RolloutProgress, OfflineDevice, DeviceStatus } from '../../../fleet/overview/fleet-overview.ts';
export type { VersionHistory } from '../../../fleet/overview/device-timeline.ts';
export { deviceStatus, STALE_AFTER_MS } from '../../../fleet/overview/fleet-overview.ts';

/** Who may open the fleet pages and use their forms. */
export const FLEET_PAGE_ROLES = ['operator', 'admin'] as const;

/** "87.5 %", or a dash for no value. */
export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? '—' : `${v.toFixed(digits)} %`);
/** "+3.20 kW" (charging) / "−1.50 kW" (discharging), or a dash. */
export const kw = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v).toFixed(2)} kW`);

/** A device as GET /api/v1/devices lists it (fleet-core's routes; the fields the pages read). */
export interface DeviceRow {
  id: string; name: string; baCode: string | null; capacityKwh: number; maxChargeKw: number; maxDischargeKw: number;
  online: boolean; lastSeenAt: string | null; socPct: number | null; powerKw: number | null; agentVersion: string | null;
  desiredVersion: number; confirmedVersion: number; reportedVersion: number | null;
}
