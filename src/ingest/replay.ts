import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { envelope, toPoint, type EiaPoint, type EiaRoute } from './eia-schema.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
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

interface FileRead { points: EiaPoint[]; fetched: number; rejected: number }

/** A recorded EIA v2 JSON response: its data rows are archived as a raw page, each row parsed on its own. */
async function readJson(db: Db, runId: number, file: string, text: string): Promise<FileRead> {
  const json = JSON.parse(text);
  const route = routeOf(file, json);
  if (!route) throw new Error('cannot tell the route (region, fuel or interchange)');
  const data = envelope.parse(json).response.data;
  await saveRawPage(db, runId, { route, request: file, offset: 0, rows: data });
  const points: EiaPoint[] = [];
  let rejected = 0;
  for (const raw of data) {
    try { points.push(toPoint(route, raw)); } catch { rejected++; }
  }
  return { points, fetched: data.length, rejected };
}

/** A gridemissions wide CSV: its lines are archived as a raw page (route 'wide-csv'). */
async function readWideCsv(db: Db, runId: number, file: string, text: string, logger: Logger): Promise<FileRead> {
  const parsed = parseGridemissionsCsv(text);
  await saveRawPage(db, runId, { route: 'wide-csv', request: file, offset: 0, rows: text.split(/\r?\n/).filter((l) => l !== '') });
  if (parsed.ignoredColumns.length) logger.warn({ file, columns: parsed.ignoredColumns.slice(0, 20), count: parsed.ignoredColumns.length }, 'columns that are not EIA-930 series were ignored');
  return { points: parsed.points, fetched: parsed.points.length + parsed.rejected, rejected: parsed.rejected };
}

/**
 * Loads recorded EIA-930 data from a folder (or one file): EIA v2 JSON responses (`*.json`) and
 * gridemissions wide CSV files (`*.csv`). A malformed file or value is counted and logged, not fatal.
 */
export async function replayDir(deps: { db: Db; logger: Logger }, target: string): Promise<RunTotals & { runId: number }> {
  const runId = await startRun(deps.db, 'replay', 'replay', { dir: target });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(deps.db, logger);
  const t: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] };
  const touched = { bas: new Set<string>(), from: Infinity, to: -Infinity };
  const files = statSync(target).isDirectory()
    ? readdirSync(target).filter((f) => f.endsWith('.json') || f.endsWith('.csv')).sort().map((f) => path.join(target, f))
    : [target];
  for (const file of files) {
    const name = path.basename(file);
    try {
      const text = readFileSync(file, 'utf8');
      const read = name.endsWith('.csv') ? await readWideCsv(deps.db, runId, name, text, logger) : await readJson(deps.db, runId, name, text);
      t.fetched += read.fetched;
      t.rejected += read.rejected;
      for (const p of read.points) { touched.bas.add(p.ba); touched.from = Math.min(touched.from, p.ts.getTime()); touched.to = Math.max(touched.to, p.ts.getTime()); }
      const r = await store.store(read.points);
      t.inserted += r.inserted; t.updated += r.updated; t.rejected += r.rejected;
      logger.info({ file: name, values: read.fetched, ...r }, 'replayed file');
    } catch (err) {
      t.errors.push(`${name}: ${(err as Error).message}`);
      logger.error({ file: name, err: (err as Error).message }, 'replay file failed');
    }
  }
  if (touched.bas.size) await checkTouched({ db: deps.db, logger }, t, { bas: [...touched.bas], from: new Date(touched.from), to: new Date(touched.to), runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}
