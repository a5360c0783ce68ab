import { withSpan } from '../platform/tracing.ts';
import { Cron } from 'croner';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { Config } from '../platform/config.ts';
import { JOB_BUCKETS, type Metrics } from '../platform/metrics.ts';
import { listBas } from '../grid/ba-repository.ts';
import { EiaClient, eiaMetrics } from './eia-client.ts';
import { ingestRange } from './ingest-range.ts';
import { loadSimulatedGrid, simulatedRoutes } from './simulated-grid.ts';
import { findGaps } from './gaps.ts';
import { planIncremental, storedCoverage } from './incremental-plan.ts';
import { enqueueGaps, processBackfills } from './backfill.ts';
import { runQualityChecks } from './check-runner.ts';
import { pruneRawPages } from './raw-pages.ts';
import { finishRun, markAbandonedRuns, startRun, type RunTotals } from './run-ledger.ts';
import { staleBas } from './pipeline-freshness.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';
import { intendedStart } from './intended-span.ts';
import type { EiaRoute } from './eia-schema.ts';

/** EIA revises recent hours: every incremental run re-reads this far back. */
export const REVISION_WINDOW_HOURS = 48;
/** History a first run fills by default (HISTORY_DAYS): the forecasts need two usable weeks after their one-week lag, so four weeks. */
export const SIMULATED_HISTORY_DAYS = 28;

/**
 * Runs fn only in the process that wins an advisory lock, so N workers run a job once. On
 * PostgreSQL the lock is transaction-scoped and held by an open transaction for the job's length:
 * a session lock taken on one pooled connection could be "released" on another and leak, and the
 * transaction lock also goes away by itself when a crashed worker's connection drops. PGlite is
 * one connection in one process (a transaction would block the job's own queries): a session lock.
 */
export async function runOnce(db: Db, lockKey: number, fn: () => Promise<void>): Promise<boolean> {
  if (db.kind === 'postgres') {
    return db.transaction(async (tx) => {
      const [row] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [lockKey]);
      if (!row?.ok) return false;
      await fn();
      return true;
    });
  }
  const [row] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey]);
  if (!row?.ok) return false;
  try { await fn(); } finally { await db.query('SELECT pg_advisory_unlock($1)', [lockKey]); }
  return true;
}

/**
 * One incremental pass, planned per BA and route from what is stored (planIncremental), never from one
 * newest hour of the whole store: with a key, EIA from each BA-route's newest hour minus the revision window;
 * without, the simulated grid from each BA-route's newest hour. A BA-route with nothing stored starts at the
 * store's intended start, which the first pass records (intended-span.ts), so a first fill cut short by a
 * crash is completed by the next pass. Stops between batches when `deps.signal` aborts (Ctrl-C).
 */
export async function incrementalIngest(deps: WorkerDeps, now = new Date()): Promise<void> {
  const { db, logger, signal } = deps;
  const lastHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR - HOUR);
  const historyDays = deps.config.HISTORY_DAYS ?? SIMULATED_HISTORY_DAYS;
  const bas = await listBas(db);
  const client = eiaClient(deps);
  if (client) {
    const intendedFrom = await intendedStart(db, 'eia', lastHour, historyDays);
    // per BA and route from what is stored, never from one global newest hour (the off-site worker plans the same way)
    const coverage = await storedCoverage(db, 'eia', bas.map((b) => b.code));
    for (const req of planIncremental(coverage, lastHour, { revisionHours: REVISION_WINDOW_HOURS, historyDays, intendedFrom })) {
      if (signal?.aborted) return;
      await ingestRange({ db, client, logger, ...(signal ? { signal } : {}) }, { ...req, kind: 'hourly' });
    }
    return;
  }
  const intendedFrom = await intendedStart(db, 'simulated', lastHour, historyDays);
  // only the BA-routes the simulation gives points to: the others would be planned from the start every hour
  const expected = simulatedRoutes(bas, lastHour);
  const coverage = (await storedCoverage(db, 'simulated', [...expected.keys()])).filter((c) => expected.get(c.ba)!.has(c.route));
  // the simulated grid is never revised: each BA-route continues from the hour after its newest (revisionHours −1),
  // so a pass with nothing new writes nothing;
  // the requests that start at the same hour are one simulation, stored BA by BA with all its routes in one transaction
  const byStart = new Map<number, Map<string, Set<EiaRoute>>>();
  for (const req of planIncremental(coverage, lastHour, { revisionHours: -1, historyDays, intendedFrom })) {
    const only = byStart.get(req.from.getTime()) ?? new Map<string, Set<EiaRoute>>();
    for (const ba of req.bas) for (const route of req.routes) only.set(ba, (only.get(ba) ?? new Set<EiaRoute>()).add(route));
    byStart.set(req.from.getTime(), only);
  }
  for (const [from, only] of byStart) {
    if (signal?.aborted) return;
    const hours = Math.floor((lastHour.getTime() - from) / HOUR) + 1;
    const t = await loadSimulatedGrid({ db, logger }, bas, new Date(from), hours, { only, signal });
    logger.info({ runId: t.runId, from: new Date(from), hours, bas: only.size, inserted: t.inserted }, 'simulated grid extended');
  }
}

export interface WorkerDeps {
  db: Db; logger: Logger; config: Config; metrics?: Metrics;
  /** aborted on Ctrl-C or stop: jobs finish the batch in hand and return */
  signal?: AbortSignal | undefined;
}

/** After an incremental run, gaps are looked for over this recent window (the daily job scans the whole store). */
const RECENT_GAP_DAYS = 7;
/** Backfill jobs worked per scheduled run; the rest wait for the next run. */
const BACKFILLS_PER_RUN = 20;

function eiaClient({ config, logger, metrics }: WorkerDeps): EiaClient | undefined {
  return config.EIA_API_KEY ? new EiaClient({ baseUrl: config.EIA_API_URL, apiKey: config.EIA_API_KEY, minIntervalMs: config.EIA_MIN_INTERVAL_MS, logger, ...(metrics ? { metrics } : {}) }) : undefined;
}

/** Finds gaps (since `since`, or over the whole store), queues them and works through the queue. */
export async function backfillGaps(deps: WorkerDeps, since: Date | undefined, limit = BACKFILLS_PER_RUN): Promise<{ gaps: number; queued: number; done: number; failed: number }> {
  const gaps = await findGaps(deps.db, { since });
  const client = eiaClient(deps);
  const queued = await enqueueGaps(deps.db, gaps, { eia: client !== undefined });
  const worked = await processBackfills({ db: deps.db, logger: deps.logger, client, signal: deps.signal }, limit);
  if (gaps.length || worked.done || worked.failed) deps.logger.info({ gaps: gaps.length, queued, ...worked }, 'gap backfill');
  return { gaps: gaps.length, queued, ...worked };
}

/**
 * The hourly job: closes the runs of processes that are gone (a killed earlier start: at once, by their
 * owner), the incremental pass, then backfill of gaps in the last week (reaching back to the intended start).
 */
export async function hourlyJob(deps: WorkerDeps, now = new Date()): Promise<void> {
  const abandoned = await markAbandonedRuns(deps.db);
  if (abandoned) deps.logger.warn({ abandoned }, 'closed runs whose process is gone; the plan below completes them');
  await incrementalIngest(deps, now);
  if (deps.signal?.aborted) return;
  await backfillGaps(deps, new Date(now.getTime() - RECENT_GAP_DAYS * 24 * HOUR));
}

/**
 * The daily job (01:00 by default): closes runs whose process died, checks the last 48 hours of
 * every BA (late BA-to-BA interchange arrives about two days behind), prunes raw pages past the
 * retention, backfills gaps found anywhere in the stored range, and creates the observation partitions
 * of this month and the next two ahead of the data. Recorded in the ledger as a
 * 'daily' run whose findings are under its id.
 */
export async function dailyJob(deps: WorkerDeps, now = new Date()): Promise<{ runId: number }> {
  const { db, config } = deps;
  const abandoned = await markAbandonedRuns(db);
  const lastHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR - HOUR);
  const from = new Date(lastHour.getTime() - (REVISION_WINDOW_HOURS - 1) * HOUR);
  const runId = await startRun(db, 'daily', 'checks', { from: from.toISOString(), to: lastHour.toISOString() });
  const logger = deps.logger.child({ runId });
  const totals: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try { return await fn(); } catch (err) {
      totals.errors.push(`${name}: ${(err as Error).message}`);
      logger.error({ step: name, err: (err as Error).message }, 'daily step failed; the others still run');
      return undefined;
    }
  };
  const checks = await step('quality checks', () => runQualityChecks({ db, logger }, { from, to: lastHour, runId }));
  const pruned = await step('raw prune', () => pruneRawPages(db, config.RAW_RETENTION_DAYS));
  const backfill = await step('backfill', () => backfillGaps({ ...deps, logger }, undefined, BACKFILLS_PER_RUN * 5));
  const stale = await step('freshness', () => staleBas(db, now));
  const partitions = await step('partitions', () => ensurePartitionsAhead(db, now));
  await finishRun(db, runId, totals);
  logger.info({ abandoned, checks, pruned, backfill, staleBas: stale, partitionsCreated: partitions }, 'daily job finished');
  return { runId };
}

/** Monthly partitions from this month through two months ahead, so hourly writes never wait on DDL. */
export async function ensurePartitionsAhead(db: Db, now: Date): Promise<number> {
  const ahead = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
  const [row] = await db.query<{ n: number }>('SELECT ensure_observation_partitions($1, $2) AS n', [now, ahead]);
  return Number(row?.n ?? 0);
}

/**
 * Claims one occurrence of a scheduled job for this process: true for the one copy whose insert wins. Cron timers fire
 * at (never before) the occurrence's whole second, so every copy derives the same tick unless its event loop was held
 * over a second. Claims older than a week are removed on the way.
 */
export async function claimTick(db: Db, job: string, tick: Date): Promise<boolean> {
  const rows = await db.query(
    `WITH old AS (DELETE FROM job_ticks WHERE job = $1 AND tick < $2::timestamptz - interval '7 days')
     INSERT INTO job_ticks (job, tick, claimed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`, [job, tick, `${hostname()}:${process.pid}`]);
  return rows.length === 1;
}

const HOURLY_LOCK = 930_001;
const DAILY_LOCK = 930_002;

/**
 * How a scheduled run ends: `ok` (ran to its end), `failed` (threw), `skipped` (another process held its lock or
 * claimed its tick), `stopped` (the process began stopping during the run: the job returned after its current batch,
 * its work is unfinished and the next run completes it). The `outcome` label of gridpulse_job_runs_total.
 */
export const JOB_OUTCOMES = ['ok', 'failed', 'skipped', 'stopped'] as const;

/** How a job's latest run in this process ended (JOB_OUTCOMES) and when. */
export interface LastRun { outcome: string; at: Date }

/** A job from another domain that the worker runs on its own schedule, once across processes. */
export interface ScheduledJob { name: string; lock: number; cron: string; run: (d: WorkerDeps) => Promise<unknown> }

/**
 * The worker role: the hourly job (INGEST_CRON, default :15), the daily job (DAILY_CRON,
 * default 01:00) and the `extra` jobs, each run once across processes; a failing run is logged
 * and the next one retries.
 */
export function startScheduler(deps: WorkerDeps, crons: { ingest?: string; daily?: string } = {}, extra: ScheduledJob[] = []): { stop(drainMs?: number): Promise<void>; runNow(): Promise<void>; runDaily(): Promise<void>; signal: AbortSignal; lastRuns: ReadonlyMap<string, LastRun> } {
  const running = new Set<Promise<void>>();
  const lastRuns = new Map<string, LastRun>();
  // stop() aborts it: a running job finishes its batch and returns, and no new run starts
  const stopping = new AbortController();
  // `job_name`, not `job`: Prometheus sets `job` to the scrape job on every series (ours would become exported_job)
  const runs = deps.metrics?.counter('gridpulse_job_runs_total', 'scheduled job runs by job_name and outcome (ok; failed; skipped: another process held the lock; stopped: the process stopped during the run)', ['job_name', 'outcome']);
  const durations = deps.metrics?.histogram('gridpulse_job_duration_seconds', 'scheduled job run duration by job_name and outcome', ['job_name', 'outcome'], JOB_BUCKETS);
  // the EIA client is made per run: its breaker gauge must exist (at 0) before the first run, for the alert rule
  if (deps.metrics) eiaMetrics(deps.metrics);
  const guarded = (job: string, lock: number, fn: (d: WorkerDeps) => Promise<unknown>) => {
    const logger = deps.logger.child({ job });
    // every outcome's series exists at 0 from the start, so increase() counts a job's first failures
    for (const outcome of JOB_OUTCOMES) runs?.inc({ job_name: job, outcome }, 0);
    const once = async (tick?: Date) => {
      if (stopping.signal.aborted) return;
      const started = performance.now();
      let outcome = 'ok';
      try {
        if (tick && !await claimTick(deps.db, job, tick)) { outcome = 'skipped'; return; }
        // each run is the root of its own trace; its queries, EIA calls and log lines belong to it
        const ran = await withSpan(`job ${job}`, { 'gridpulse.job': job }, async (span) => {
          const done = await runOnce(deps.db, lock, async () => { await fn({ ...deps, logger, signal: stopping.signal }); });
          span?.setAttribute('gridpulse.job.outcome', done ? 'ok' : 'skipped');
          return done;
        }, { root: true });
        if (!ran) outcome = 'skipped';
        else if (stopping.signal.aborted) outcome = 'stopped';
      } catch (err) {
        outcome = 'failed';
        logger.error({ err: (err as Error).message }, 'job failed; next run will retry');
      } finally {
        const ms = Math.round(performance.now() - started);
        runs?.inc({ job_name: job, outcome });
        lastRuns.set(job, { outcome, at: new Date() });
        durations?.observe({ job_name: job, outcome }, ms / 1000);
        if (outcome !== 'failed') logger.info({ outcome, ms, stopped: stopping.signal.aborted, ...(tick ? { tick: tick.toISOString() } : {}) }, 'job finished');
      }
    };
    return (tick?: Date) => {
      const run = once(tick).finally(() => running.delete(run));
      running.add(run);
      return run;
    };
  };
  const hourly = guarded('hourly-ingest', HOURLY_LOCK, (d) => hourlyJob(d));
  const daily = guarded('daily', DAILY_LOCK, (d) => dailyJob(d));
  // a cron run carries its occurrence (its second), claimed once across worker copies (claimTick)
  const onTick = (run: (tick?: Date) => Promise<void>) => () => run(new Date(Math.floor(Date.now() / 1000) * 1000));
  const jobs = [
    new Cron(crons.ingest ?? deps.config.INGEST_CRON, { protect: true }, onTick(hourly)),
    new Cron(crons.daily ?? deps.config.DAILY_CRON, { protect: true }, onTick(daily)),
    ...extra.map((j) => new Cron(j.cron, { protect: true }, onTick(guarded(j.name, j.lock, j.run)))),
  ];
  /** Stops the schedule, tells running jobs to stop after their batch, and waits (up to drainMs) for them, so the database is not closed under them. */
  const stop = async (drainMs = 30_000) => {
    stopping.abort();
    for (const j of jobs) j.stop();
    if (running.size === 0) return;
    deps.logger.info({ jobs: running.size }, 'waiting for running jobs before stopping');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, drainMs); });
    await Promise.race([Promise.allSettled([...running]), timeout]);
    clearTimeout(timer);
  };
  return { stop, runNow: () => hourly(), runDaily: () => daily(), signal: stopping.signal, lastRuns };
}
