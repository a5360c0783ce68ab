import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { FleetBus, FleetLoopOptions } from '../contract.ts';
import { loopSettings, publishVersions } from '../distribution.ts';
import { issueVersions } from '../schedule-versions.ts';
import type { ScheduleIssuer } from './mpc.ts';

/** Priority of the optimizer's schedules: 0, so an operator's or a market dispatch's schedule of higher priority is never superseded by a re-plan. */
export const OPTIMIZER_PRIORITY = 0;

/**
 * The MPC's issuer on the fleet's distribution (fleet-core): the plan becomes the device's next schedule version
 * (checked for feasibility, superseding the previous plan) and is published on the bus after commit; without a bus
 * the version waits for a process that has one (the re-publisher). A refused schedule (infeasible for the device,
 * a higher-priority schedule running, an unknown device) is logged with its reason and issues nothing (null).
 */
export function fleetIssuer(db: Db, bus: FleetBus | undefined, logger: Pick<Logger, 'info' | 'warn'>, loops: FleetLoopOptions = {}): ScheduleIssuer {
  const s = loopSettings(loops);
  return async (deviceId, intervals, note) => {
    const r = await db.transaction((tx) => issueVersions(tx, { deviceIds: [deviceId], intervals, priority: OPTIMIZER_PRIORITY, republishMs: s.republishMs, now: s.now() }));
    if (r.refused.length) {
      logger.warn({ deviceId, refused: r.refused[0]!.problem.detail, note }, 'optimizer schedule refused');
      return null;
    }
    await publishVersions(db, bus, r.messages, s, logger as Logger);
    return { version: r.messages[0]!.version };
  };
}
