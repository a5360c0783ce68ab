import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { EiaClient } from './eia-client.ts';
import type { EiaRoute } from './eia-schema.ts';
import { PointStore } from './store-points.ts';
import { finishRun, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { saveRawPage, type RawPage } from './raw-pages.ts';

export interface IngestRequest { bas: string[]; from: Date; to: Date; routes: EiaRoute[]; kind?: string }

/**
 * Fetches every route for the BAs one day at a time and upserts each page as it arrives, so a
 * killed run has stored whole days and re-running the range redoes only what is missing
 * (upserts make the repeat harmless).
 */
export async function ingestRange(deps: { db: Db; client: EiaClient; logger: Logger; onProgress?: (done: number, total: number) => void }, req: IngestRequest): Promise<RunTotals & { runId: number }> {
  const { db, client } = deps;
  const runId = await startRun(db, req.kind ?? 'cli', 'eia', { ...req, from: req.from.toISOString(), to: req.to.toISOString() });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(db, logger);
  const totals: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const before = { ...client.stats };
  const chunks: Array<[Date, Date]> = [];
  for (let t = req.from.getTime(); t <= req.to.getTime(); t += 86_400_000) {
    chunks.push([new Date(t), new Date(Math.min(t + 86_400_000 - 3_600_000, req.to.getTime()))]);
  }
  const total = chunks.length * req.routes.length;
  let done = 0;
  for (const [from, to] of chunks) {
    for (const route of req.routes) {
      try {
        let raw: RawPage | undefined;
        for await (const page of client.fetch(route, { bas: req.bas, from, to }, { onRaw: (p) => { raw = p; } })) {
          if (raw) await saveRawPage(db, runId, raw);
          totals.fetched += page.length;
          const r = await store.store(page);
          totals.inserted += r.inserted;
          totals.updated += r.updated;
          totals.rejected += r.rejected;
        }
      } catch (err) {
        totals.errors.push(`${route} ${from.toISOString()}: ${(err as Error).message}`);
        logger.error({ route, from, err: (err as Error).message }, 'chunk failed');
      }
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
