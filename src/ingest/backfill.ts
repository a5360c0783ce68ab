import type { Logger } from 'pino';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Db } from '../platform/db.ts';
import { getBa } from '../grid/ba-repository.ts';
import type { EiaClient } from './eia-client.ts';
import type { EiaRoute } from './eia-schema.ts';
import type { Gap } from './gaps.ts';
import { ingestRange } from './ingest-range.ts';
import { fillSimulatedGap } from './simulated-grid.ts';
import { ownerGone, thisProcess } from '../platform/process-owner.ts';

/** A gap the source still does not fill after this many backfills is left alone (it is reported, not retried forever). */
export const MAX_BACKFILL_ATTEMPTS = 3;
/** A job 'running' this long without an update (nor a heartbeat of its run) belongs to a worker that died: queue it again (it resumes its run). */
const STALE_MINUTES = 30;

export interface BackfillJob { id: number; ba: string; route: EiaRoute; source: 'eia' | 'simulated'; from: Date; to: Date; attempts: number; runId: number | null }

/**
 * Queues a backfill job per gap; a gap that a finished job did not close is queued again until
 * it has had MAX_BACKFILL_ATTEMPTS, without its old run: a retry fetches afresh (resuming a
 * finished run would skip every chunk it did). EIA gaps are queued only when an EIA client is configured.
 */
export async function enqueueGaps(db: Db, gaps: Gap[], opts: { eia: boolean }): Promise<number> {
  const wanted = gaps.filter((g) => g.source === 'simulated' || opts.eia);
  if (wanted.length === 0) return 0;
  const [r] = await db.query<{ n: number }>(
    `WITH q AS (
       INSERT INTO backfill_jobs AS j (ba_code, route, source, ts_from, ts_to)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
       ON CONFLICT (ba_code, route, source, ts_from, ts_to) DO UPDATE SET status = 'queued', updated_at = now(), last_error = NULL, run_id = NULL
         WHERE j.status IN ('done', 'failed') AND j.attempts < $6
       RETURNING 1)
     SELECT count(*)::integer AS n FROM q`,
    [wanted.map((g) => g.ba), wanted.map((g) => g.route), wanted.map((g) => g.source), wanted.map((g) => g.from.toISOString()), wanted.map((g) => g.to.toISOString()), MAX_BACKFILL_ATTEMPTS]);
  return r!.n;
}

/**
 * Takes the oldest queued job for this process; concurrent workers never take the same one (SKIP LOCKED).
 * A job left 'running' by a process that is certainly gone (process-owner.ts) is queued again at once;
 * one whose owner cannot be checked, after STALE_MINUTES without an update.
 */
export async function claimBackfill(db: Db): Promise<BackfillJob | undefined> {
  const owned = await db.query<{ id: number; owner: unknown }>(`SELECT id, owner FROM backfill_jobs WHERE status = 'running' AND owner IS NOT NULL`);
  const orphans = owned.filter((j) => ownerGone(j.owner)).map((j) => j.id);
  if (orphans.length) await db.query(`UPDATE backfill_jobs SET status = 'queued', owner = NULL, updated_at = now() WHERE status = 'running' AND id = ANY ($1::integer[])`, [orphans]);
  await db.query(
    `UPDATE backfill_jobs j SET status = 'queued', updated_at = now()
     WHERE j.status = 'running' AND j.updated_at < now() - make_interval(mins => $1)
       AND NOT EXISTS (SELECT 1 FROM ingest_runs r WHERE r.id = j.run_id AND r.status = 'running' AND r.heartbeat_at > now() - make_interval(mins => $1))`,
    [STALE_MINUTES]);
  const [j] = await db.query<{ id: number; ba_code: string; route: EiaRoute; source: 'eia' | 'simulated'; ts_from: Date | string; ts_to: Date | string; attempts: number; run_id: number | null }>(
    `UPDATE backfill_jobs SET status = 'running', attempts = attempts + 1, updated_at = now(), owner = $1::text::jsonb
     WHERE id = (SELECT id FROM backfill_jobs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id, ba_code, route, source, ts_from, ts_to, attempts, run_id`, [JSON.stringify(thisProcess())]);
  if (!j) return undefined;
  return { id: j.id, ba: j.ba_code, route: j.route, source: j.source, from: new Date(j.ts_from), to: new Date(j.ts_to), attempts: j.attempts, runId: j.run_id };
}

async function finishJob(db: Db, id: number, status: 'done' | 'failed', runId: number | null, error: string | null): Promise<void> {
  await db.query(`UPDATE backfill_jobs SET status = $2, run_id = coalesce($3, run_id), last_error = $4, updated_at = now() WHERE id = $1`, [id, status, runId, error]);
}

/**
 * Works through queued jobs (at most `limit`): EIA gaps are fetched again for their BA, route and
 * hours (resuming the job's earlier run when a worker died mid-job); simulated gaps are filled
 * from the simulated grid. One failing job is recorded and the next one runs. Stops between jobs once
 * `signal` aborts (Ctrl-C), and an EIA job stops between its pages.
 */
export async function processBackfills(deps: { db: Db; logger: Logger; client?: EiaClient | undefined; signal?: AbortSignal | undefined }, limit = 50): Promise<{ done: number; failed: number }> {
  const { db } = deps;
  const out = { done: 0, failed: 0 };
  for (let i = 0; i < limit && !deps.signal?.aborted; i++) {
    await yieldToEventLoop(); // a simulated fill does no I/O on PGlite: let Ctrl-C and requests through between jobs
    const job = await claimBackfill(db);
    if (!job) break;
    const logger = deps.logger.child({ backfillJob: job.id });
    try {
      const run = await runJob({ ...deps, logger }, job);
      const error = run.errors.length ? run.errors.slice(0, 3).join('; ') : null;
      await finishJob(db, job.id, error ? 'failed' : 'done', run.runId, error);
      out[error ? 'failed' : 'done']++;
      logger.info({ ba: job.ba, route: job.route, from: job.from, to: job.to, inserted: run.inserted, runId: run.runId }, 'backfill job finished');
    } catch (err) {
      await finishJob(db, job.id, 'failed', null, (err as Error).message);
      out.failed++;
      logger.error({ err: (err as Error).message }, 'backfill job failed');
    }
  }
  return out;
}

async function runJob(deps: { db: Db; logger: Logger; client?: EiaClient | undefined; signal?: AbortSignal | undefined }, job: BackfillJob): Promise<{ runId: number; inserted: number; errors: string[] }> {
  if (job.source === 'simulated') {
    const ba = await getBa(deps.db, job.ba);
    if (!ba) throw new Error(`unknown BA ${job.ba}`);
    return fillSimulatedGap(deps, ba, job.route, job.from, job.to);
  }
  if (!deps.client) throw new Error('EIA gap but no EIA_API_KEY configured');
  return ingestRange({
    db: deps.db, client: deps.client, logger: deps.logger, ...(deps.signal ? { signal: deps.signal } : {}),
    onRunStarted: (runId) => deps.db.query('UPDATE backfill_jobs SET run_id = $2, updated_at = now() WHERE id = $1', [job.id, runId]).then(() => undefined),
  }, { bas: [job.ba], from: job.from, to: job.to, routes: [job.route], kind: 'backfill', resume: job.runId ?? undefined });
}

export interface BackfillRow { id: number; ba: string; route: string; source: string; from: string; to: string; status: string; attempts: number; runId: number | null; lastError: string | null; updatedAt: string }

/** The backfill queue, newest first. */
export async function listBackfills(db: Db, status: string | undefined, limit: number, offset: number): Promise<BackfillRow[]> {
  const rows = await db.query<{ id: number; ba_code: string; route: string; source: string; ts_from: Date | string; ts_to: Date | string; status: string; attempts: number; run_id: number | null; last_error: string | null; updated_at: Date | string }>(
    `SELECT id, ba_code, route, source, ts_from, ts_to, status, attempts, run_id, last_error, updated_at FROM backfill_jobs
     WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2 OFFSET $3`, [status ?? null, limit, offset]);
  return rows.map((r) => ({
    id: r.id, ba: r.ba_code, route: r.route, source: r.source, from: new Date(r.ts_from).toISOString(), to: new Date(r.ts_to).toISOString(),
    status: r.status, attempts: r.attempts, runId: r.run_id, lastError: r.last_error, updatedAt: new Date(r.updated_at).toISOString(),
  }));
}
