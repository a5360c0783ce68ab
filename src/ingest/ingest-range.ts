import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { EiaClient } from './eia-client.ts';
import type { EiaRoute } from './eia-schema.ts';
import { PointStore, type OnStored } from './store-points.ts';
import { finishedChunks, finishRun, heartbeat, markResumed, recordChunk, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { saveRawPage, type RawPage } from './raw-pages.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';
import { getBas } from '../grid/ba-repository.ts';
import { activeRequests } from '../grid/active-dates.ts';

const DAY = 86_400_000;

export interface IngestRequest {
  bas: string[];
  from: Date;
  to: Date;
  routes: EiaRoute[];
  kind?: string;
  /** a ledger run to continue: chunks it (or a run it resumed) finished are skipped */
  resume?: number | undefined;
}

export interface IngestDeps {
  db: Db;
  client: EiaClient;
  logger: Logger;
  onProgress?: (done: number, total: number) => void;
  onStored?: OnStored;
  /** stops the run between pages and aborts the request in flight; the run is recorded as partial */
  signal?: AbortSignal;
  /** told the ledger id as soon as the run is recorded (before any fetch) */
  onRunStarted?: (runId: number) => Promise<void>;
}

/** The parameters a run is recorded (and found for resuming) under. */
export function runParams(req: IngestRequest): Record<string, unknown> {
  return { bas: req.bas, from: req.from.toISOString(), to: req.to.toISOString(), routes: req.routes };
}

/** UTC days of [from, to] as [first hour, last hour] pairs. */
export function dayChunks(from: Date, to: Date): Array<[Date, Date]> {
  const chunks: Array<[Date, Date]> = [];
  for (let t = from.getTime(); t <= to.getTime(); t += DAY) chunks.push([new Date(t), new Date(Math.min(t + DAY - HOUR, to.getTime()))]);
  return chunks;
}

/**
 * Fetches every route for the BAs one day at a time and upserts each page as it arrives. Each
 * finished day-route is checkpointed, so a killed or aborted run resumes (`resume`) without
 * refetching what it finished; a chunk cut short is simply fetched again (upserts make the
 * repeat harmless), so nothing is lost or doubled.
 */
export async function ingestRange(deps: IngestDeps, req: IngestRequest): Promise<RunTotals & { runId: number }> {
  const { db, client, signal } = deps;
  const runId = await startRun(db, req.kind ?? 'cli', 'eia', runParams(req));
  await deps.onRunStarted?.(runId);
  const logger = deps.logger.child({ runId });
  const skip = req.resume ? await finishedChunks(db, req.resume) : new Set<string>();
  if (req.resume) {
    await markResumed(db, runId, req.resume);
    logger.info({ resumes: req.resume, finishedChunks: skip.size }, 'resuming run');
  }
  const store = new PointStore(db, logger, 'eia', deps.onStored ? { onStored: deps.onStored } : {});
  const totals: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const before = { ...client.stats };
  const chunks = dayChunks(req.from, req.to);
  // each day asks only for the BAs (and hours) inside their EIA-930 reporting dates
  const registry = new Map((await getBas(db, req.bas)).map((b) => [b.code, b]));
  const total = chunks.length * req.routes.length;
  let done = 0;
  outer: for (const [from, to] of chunks) {
    for (const route of req.routes) {
      if (signal?.aborted) {
        totals.errors.push(`aborted after ${done}/${total} day-routes`);
        logger.warn({ done, total }, 'run aborted; resume it to continue');
        break outer;
      }
      if (!skip.has(`${route}|${from.toISOString()}`)) await ingestChunk({ db, client, store, logger, runId, totals, signal }, route, from, activeRequests(req.bas, registry, from, to));
      await heartbeat(db, runId, totals);
      deps.onProgress?.(++done, total);
    }
  }
  await checkTouched({ db, logger }, totals, { bas: req.bas, from: req.from, to: req.to, runId });
  totals.requests = client.stats.requests - before.requests;
  totals.retries = client.stats.retries - before.retries;
  await finishRun(db, runId, totals);
  logger.info({ ...totals, errors: totals.errors.length }, 'ingest run finished');
  return { ...totals, runId };
}

interface ChunkContext { db: Db; client: EiaClient; store: PointStore; logger: Logger; runId: number; totals: RunTotals; signal: AbortSignal | undefined }

/**
 * One route for one day (starting `day`), as one request per group of BAs sharing active hours: every
 * page stored as it arrives; checkpointed only when all pages of all requests landed.
 */
async function ingestChunk(c: ChunkContext, route: EiaRoute, day: Date, requests: Array<{ bas: string[]; from: Date; to: Date }>): Promise<void> {
  let rows = 0;
  const from = day;
  try {
    const onRaw = (p: RawPage) => saveRawPage(c.db, c.runId, p);
    for (const q of requests) {
      for await (const page of c.client.fetch(route, q, { onRaw, ...(c.signal ? { signal: c.signal } : {}) })) {
        rows += page.length;
        c.totals.fetched += page.length;
        const r = await c.store.store(page);
        c.totals.inserted += r.inserted;
        c.totals.updated += r.updated;
        c.totals.rejected += r.rejected;
      }
    }
    await recordChunk(c.db, c.runId, route, day, rows);
  } catch (err) {
    c.totals.errors.push(`${route} ${from.toISOString()}: ${(err as Error).message}`);
    c.logger.error({ route, from, err: (err as Error).message }, 'chunk failed');
  }
}
