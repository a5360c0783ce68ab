import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { IncompleteReadError, type EiaClient } from './eia-client.ts';
import type { EiaPoint, EiaRoute } from './eia-schema.ts';
import type { OnStored } from './store-points.ts';
import { tally, type RunTotals } from './run-ledger.ts';
import type { RawPage } from './raw-pages.ts';
import { LocalIngestStore, type IngestRun, type IngestStore } from './ingest-store.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';
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
  const store = new LocalIngestStore(deps.db, deps.logger, { onStored: deps.onStored });
  const totals = await ingestInto(store, deps, req);
  return { ...totals, runId: totals.runId as number };
}

/** ingestRange into any IngestStore: the local database or, for the off-site worker, GridPulse's data API. */
export async function ingestInto(store: IngestStore, deps: Omit<IngestDeps, 'db' | 'onStored'>, req: IngestRequest): Promise<RunTotals & { runId: number | string }> {
  const { client, signal } = deps;
  const run = await store.openRun(req.kind ?? 'cli', runParams(req), { resume: req.resume, onRunStarted: deps.onRunStarted });
  const { logger, skip } = run;
  const totals: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [], duplicates: 0, conflicting: 0, reasons: {} };
  const before = { ...client.stats };
  const chunks = dayChunks(req.from, req.to);
  // each day asks only for the BAs (and hours) inside their EIA-930 reporting dates
  const registry = await store.registry(req.bas);
  const total = chunks.length * req.routes.length;
  let done = 0;
  outer: for (const [from, to] of chunks) {
    for (const route of req.routes) {
      if (signal?.aborted) {
        totals.errors.push(`aborted after ${done}/${total} day-routes`);
        logger.warn({ done, total }, 'run aborted; resume it to continue');
        break outer;
      }
      if (!skip.has(`${route}|${from.toISOString()}`)) await ingestChunk({ client, run, logger, totals, signal }, route, from, activeRequests(req.bas, registry, from, to));
      await run.heartbeat(totals);
      deps.onProgress?.(++done, total);
    }
  }
  totals.requests = client.stats.requests - before.requests;
  totals.retries = client.stats.retries - before.retries;
  await run.finish(totals, { bas: req.bas, from: req.from, to: req.to });
  logger.info({ ...totals, errors: totals.errors.length }, 'ingest run finished');
  return { ...totals, runId: run.id };
}

interface ChunkContext { client: EiaClient; run: IngestRun; logger: Logger; totals: RunTotals; signal: AbortSignal | undefined }

/**
 * One route for one day (starting `day`), as one request per group of BAs sharing active hours: the
 * client reads each request whole (every page, checked to add up) and each page is stored; checkpointed
 * only when every read was complete. A read that stays incomplete after the client's re-reads fails the
 * day-route loudly (an error of the run, logged): the rows it did get are stored as one batch (so a key
 * the overlapping pages gave two values is refused, not guessed), but the day-route is not
 * checkpointed, so a resume or the next pass reads it again.
 */
async function ingestChunk(c: ChunkContext, route: EiaRoute, day: Date, requests: Array<{ bas: string[]; from: Date; to: Date }>): Promise<void> {
  let rows = 0;
  const from = day;
  const batch = `${route} ${from.toISOString().slice(0, 10)}`;
  const keep = async (points: EiaPoint[]) => {
    rows += points.length;
    c.totals.fetched += points.length;
    tally(c.totals, await c.run.store(points, batch));
  };
  try {
    const onRaw = (p: RawPage) => c.run.saveRaw(p);
    for (const q of requests) {
      for await (const page of c.client.fetch(route, q, { onRaw, ...(c.signal ? { signal: c.signal } : {}) })) await keep(page);
    }
    await c.run.chunkDone(route, day, rows);
  } catch (err) {
    c.totals.errors.push(`${route} ${from.toISOString()}: ${(err as Error).message}`);
    c.logger.error({ route, from, err: (err as Error).message }, err instanceof IncompleteReadError ? 'day-route failed: EIA pages did not add up; not checkpointed' : 'chunk failed');
    if (err instanceof IncompleteReadError) {
      try { await keep(err.points); } catch (e) { c.logger.error({ route, from, err: (e as Error).message }, 'storing the rows of an incomplete read failed'); }
    }
  }
}
