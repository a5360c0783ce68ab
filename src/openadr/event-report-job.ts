import type { Logger } from 'pino';
import type { ScheduledJob } from '../ingest/scheduler.ts';
import type { Db } from '../platform/db.ts';
import { telemetrySamples } from '../fleet/markets/fleet-adapters.ts';
import { reportEventDelivery } from './event-report.ts';
import { targetsAdmit } from './event-overrides.ts';
import type { ValuesMap } from './openadr-schemas.ts';

/** The clientName of the fleet's delivery reports (one REPORT per ended event carries it). */
export const FLEET_REPORT_CLIENT = 'gridpulse-fleet';
/** How long after its end an event is still reported (a worker that was down catches up within this). */
export const REPORT_LOOKBACK_MS = 7 * 24 * 3_600_000;


/**
 * Reports back to the VTN what the fleet delivered during every event that has ended (ends_at ≤ now, within
 * REPORT_LOOKBACK_MS) and has no report from FLEET_REPORT_CLIENT yet: the devices the event and its program target
 * (targetsAdmit: device id, group id or name, balancing authority; no targets = every device) and their telemetry
 * over the event (device_telemetry), through reportEventDelivery (USAGE kWh per event interval). An event no device
 * is targeted by is not reported. Open-ended events are never "ended" and are not reported. One event's failure is
 * logged with its id and does not stop the others. Returns the ids of the events reported.
 */
export async function reportEndedEvents(db: Db, logger: Pick<Logger, 'info' | 'warn'>, now = new Date()): Promise<string[]> {
  const events = await db.query<{ id: string; starts_at: Date | string; ends_at: Date | string; targets: ValuesMap[] | null; program_targets: ValuesMap[] | null }>(
    `SELECT e.id, e.starts_at, e.ends_at, e.body -> 'targets' AS targets, p.body -> 'targets' AS program_targets
       FROM openadr_objects e JOIN openadr_objects p ON p.id = e.program_id AND p.object_type = 'PROGRAM'
      WHERE e.object_type = 'EVENT' AND e.starts_at IS NOT NULL AND e.ends_at <= $1 AND e.ends_at > $2
        AND NOT EXISTS (SELECT 1 FROM openadr_objects r WHERE r.object_type = 'REPORT' AND r.event_id = e.id AND r.client_name = $3)
      ORDER BY e.ends_at, e.id`, [now, new Date(now.getTime() - REPORT_LOOKBACK_MS), FLEET_REPORT_CLIENT]);
  if (!events.length) return [];
  const [hasDevices] = await db.query<{ t: string | null }>(`SELECT to_regclass('devices')::text AS t`);
  if (!hasDevices?.t) return [];
  const devices = await db.query<{ id: string; ba_code: string | null }>('SELECT id, ba_code FROM devices WHERE revoked_at IS NULL ORDER BY id');
  const groups = new Map<string, string[]>();
  for (const m of await db.query<{ device_id: string; id: string; name: string }>('SELECT m.device_id, g.id, g.name FROM device_group_members m JOIN device_groups g ON g.id = m.group_id')) {
    groups.set(m.device_id, [...groups.get(m.device_id) ?? [], m.id, m.name]);
  }
  const reported: string[] = [];
  for (const ev of events) {
    try {
      const targets = ev.targets, programTargets = ev.program_targets;
      const ids = devices.filter((d) => {
        const t = { deviceId: d.id, ba: d.ba_code ?? undefined, groups: groups.get(d.id) ?? [] };
        return targetsAdmit(targets, t) && targetsAdmit(programTargets, t);
      }).map((d) => d.id);
      if (!ids.length) continue;
      const samples = await telemetrySamples(db, new Date(ev.starts_at), new Date(ev.ends_at), ids);
      const report = await reportEventDelivery(db, ev.id, FLEET_REPORT_CLIENT, samples);
      reported.push(ev.id);
      logger.info({ eventId: ev.id, reportId: report.id, devices: ids.length, samples: samples.length }, 'OpenADR delivery reported');
    } catch (err) {
      logger.warn({ eventId: ev.id, err: (err as Error).message }, 'OpenADR delivery report failed');
    }
  }
  return reported;
}

/** The worker's job reporting ended events' delivery to the VTN, every 15 minutes. */
export const eventReportJob: ScheduledJob = {
  name: 'openadr-delivery-reports', lock: 930_016, cron: '*/15 * * * *',
  run: ({ db, logger }) => reportEndedEvents(db, logger),
};
