import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { envelope, toPoint, type EiaRoute } from './eia-schema.ts';
import { PointStore } from './store-points.ts';
import { finishRun, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { saveRawPage } from './raw-pages.ts';

function routeOf(file: string, json: unknown): EiaRoute | undefined {
  const cmd = String((json as { request?: { command?: string } }).request?.command ?? file);
  if (cmd.includes('region-data')) return 'region';
  if (cmd.includes('fuel-type-data')) return 'fuel';
  if (cmd.includes('interchange-data')) return 'interchange';
  return undefined;
}

/** Loads recorded EIA v2 JSON responses from a folder; a malformed file or row is counted and logged, not fatal. */
export async function replayDir(deps: { db: Db; logger: Logger }, dir: string): Promise<RunTotals & { runId: number }> {
  const runId = await startRun(deps.db, 'replay', 'replay', { dir });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(deps.db, logger);
  const t: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const touched = { bas: new Set<string>(), from: Infinity, to: -Infinity };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    try {
      const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      const route = routeOf(file, json);
      if (!route) throw new Error('cannot tell the route (region, fuel or interchange)');
      const data = envelope.parse(json).response.data;
      await saveRawPage(deps.db, runId, { route, request: file, offset: 0, rows: data });
      const points = [];
      for (const raw of data) {
        try { points.push(toPoint(route, raw)); } catch { t.rejected++; }
      }
      t.fetched += data.length;
      for (const p of points) { touched.bas.add(p.ba); touched.from = Math.min(touched.from, p.ts.getTime()); touched.to = Math.max(touched.to, p.ts.getTime()); }
      const r = await store.store(points);
      t.inserted += r.inserted; t.updated += r.updated; t.rejected += r.rejected;
      logger.info({ file, rows: data.length, ...r }, 'replayed file');
    } catch (err) {
      t.errors.push(`${file}: ${(err as Error).message}`);
      logger.error({ file, err: (err as Error).message }, 'replay file failed');
    }
  }
  if (touched.bas.size) await checkTouched({ db: deps.db, logger }, t, { bas: [...touched.bas], from: new Date(touched.from), to: new Date(touched.to), runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}
