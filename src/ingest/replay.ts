import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { envelope, rowRejection, toPoint, type EiaPoint, type EiaRoute } from './eia-schema.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
import { addReason, PointStore } from './store-points.ts';
import { finishRun, startRun, tally, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { saveRawPage } from './raw-pages.ts';

function routeOf(file: string, json: unknown): EiaRoute | undefined {
  const cmd = String((json as { request?: { command?: string } }).request?.command ?? file);
  if (cmd.includes('region-data')) return 'region';
  if (cmd.includes('fuel-type-data')) return 'fuel';
  if (cmd.includes('interchange-data')) return 'interchange';
  return undefined;
}

/** `incomplete`: why the file is not a whole read (its rows are kept, and the run says so). */
interface FileRead { points: EiaPoint[]; fetched: number; rejected: number; reasons: Record<string, number>; incomplete?: string }

/** A recorded EIA v2 JSON response: its data rows are archived as a raw page, each row parsed on its own. */
async function readJson(db: Db, runId: number, file: string, text: string): Promise<FileRead> {
  const json = JSON.parse(text);
  const route = routeOf(file, json);
  if (!route) throw new Error('cannot tell the route (region, fuel or interchange)');
  const { data, total } = envelope.parse(json).response;
  await saveRawPage(db, runId, { route, request: file, offset: 0, rows: data });
  // A recorded response is one page: when it holds fewer rows than its total (EIA's 5,000-row cap),
  // the read it belongs to is incomplete, as the client's checkRead would say of a live one.
  const incomplete = data.length === total ? undefined : `${data.length} rows received of total ${total}: one page of a paged response, the rest is not in the file`;
  const points: EiaPoint[] = [];
  const reasons: Record<string, number> = {};
  for (const raw of data) {
    try { points.push(toPoint(route, raw)); } catch (err) { addReason(reasons, rowRejection(raw, err)); }
  }
  return { points, fetched: data.length, rejected: data.length - points.length, reasons, ...(incomplete ? { incomplete } : {}) };
}

/** A gridemissions wide CSV (E_ or EBA layout): its lines are archived as a raw page (route 'wide-csv'). */
async function readWideCsv(db: Db, runId: number, file: string, text: string, logger: Logger): Promise<FileRead> {
  const parsed = parseGridemissionsCsv(text);
  await saveRawPage(db, runId, { route: 'wide-csv', request: file, offset: 0, rows: text.split(/\r?\n/).filter((l) => l !== '') });
  if (parsed.ignoredColumns.length) logger.warn({ file, columns: parsed.ignoredColumns.slice(0, 20), count: parsed.ignoredColumns.length }, 'columns that are not EIA-930 series were ignored');
  return { points: parsed.points, fetched: parsed.points.length + parsed.rejected, rejected: parsed.rejected, reasons: parsed.reasons };
}

/**
 * Loads recorded EIA-930 data from a folder and its sub-folders (or one file): EIA v2 JSON responses (`*.json`) and
 * gridemissions wide CSV files (`*.csv`, E_ or EBA layout). Each file is one batch: values it
 * cannot read are rejected and counted by reason, a series and hour it gives two different values
 * is refused (settleDuplicates), and the per-file log line carries the same counts that the run's
 * totals sum. A file that cannot be read at all is an error of the run, not fatal to the others; so
 * is a JSON response holding fewer rows than its `total` (its rows are kept, the run is not complete).
 */
export async function replayDir(deps: { db: Db; logger: Logger }, target: string): Promise<RunTotals & { runId: number }> {
  const runId = await startRun(deps.db, 'replay', 'replay', { dir: target });
  const logger = deps.logger.child({ runId });
  const store = new PointStore(deps.db, logger, 'eia', { runId });
  const t: RunTotals = { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [], duplicates: 0, conflicting: 0, reasons: {} };
  const touched = { bas: new Set<string>(), from: Infinity, to: -Infinity };
  // a folder is read with its sub-folders (recorded data is often kept by BA or by year); nothing to read is an error
  const files = statSync(target).isDirectory()
    ? readdirSync(target, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json') || f.endsWith('.csv')).sort().map((f) => path.join(target, f))
    : [target];
  if (files.length === 0) t.errors.push(`${target}: no EIA v2 JSON (*.json) or gridemissions CSV (*.csv) files in it or its sub-folders`);
  for (const file of files) {
    const name = path.relative(statSync(target).isDirectory() ? target : path.dirname(target), file);
    try {
      const text = readFileSync(file, 'utf8');
      const read = name.endsWith('.csv') ? await readWideCsv(deps.db, runId, name, text, logger) : await readJson(deps.db, runId, name, text);
      for (const p of read.points) { touched.bas.add(p.ba); touched.from = Math.min(touched.from, p.ts.getTime()); touched.to = Math.max(touched.to, p.ts.getTime()); }
      const stored = await store.store(read.points, name);
      const reasons = { ...read.reasons };
      for (const [reason, n] of Object.entries(stored.reasons)) addReason(reasons, reason, n);
      const counts = { ...stored, rejected: read.rejected + stored.rejected, reasons };
      t.fetched += read.fetched;
      tally(t, counts);
      if (read.incomplete) {
        t.errors.push(`${name}: incomplete read: ${read.incomplete}`);
        logger.error({ file: name, problem: read.incomplete }, 'replayed file is an incomplete read: its rows are kept, the run is not complete');
      }
      logger.info({ file: name, values: read.fetched, inserted: counts.inserted, updated: counts.updated, rejected: counts.rejected, duplicates: counts.duplicates, conflicting: counts.conflicting, reasons }, 'replayed file');
    } catch (err) {
      t.errors.push(`${name}: ${(err as Error).message}`);
      logger.error({ file: name, err: (err as Error).message }, 'replay file failed');
    }
  }
  if (touched.bas.size) await checkTouched({ db: deps.db, logger }, t, { bas: [...touched.bas], from: new Date(touched.from), to: new Date(touched.to), runId });
  await finishRun(deps.db, runId, t);
  return { ...t, runId };
}
