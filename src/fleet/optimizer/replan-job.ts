import type { ScheduledJob } from '../../ingest/scheduler.ts';
import { replanFleet } from './mpc.ts';
import { fleetIssuer } from './fleet-issuer.ts';

/** How often the worker looks for devices whose prices, intensity forecast or reported SoC changed. */
export const REPLAN_CRON = '*/5 * * * *';

/**
 * The worker's model-predictive-control job: every REPLAN_CRON, each device whose plan inputs changed is planned
 * again (on worker threads) and its plan issued as its next schedule version; unchanged devices are skipped. The
 * versions are published by the fleet's distribution (a process with a bus publishes queued versions).
 */
export const replanJob: ScheduledJob = {
  name: 'optimizer-replan', lock: 930_015, cron: REPLAN_CRON,
  run: ({ db, logger }) => replanFleet({ db, logger, issue: fleetIssuer(db, undefined, logger) }),
};
