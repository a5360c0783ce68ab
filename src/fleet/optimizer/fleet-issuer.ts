import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { FleetBus, FleetLoopOptions } from '../contract.ts';
import { loopSettings, publishVersions } from '../distribution.ts';
import { issueVersions } from '../schedule-versions.ts';
import { countIssued } from '../fleet-metrics.ts';
import type { ScheduleIssuer } from './mpc.ts';

/**
 * Priority of the optimizer's schedules: −1, below every priority an operator (API and rollouts: 0–1,000) or a
 * market dispatch can give. So the sources rank: operator / market ≥ 0 > optimizer. An operator's or a market's
 * unfinished version (queued … executing, not yet ended) refuses a re-plan (409 conflict, logged, nothing issued),
 * and any operator schedule, even of priority 0, supersedes the optimizer's plan.
 */
export const OPTIMIZER_PRIORITY = -1;

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
      const p = r.refused[0]!.problem;
      // an operator's schedule outranking the plan is the rule working, not a fault
      if (p.kind === 'conflict') logger.info({ deviceId, refused: p.detail, note }, 'optimizer plan not issued: a schedule of higher priority runs');
      else logger.warn({ deviceId, refused: p.detail, note }, 'optimizer schedule refused');
      return null;
    }
    countIssued(db, 'optimizer', r.messages.length);
    await publishVersions(db, bus, r.messages, s, logger as Logger);
    return { version: r.messages[0]!.version };
  };
}
