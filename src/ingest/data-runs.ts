import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { zonedInstant } from '../platform/instant.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';
/** Who writes through the data API: a worker key, or a signed-in admin ('user:<id>'). */
export interface DataCaller { id: string; name: string | null }
import type { EiaPoint, EiaRoute } from './eia-schema.ts';
import { addReason, PointStore } from './store-points.ts';
import { finishRun, startRun, type RunTotals } from './run-ledger.ts';
import { checkTouched } from './check-runner.ts';
import { MAX_LISTED_ERRORS, observationRow, type BatchResult, type RowError } from './data-api.ts';
import { EIA_ROUTES } from './incremental-plan.ts';
import { distinctItems } from '../platform/input-guard.ts';

/*
 * The server side of the off-site worker (gridpulse worker --remote): it fetches EIA-930 itself and
 * writes here through the data API. A run is opened under the worker's own id (a UUID, so the
 * worker can queue the open, its batches and the close on disk and send them later, and a repeat
 * after a lost answer changes nothing), its rows are stored exactly as a local EIA ingest stores
 * them (PointStore, source eia) and its close runs the same quality checks on the same range.
 */

// the shared instant (bounded length, offset and years: a year 0000 would reach PostgreSQL as no date it holds)
const hour = zonedInstant().transform((s) => new Date(s))
  .refine((d) => d.getTime() % HOUR === 0, 'must be the start of an hour (UTC)');

/**
 * SQL for the run's `rejections` ({reason: rows}) plus the reasons in the JSON text parameter `param`,
 * summed per reason in the statement itself (batches of one run may arrive side by side).
 */
const ADD_REASONS = (param: string) => `(SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb) FROM (
    SELECT k, sum(v::integer) AS n FROM (SELECT * FROM jsonb_each_text(rejections) UNION ALL SELECT * FROM jsonb_each_text(${param}::text::jsonb)) AS e(k, v)
    GROUP BY k) AS s)`;

export const RUN_KINDS = ['hourly', 'backfill', 'daily', 'cli'] as const;

export const runOpenBody = z.object({
  id: z.uuid().describe('the worker\'s own id for the run; opening the same id again returns the same run'),
  kind: z.enum(RUN_KINDS).describe('hourly (incremental pass), backfill (a gap), daily, cli (a range by hand)'),
  params: z.object({
    bas: distinctItems(z.array(z.string().regex(/^[A-Z0-9]{2,6}$/, 'an EIA BA code such as CISO')).min(1).max(500)).describe('BAs the run fetches'),
    from: hour.describe('first hour (start, ISO UTC)'),
    to: hour.describe('last hour (start, ISO UTC), inclusive'),
    routes: distinctItems(z.array(z.enum(EIA_ROUTES as [EiaRoute, ...EiaRoute[]])).min(1)).describe('EIA routes: region, fuel, interchange'),
  }).refine((p) => p.from.getTime() <= p.to.getTime(), { path: ['to'], message: 'must not be before from' }),
});

export const runFinishBody = z.object({
  fetched: z.number().int().min(0).describe('EIA rows the worker fetched'),
  requests: z.number().int().min(0).describe('EIA requests, retries included'),
  retries: z.number().int().min(0),
  rejected: z.number().int().min(0).describe('fetched rows the worker could not map to a series (never sent)'),
  reasons: z.record(z.string().max(200), z.number().int().min(0)).default({}).describe('the worker\'s `rejected` rows by reason ({reason: rows}), added to the run\'s rejections'),
  errors: z.array(z.string().max(2000)).max(1000).describe('what failed (a day-route, EIA refusing, …); empty when all went well'),
});

interface RunRow {
  id: number; status: string; params: { bas: string[]; from: string; to: string; closed?: boolean };
  rows_inserted: number; rows_updated: number; rows_rejected: number; rows_duplicate: number; rows_conflicting: number; rejections: Record<string, number>;
}

/**
 * The worker's run of this id opened with this key. Nothing keeps two concurrent opens of one id from both inserting
 * (openWorkerRun looks, then inserts): the first opened (lowest id) is the run, every time, so batches never split
 * between the two by the plan's row order.
 */
async function findRun(db: Db, workerRun: string, key: DataCaller): Promise<RunRow | undefined> {
  const [r] = await db.query<RunRow>(
    `SELECT id, status, params, rows_inserted, rows_updated, rows_rejected, rows_duplicate, rows_conflicting, rejections FROM ingest_runs
     WHERE params->>'workerRun' = $1 AND params->>'apiKey' = $2 ORDER BY id LIMIT 1`, [workerRun, key.id]);
  return r;
}

async function requireRun(db: Db, workerRun: string, key: DataCaller, field: string): Promise<RunRow> {
  const run = await findRun(db, workerRun, key);
  if (!run) throw new HttpProblem(404, `${field}: no run '${workerRun}' opened with this key (POST /api/v1/data/runs first)`, field);
  return run;
}

/** Opens (or finds again) a worker's run in the ledger: kind "<kind> (worker <key name or id>)", source eia. */
export async function openWorkerRun(db: Db, body: z.infer<typeof runOpenBody>, key: DataCaller, logger: Logger): Promise<{ runId: number; id: string; created: boolean }> {
  const found = await findRun(db, body.id, key);
  if (found) return { runId: found.id, id: body.id, created: false };
  const { bas, from, to, routes } = body.params;
  const runId = await startRun(db, `${body.kind} (worker ${key.name ?? key.id})`, 'eia',
    { bas, from: from.toISOString(), to: to.toISOString(), routes, apiKey: key.id, workerRun: body.id }, null);
  logger.info({ runId, workerRun: body.id, kind: body.kind }, 'worker run opened');
  return { runId, id: body.id, created: true };
}

/** Rows of a series type as the EIA point they came from (the inverse of pointSeries). */
const REGION_CODES: Record<string, string> = { demand: 'D', forecast: 'DF', net_generation: 'NG', interchange: 'TI' };

function toEiaPoint(r: z.infer<typeof observationRow>): EiaPoint | RowError['message'] {
  if (r.series !== undefined) return 'rows of a worker run name ba, type and subtype (EIA series are created here as EIA ingestion creates them)';
  const ts = r.ts;
  if (r.type! in REGION_CODES) return r.subtype === '' ? { route: 'region', ba: r.ba!, code: REGION_CODES[r.type!]!, ts, value: r.value } : `type ${r.type} has no subtype`;
  if (r.type === 'generation_by_fuel') return r.subtype ? { route: 'fuel', ba: r.ba!, code: r.subtype, ts, value: r.value } : 'a fuel code is required';
  if (r.type === 'ba_interchange') return r.subtype ? { route: 'interchange', ba: r.ba!, code: r.subtype, ts, value: r.value } : 'the neighbour BA is required';
  return `type ${r.type} is not an EIA-930 series`;
}

/**
 * A batch of a worker run: every row validated on its own (bad ones listed by index, field and
 * message), the good ones stored as EIA data exactly as a local ingest stores them (quality
 * flags set here, as for EIA), and the counts added to the run.
 */
export async function ingestWorkerBatch(deps: { db: Db; logger: Logger }, workerRun: string, rows: unknown[], key: DataCaller): Promise<BatchResult> {
  const { db } = deps;
  const run = await requireRun(db, workerRun, key, 'run');
  const logger = deps.logger.child({ runId: run.id, workerRun });
  const known = new Set((await db.query<{ code: string }>('SELECT code FROM balancing_authorities')).map((b) => b.code));
  const errors: RowError[] = [];
  const reasons: Record<string, number> = {};
  let rejected = 0;
  const reject = (e: RowError) => { rejected++; addReason(reasons, `invalid ${e.field}`); if (errors.length < MAX_LISTED_ERRORS) errors.push(e); };
  const points: EiaPoint[] = [];
  for (const [index, raw] of rows.entries()) {
    const parsed = observationRow.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      reject({ index, field: issue.path.join('.') || 'row', message: issue.message });
      continue;
    }
    const p = toEiaPoint(parsed.data);
    if (typeof p === 'string') { reject({ index, field: parsed.data.series !== undefined ? 'series' : p.startsWith('type') ? 'type' : 'subtype', message: p }); continue; }
    if (!known.has(p.ba)) { reject({ index, field: 'ba', message: `unknown balancing authority '${p.ba}'` }); continue; }
    if (p.route === 'interchange' && !known.has(p.code)) { reject({ index, field: 'subtype', message: `unknown neighbour balancing authority '${p.code}'` }); continue; }
    points.push(p);
  }
  const stored = await new PointStore(db, logger, 'eia', { runId: run.id }).store(points, 'worker batch');
  rejected += stored.rejected;
  for (const [reason, n] of Object.entries(stored.reasons)) addReason(reasons, reason, n);
  await db.query(
    `UPDATE ingest_runs SET rows_inserted = rows_inserted + $2, rows_updated = rows_updated + $3, rows_rejected = rows_rejected + $4,
       rows_duplicate = rows_duplicate + $5, rows_conflicting = rows_conflicting + $6, rejections = ${ADD_REASONS('$7')}, heartbeat_at = now() WHERE id = $1`,
    [run.id, stored.inserted, stored.updated, rejected, stored.duplicates, stored.conflicting, JSON.stringify(reasons)]);
  logger.info({ received: rows.length, accepted: points.length, inserted: stored.inserted, updated: stored.updated, rejected, duplicates: stored.duplicates, conflicting: stored.conflicting }, 'worker batch');
  return {
    runId: run.id, received: rows.length, accepted: points.length - stored.rejected - stored.duplicates, inserted: stored.inserted, updated: stored.updated,
    rejected, duplicates: stored.duplicates, conflicting: stored.conflicting, errors,
  };
}

export interface WorkerRunSummary { runId: number; id: string; status: string; fetched: number; inserted: number; updated: number; rejected: number; errors: number }

/**
 * Closes a worker run: the quality checks over the BAs and hours it covered (as a local ingest
 * runs them, when it wrote anything), then the ledger row with the worker's fetch counts and the
 * server's store counts. A repeated close (an answer lost on the way back) changes nothing.
 */
export async function finishWorkerRun(deps: { db: Db; logger: Logger }, workerRun: string, body: z.infer<typeof runFinishBody>, key: DataCaller): Promise<WorkerRunSummary> {
  const { db } = deps;
  const run = await requireRun(db, workerRun, key, 'id');
  const summary = async (): Promise<WorkerRunSummary> => {
    const [r] = await db.query<{ status: string; rows_fetched: number; rows_inserted: number; rows_updated: number; rows_rejected: number; errors: string[] }>(
      'SELECT status, rows_fetched, rows_inserted, rows_updated, rows_rejected, errors FROM ingest_runs WHERE id = $1', [run.id]);
    return { runId: run.id, id: workerRun, status: r!.status, fetched: r!.rows_fetched, inserted: r!.rows_inserted, updated: r!.rows_updated, rejected: r!.rows_rejected, errors: r!.errors.length };
  };
  if (run.params.closed) return summary();
  const logger = deps.logger.child({ runId: run.id, workerRun });
  const reasons = { ...run.rejections };
  for (const [reason, n] of Object.entries(body.reasons)) addReason(reasons, reason, n);
  const totals: RunTotals = {
    fetched: body.fetched, inserted: run.rows_inserted, updated: run.rows_updated, rejected: run.rows_rejected + body.rejected,
    requests: body.requests, retries: body.retries, errors: [...body.errors],
    duplicates: run.rows_duplicate, conflicting: run.rows_conflicting, reasons,
  };
  await checkTouched({ db, logger }, totals, { bas: run.params.bas, from: new Date(run.params.from), to: new Date(run.params.to), runId: run.id });
  await db.transaction(async (tx) => {
    await finishRun(tx, run.id, totals);
    await tx.query(`UPDATE ingest_runs SET params = params || '{"closed": true}'::jsonb WHERE id = $1`, [run.id]);
  });
  logger.info({ ...totals, errors: totals.errors.length }, 'worker run finished');
  return summary();
}
