/** Shapes of the fleet API answers the fleet pages read (see the OpenAPI document for units: kW, kWh, SoC %). */
export type { OfflineDevice, FleetHistoryPoint } from '../../../fleet/overview/fleet-overview.ts';
import type { ScheduleInterval } from '../../../fleet/messages.ts';

export type DeliveryState = 'queued' | 'sent' | 'acknowledged' | 'executing' | 'succeeded' | 'failed' | 'timed-out' | 'superseded';

/** GET /api/v1/devices (fleet-core). */
export interface Device {
  id: string; name: string; capacityKwh: number; maxChargeKw: number; maxDischargeKw: number; baCode: string | null; agentVersion: string | null;
  status: 'online' | 'offline'; lastSeenAt: string | null;
  reported: { socPct: number | null; powerKw: number | null; at: string | null; version: number | null; mode: string | null };
  desiredVersion: number; confirmedVersion: number;
}

/** One schedule version with its delivery state and each ledger step's time (fleet-core's versionOut). */
export interface Version {
  version: number; priority: number; intervals: ScheduleInterval[]; fallback: string; startsAt: string; endsAt: string; issuedAt: string; rolloutId: string | null;
  state: DeliveryState; stateAt: string; sentAt: string | null; acknowledgedAt: string | null; executingAt: string | null; finishedAt: string | null;
  publishCount: number; reason: string | null; supersededBy: number | null;
}

/** GET /api/v1/devices/{id} (fleet-core): the device, desired versus reported (shadow) and its delivery history. */
export interface DeviceDetail extends Device {
  groups: Array<{ id: string; name: string }>;
  shadow: { desired: Version | null; confirmedVersion: number; executed: { version: number | null; mode: string | null; at: string | null; lastSucceededVersion: number | null }; inSync: boolean };
  history: Version[];
}

/** GET /api/v1/rollouts (fleet-core). */
export interface Rollout {
  id: string; targetKind: 'device' | 'group' | 'fleet'; groupId: string | null; status: 'running' | 'completed' | 'aborted' | 'cancelled'; statusReason: string | null;
  abortFailurePct: number; total: number; pending: number; issued: number; skipped: number; states: Record<DeliveryState, number>;
  progressPct: number; createdAt: string; finishedAt: string | null;
}

/** GET /api/v1/fleet/summary (fleet-core). */
export interface FleetSummary {
  devices: number; online: number; offline: number; socPct: number | null; storedKwh: number; capacityKwh: number; powerKw: number;
  versions24h: { issued: number; succeeded: number; failed: number; timedOut: number; successPct: number | null };
  rolloutsRunning: number;
}

/** Who may open the fleet pages and use their forms. */
export const FLEET_PAGE_ROLES = ['operator', 'admin'] as const;

/** "87.5 %", or a dash for no value. */
export const pct = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? '—' : `${v.toFixed(digits)} %`);
/** "+3.20 kW" (charging) / "−1.50 kW" (discharging), or a dash. */
export const kw = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v).toFixed(2)} kW`);
