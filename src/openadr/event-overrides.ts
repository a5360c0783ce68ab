import type { Db } from '../platform/db.ts';
import { resolveIntervals } from './event-intervals.ts';
import { toWire, type Body } from './openadr-repository.ts';
import type { OpenadrEvent, ValuesMap } from './openadr-schemas.ts';

/**
 * What OpenADR events ask of one device for each hour (issue 15: "prices override the tariff, setpoints
 * constrain the plan"), for the optimizer. Units: prices in currency per MWh (the descriptor's currency, USD when
 * absent; a descriptor's units KWH or MWH says what the value is per, default KWH as in the OpenADR 3 examples),
 * GHG in g/kWh, power in kW (descriptor units W, KW or MW; default KW). DISPATCH_SETPOINT is the power asked at
 * the device's meter: positive imports (charges), negative exports (discharges).
 */
export interface HourOverride {
  /** the hour's start, ISO 8601 UTC */
  hour: string;
  priceUsdPerMwh?: number;
  exportPriceUsdPerMwh?: number;
  ghgGPerKwh?: number;
  setpointKw?: number;
  importLimitKw?: number;
  exportLimitKw?: number;
  /** the events that set this hour's values */
  eventIds: string[];
}

/** Who an event can be aimed at: a device (OpenADR RESOURCE_NAME or VEN_NAME = its id), its groups (GROUP), its balancing authority. */
export interface OverrideTarget { deviceId: string; ba?: string | undefined; groups?: readonly string[] | undefined }

/**
 * The private target type naming a balancing authority code (EIA), e.g. {type: 'BALANCING_AUTHORITY', values: ['PJM']};
 * the 3.0.1 definitions allow private target types.
 */
export const BA_TARGET = 'BALANCING_AUTHORITY';

/** Whether a list of targets (an event's or its program's) admits the device: no targets admit every device. */
export function targetsAdmit(targets: readonly ValuesMap[] | null | undefined, t: OverrideTarget): boolean {
  if (!targets?.length) return true;
  return targets.every((tg) => {
    const values = tg.values.map(String);
    switch (tg.type) {
      case 'RESOURCE_NAME': case 'VEN_NAME': return values.includes(t.deviceId);
      case 'GROUP': return (t.groups ?? []).some((g) => values.includes(g));
      case BA_TARGET: case 'SERVICE_AREA': return t.ba !== undefined && values.includes(t.ba);
      default: return true; // target types GridPulse does not know do not narrow the event
    }
  });
}

const POWER_UNITS: Record<string, number> = { W: 0.001, KW: 1, MW: 1000 };
const PER_ENERGY: Record<string, number> = { KWH: 1000, MWH: 1, WH: 1_000_000 };

type Field = Exclude<keyof HourOverride, 'hour' | 'eventIds'>;
function fieldOf(type: string, units: string | undefined): { field: Field; scale: number } | undefined {
  const u = units?.toUpperCase();
  switch (type) {
    case 'PRICE': return { field: 'priceUsdPerMwh', scale: PER_ENERGY[u ?? 'KWH'] ?? 1000 };
    case 'EXPORT_PRICE': return { field: 'exportPriceUsdPerMwh', scale: PER_ENERGY[u ?? 'KWH'] ?? 1000 };
    case 'GHG': return { field: 'ghgGPerKwh', scale: 1 };
    case 'DISPATCH_SETPOINT': return { field: 'setpointKw', scale: POWER_UNITS[u ?? 'KW'] ?? 1 };
    case 'IMPORT_CAPACITY_LIMIT': return { field: 'importLimitKw', scale: POWER_UNITS[u ?? 'KW'] ?? 1 };
    case 'EXPORT_CAPACITY_LIMIT': return { field: 'exportLimitKw', scale: POWER_UNITS[u ?? 'KW'] ?? 1 };
    default: return undefined;
  }
}

interface EventRow { id: string; object_type: 'EVENT'; ven_id: null; body: Body; created_at: Date | string; modified_at: Date | string; program_targets: ValuesMap[] | null }

/**
 * The active overrides for a device over [from, to), hour by hour (hours with none are left out). An interval
 * covers an hour when it overlaps it; where events disagree, the lower `priority` number wins, then the newer
 * change, then the greater id. Values are the interval's payload's first value. Source: the VTN's events (openadr_objects), targeted
 * by the event's and its program's targets (targetsAdmit).
 */
export async function activeEventOverrides(db: Db, target: OverrideTarget, from: Date, to: Date): Promise<HourOverride[]> {
  const rows = await db.query<EventRow>(
    `SELECT e.id, e.object_type, e.ven_id, e.body, e.created_at, e.modified_at, p.body -> 'targets' AS program_targets
       FROM openadr_objects e JOIN openadr_objects p ON p.id = e.program_id AND p.object_type = 'PROGRAM'
      WHERE e.object_type = 'EVENT' AND (e.starts_at IS NULL OR e.starts_at < $2) AND (e.ends_at IS NULL OR e.ends_at > $1)`, [from, to]);
  const events = rows.map((r) => ({ ev: toWire(r) as unknown as OpenadrEvent & { id: string; modificationDateTime: string }, programTargets: r.program_targets }))
    .filter(({ ev, programTargets }) => targetsAdmit(ev.targets, target) && targetsAdmit(programTargets, target))
    // strongest last, so it is applied last: higher priority number first, older change first, then by id (the rows
    // come in no particular order: two events changed in the same millisecond must not be decided by the plan)
    .sort((a, b) => (b.ev.priority ?? Number.MAX_SAFE_INTEGER) - (a.ev.priority ?? Number.MAX_SAFE_INTEGER) || a.ev.modificationDateTime.localeCompare(b.ev.modificationDateTime)
      || (a.ev.id < b.ev.id ? -1 : a.ev.id > b.ev.id ? 1 : 0));
  const hours = new Map<number, HourOverride>();
  const HOUR = 3_600_000;
  const first = Math.floor(from.getTime() / HOUR) * HOUR;
  for (const { ev } of events) {
    const descriptors = new Map((ev.payloadDescriptors ?? []).map((d) => [d.payloadType, d.units ?? undefined]));
    for (const iv of resolveIntervals(ev)) {
      for (let h = Math.max(first, Math.floor(iv.start.getTime() / HOUR) * HOUR); h < to.getTime() && (iv.end === null || h < iv.end.getTime()); h += HOUR) {
        if (h + HOUR <= iv.start.getTime()) continue;
        for (const p of iv.payloads) {
          const f = fieldOf(p.type, descriptors.get(p.type));
          const v = p.values[0];
          if (!f || typeof v !== 'number') continue;
          const o = hours.get(h) ?? { hour: new Date(h).toISOString(), eventIds: [] };
          o[f.field] = v * f.scale;
          if (!o.eventIds.includes(ev.id)) o.eventIds.push(ev.id);
          hours.set(h, o);
        }
      }
    }
  }
  return [...hours.entries()].sort((a, b) => a[0] - b[0]).map(([, o]) => o);
}
