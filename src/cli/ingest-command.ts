import { SingleBar, Presets } from 'cli-progress';
import { pino } from 'pino';
import { createLogger } from '../platform/log.ts';
import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { listBas } from '../grid/ba-repository.ts';
import { EiaClient } from '../ingest/eia-client.ts';
import { ingestRange, runParams, type IngestRequest } from '../ingest/ingest-range.ts';
import { findResumable, hasParams, markAbandonedRuns } from '../ingest/run-ledger.ts';
import { replayDir } from '../ingest/replay.ts';
import type { EiaRoute } from '../ingest/eia-schema.ts';
import type { RunTotals } from '../ingest/run-ledger.ts';
import { isCalendarDate } from '../grid/local-day.ts';
import { clipToActive } from '../grid/active-dates.ts';
import { onInterrupt } from '../platform/interrupts.ts';

const routeNames: Record<string, EiaRoute> = { region: 'region', fuel: 'fuel', interchange: 'interchange' };

/**
 * The BAs of `--ba`, checked against the registry: an unknown code stops the command naming it; a BA that reported
 * to EIA-930 on none of the days asked is left out with a note (ingestion never asks for a BA outside its dates).
 */
export async function namedBas(db: Db, list: string, from: Date, to: Date): Promise<string[]> {
  const codes = [...new Set(list.split(',').map((b) => b.trim().toUpperCase()).filter((b) => b !== ''))];
  const registry = new Map((await listBas(db, { includeRetired: true })).map((b) => [b.code, b]));
  const unknown = codes.filter((c) => !registry.has(c));
  if (unknown.length || codes.length === 0) throw new Error(`--ba: ${unknown.length ? `unknown balancing authority ${unknown.join(', ')}` : 'no BA code given'} (see GET /api/v1/bas?includeRetired=true)`);
  const lastHour = new Date(to.getTime() + 86_400_000 - 3_600_000);
  for (const c of codes) {
    const b = registry.get(c)!;
    if (clipToActive(b, from, lastHour)) continue;
    const dates = [b.reportingSince ? `began reporting on ${b.reportingSince}` : '', b.retiredOn ? `retired on ${b.retiredOn}` : ''].filter(Boolean).join(', ');
    process.stderr.write(`${c} ${dates}: EIA-930 has no data for it in this range\n`);
  }
  return codes;
}

function day(s: string, flag: string): Date {
  if (!isCalendarDate(s)) throw new Error(`${flag}: expected a real calendar date YYYY-MM-DD between 2000 and 2099, got '${s}'`);
  return new Date(`${s}T00:00:00Z`);
}

/** The summary table printed after a run (ingest and replay): counts, rejections by reason, the first errors. */
export function summary(t: RunTotals & { runId: number }): string {
  const rows = [['run', t.runId], ['rows fetched', t.fetched], ['inserted', t.inserted], ['updated', t.updated], ['rejected', t.rejected],
    ['  conflicting', t.conflicting ?? 0], ['duplicates', t.duplicates ?? 0], ['requests', t.requests], ['retries', t.retries], ['errors', t.errors.length]];
  const reasons = Object.entries(t.reasons ?? {}).sort((a, b) => b[1] - a[1]).map(([reason, n]) => `  ${String(n).padStart(8)}  ${reason}`);
  return rows.map(([k, v]) => `${String(k).padEnd(14)} ${v}`).join('\n')
    + (reasons.length ? '\nrejected by reason:\n' + reasons.join('\n') : '')
    + (t.errors.length ? '\n' + t.errors.slice(0, 10).join('\n') : '') + '\n';
}

/**
 * The run to continue: the one named by --resume, else the newest interrupted run of the same
 * command (same BAs, range and routes), so re-running a killed command picks up where it stopped.
 * A named run must be of the same command: its finished day-routes are skipped, and those of
 * other BAs or routes would leave holes.
 */
export async function runToResume(db: Db, req: IngestRequest, resume: string | undefined): Promise<number | undefined> {
  if (resume !== undefined) {
    if (!/^\d+$/.test(resume) || Number(resume) > 2_147_483_647) throw new Error(`--resume: expected a run id, got '${resume}'`);
    const same = await hasParams(db, Number(resume), 'cli', runParams(req));
    if (same === undefined) throw new Error(`--resume: no run ${resume}`);
    if (!same) throw new Error(`--resume: run ${resume} was not an ingest of the same BAs, days and routes`);
    return Number(resume);
  }
  await markAbandonedRuns(db);
  return findResumable(db, 'cli', runParams(req));
}

export async function ingestCommand(opts: { ba?: string; from?: string; to?: string; routes: string; replay?: string; resume?: string }): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, pino.destination(2));
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    if (opts.replay) {
      const t = await replayDir({ db, logger }, opts.replay);
      process.stdout.write(summary(t));
      return t.errors.length ? 1 : 0;
    }
    if (!config.EIA_API_KEY) throw new Error('EIA_API_KEY is not set: get a free key at https://www.eia.gov/opendata/register.php');
    const routes = opts.routes.split(',').map((r) => {
      const route = routeNames[r.trim()];
      if (!route) throw new Error(`--routes: unknown route '${r}' (region, fuel, interchange)`);
      return route;
    });
    const to = opts.to ? day(opts.to, '--to') : new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    const from = opts.from ? day(opts.from, '--from') : new Date(to.getTime() - 2 * 86_400_000);
    if (to < from) throw new Error('--to: must not be before --from');
    const bas = opts.ba ? await namedBas(db, opts.ba, from, to) : (await listBas(db)).map((b) => b.code);
    const client = new EiaClient({ baseUrl: config.EIA_API_URL, apiKey: config.EIA_API_KEY, logger, minIntervalMs: config.EIA_MIN_INTERVAL_MS });
    const req: IngestRequest = { bas, from, to: new Date(to.getTime() + 86_400_000 - 3_600_000), routes };
    req.resume = await runToResume(db, req, opts.resume);
    if (req.resume) process.stderr.write(`resuming run ${req.resume}: finished day-routes are skipped\n`);
    // Ctrl-C stops after the page in hand: the run is recorded as partial and the same command resumes it;
    // a second Ctrl-C exits at once, and the same command still resumes (the dead run is seen by its owner)
    const stop = new AbortController();
    const offInterrupt = onInterrupt(() => stop.abort());
    const bar = new SingleBar({ format: 'ingest [{bar}] {value}/{total} day-routes | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic);
    bar.start(1, 0);
    const t = await ingestRange({ db, client, logger, signal: stop.signal, onProgress: (d, total) => { bar.setTotal(total); bar.update(d); } }, req).finally(offInterrupt);
    bar.stop();
    process.stdout.write(summary(t));
    return t.errors.length ? 1 : 0;
  } finally {
    await db.close();
  }
}
