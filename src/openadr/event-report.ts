import type { Db } from '../platform/db.ts';
import { energyByHour, type PowerSample } from '../fleet/markets/delivery.ts';
import { resolveIntervals } from './event-intervals.ts';
import { createObject, getObject, type WireObject } from './openadr-repository.ts';
import type { OpenadrEvent } from './openadr-schemas.ts';

const HOUR = 3_600_000;

/**
 * The fleet reports back to the VTN what it did during an event (issue 15: "and reports back what it delivered"):
 * a REPORT of the event's program, one AGGREGATED_REPORT resource, one interval per event interval (same id and
 * period) carrying USAGE in kWh (the devices' measured energy from their telemetry, + consumed/charged,
 * − delivered/discharged; whole hours of the interval). Stored through the VTN's repository, so subscribers to
 * REPORT are called back.
 */
export async function reportEventDelivery(db: Db, eventId: string, clientName: string, samples: readonly PowerSample[]): Promise<WireObject> {
  const ev = await getObject(db, 'EVENT', eventId, 'eventID') as unknown as OpenadrEvent & { id: string; programID: string };
  const energy = energyByHour(samples);
  const intervals = resolveIntervals(ev).filter((iv) => iv.end !== null).map((iv) => {
    let mwh = 0;
    for (let h = Math.floor(iv.start.getTime() / HOUR) * HOUR; h < iv.end!.getTime(); h += HOUR) mwh += energy.get(h) ?? 0;
    return {
      id: iv.id, intervalPeriod: { start: iv.start.toISOString(), duration: `PT${Math.round((iv.end!.getTime() - iv.start.getTime()) / 60_000)}M` },
      payloads: [{ type: 'USAGE', values: [Math.round(mwh * 1000 * 1000) / 1000] }],
    };
  });
  return createObject(db, 'REPORT', {
    programID: ev.programID, eventID: ev.id, clientName, reportName: `GridPulse fleet delivery for ${ev.eventName ?? ev.id}`,
    payloadDescriptors: [{ objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'USAGE', readingType: 'DIRECT_READ', units: 'KWH' }],
    resources: [{ resourceName: 'AGGREGATED_REPORT', intervals }],
  });
}
