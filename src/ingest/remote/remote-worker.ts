import { Cron } from 'croner';
import type { Logger } from 'pino';
import { HOUR_MS as HOUR } from '../../grid/time.ts';
import type { EiaClient } from '../eia-client.ts';
import { ingestInto } from '../ingest-range.ts';
import { planIncremental } from '../incremental-plan.ts';
import { REVISION_WINDOW_HOURS, SIMULATED_HISTORY_DAYS } from '../scheduler.ts';
import type { GridPulseApi } from './api-client.ts';
import type { RemoteIngestStore } from './remote-store.ts';

export interface RemoteWorkerDeps {
  api: GridPulseApi; store: RemoteIngestStore; client: EiaClient; logger: Logger;
  /** HISTORY_DAYS: what a first fill covers (the server records the store's intended start from it once) */
  historyDays?: number | undefined;
}

/** As the local worker: gaps are looked for over the last week after each hourly pass, and at most this many are fetched per pass. */
const RECENT_GAP_DAYS = 7;
const GAPS_PER_RUN = 20;

export interface RemotePassSummary { runs: number; fetched: number; errors: number; gaps: number; backfilled: number }

/**
 * Fetches the gaps GridPulse reports (since `since`, or anywhere) from EIA, at most `limit`,
 * each as a backfill run. A gap EIA cannot fill stays a gap and is reported again next time.
 */
async function backfillRemoteGaps(d: RemoteWorkerDeps, since: Date | undefined, limit: number, s: RemotePassSummary): Promise<void> {
  await d.store.flush();
  await d.store.loadRegistry();
  const gaps = await d.api.gaps(since);
  s.gaps = gaps.length;
  for (const g of gaps.slice(0, limit)) {
    const t = await ingestInto(d.store, { client: d.client, logger: d.logger }, { bas: [g.ba], from: g.from, to: g.to, routes: [g.route], kind: 'backfill' });
    s.runs++; s.backfilled++; s.fetched += t.fetched; s.errors += t.errors.length;
  }
}

/**
 * The off-site worker's hourly job: delivers what is spooled, plans the pass per BA and route
 * from what GridPulse has stored and the store's intended start (the same plan as the local worker), fetches it from EIA into
 * the spool, then backfills the gaps of the last week and delivers. Throws (the job fails, the
 * next one retries) when GridPulse cannot be reached to plan; what was fetched stays spooled.
 */
export async function remoteHourlyJob(d: RemoteWorkerDeps, now = new Date()): Promise<RemotePassSummary> {
  const s: RemotePassSummary = { runs: 0, fetched: 0, errors: 0, gaps: 0, backfilled: 0 };
  await d.store.flush();
  await d.store.loadRegistry();
  const lastHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR - HOUR);
  const historyDays = d.historyDays ?? SIMULATED_HISTORY_DAYS;
  const coverage = await d.api.latestRoutes(new Date(lastHour.getTime() - historyDays * 24 * HOUR));
  const plan = planIncremental(coverage, lastHour, { revisionHours: REVISION_WINDOW_HOURS, historyDays, intendedFrom: coverage.intendedFrom });
  for (const req of plan) {
    const t = await ingestInto(d.store, { client: d.client, logger: d.logger }, { ...req, kind: 'hourly' });
    s.runs++; s.fetched += t.fetched; s.errors += t.errors.length;
  }
  await backfillRemoteGaps(d, new Date(now.getTime() - RECENT_GAP_DAYS * 24 * HOUR), GAPS_PER_RUN, s);
  await d.store.flush();
  d.logger.info(s, 'remote hourly pass finished');
  return s;
}

/** The daily job: backfills gaps anywhere in GridPulse's store (quality checks, pruning and partitions are the server's). */
export async function remoteDailyJob(d: RemoteWorkerDeps): Promise<RemotePassSummary> {
  const s: RemotePassSummary = { runs: 0, fetched: 0, errors: 0, gaps: 0, backfilled: 0 };
  await backfillRemoteGaps(d, undefined, GAPS_PER_RUN * 5, s);
  await d.store.flush();
  d.logger.info(s, 'remote daily pass finished');
  return s;
}

/** The off-site worker's schedule: hourly (INGEST_CRON) and daily (DAILY_CRON); a failed job is logged and the next one retries. */
export function startRemoteWorker(d: RemoteWorkerDeps, crons: { ingest: string; daily: string }): { stop(): Promise<void>; runNow(): Promise<void> } {
  const running = new Set<Promise<void>>();
  const guarded = (job: string, fn: (deps: RemoteWorkerDeps) => Promise<unknown>) => () => {
    const logger = d.logger.child({ job });
    const run = fn({ ...d, logger }).then(() => undefined, (err: unknown) => { logger.error({ err: (err as Error).message }, 'job failed; next run will retry'); })
      .finally(() => running.delete(run));
    running.add(run);
    return run;
  };
  const hourly = guarded('remote-hourly', (x) => remoteHourlyJob(x));
  const jobs = [new Cron(crons.ingest, { protect: true }, hourly), new Cron(crons.daily, { protect: true }, guarded('remote-daily', remoteDailyJob))];
  return {
    runNow: hourly,
    stop: async () => {
      for (const j of jobs) j.stop();
      await Promise.allSettled([...running]);
      await d.store.close();
    },
  };
}
