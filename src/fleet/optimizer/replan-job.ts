import type { ScheduledJob } from '../../ingest/scheduler.ts';
import { replanFleet } from './mpc.ts';
import { fleetIssuer } from './fleet-issuer.ts';

/** How often the worker looks for devices whose prices, intensity forecast or reported SoC changed. */
export const REPLAN_CRON = '*/5 * * * *';

/**
 * The worker's model-predictive-control job: every REPLAN_CRON, each OPTED-IN device (one with a tariff: PUT
 * /api/v1/devices/{id}/tariff) whose plan inputs changed is planned
 * again (on worker threads) and its plan issued as its next schedule version at priority −1 (fleet-issuer.ts: an
 * operator's or a market's unfinished schedule refuses it); unchanged devices, and plans materially the same as the
 * current version, issue nothing. The
 * versions are published by the fleet's distribution (a process with a bus publishes queued versions).
 */
export const replanJob: ScheduledJob = {
  name: 'optimizer-replan', lock: 930_015, cron: REPLAN_CRON,
  run: ({ db, logger }) => replanFleet({ db, logger, issue: fleetIssuer(db, undefined, logger) }),
};
