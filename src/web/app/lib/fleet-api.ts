/** Shapes of the fleet API answers the fleet pages read (see the OpenAPI document for units: kW, kWh, SoC %). */
export type { OfflineDevice, FleetHistoryPoint, DevicePoint } from '../../../fleet/overview/fleet-overview.ts';
import type { z } from 'zod';
import type { deviceDetailOut, deviceOut, fleetSummaryOut, rolloutOut, submittedOut, versionOut } from '../../../fleet/fleet-schemas.ts';

/** GET /api/v1/devices (fleet-core). */
export type Device = z.output<typeof deviceOut>;
/** One schedule version with its delivery state and each ledger step's time. */
export type Version = z.output<typeof versionOut>;
/** GET /api/v1/devices/{id}: the device, desired versus reported (shadow) and its delivery history. */
export type DeviceDetail = z.output<typeof deviceDetailOut>;
/** GET /api/v1/rollouts. */
export type Rollout = z.output<typeof rolloutOut>;
/** GET /api/v1/fleet/summary. */
export type FleetSummary = z.output<typeof fleetSummaryOut>;
/** POST /api/v1/schedules' answer. */
export type Submitted = z.output<typeof submittedOut>;

/**
 * The one count rule of the fleet pages (and GET /api/v1/fleet/summary: `WHERE revoked_at IS NULL`): a device is in
 * the fleet from its provisioning until it is revoked.
 */
export const inFleet = (d: Pick<Device, 'revokedAt'>) => d.revokedAt === null;
/** What the counts say they count, beside every count. */
export const FLEET_COUNT_RULE = 'provisioned, not revoked';

/** Who may open the fleet pages and use their forms. */
export const FLEET_PAGE_ROLES = ['operator', 'admin'] as const;

/** "87.5 %", or a dash for no value. */
export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? '—' : `${v.toFixed(digits)} %`);
/** "+3.20 kW" (charging) / "−1.50 kW" (discharging), or a dash. */
export const kw = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v).toFixed(2)} kW`);
