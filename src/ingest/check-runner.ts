import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { withFields } from '../platform/log.ts';
import { consecutiveRuns, defaultCheckOptions, runChecks, type CheckOptions, type Finding, type SeriesHours } from './quality-checks.ts';
import type { NamedConflict } from './store-points.ts';
import { HOUR_MS as HOUR } from '../grid/time.ts';

export interface CheckRequest {
  /** BAs to judge; undefined = every BA with data */
  bas?: string[] | undefined;
  /** first and last hour (start) to judge, inclusive */
  from: Date;
  to: Date;
  runId: number;
}

export interface CheckSummary { findings: number; flaggedPoints: number; series: number; hours: number; ms: number }

/** BAs judged per step: a step's read, checks and writes stay short, so the event loop serves requests in between. */
const CHECK_BAS = 4;

/**
 * Loads the window (plus the trailing context the rolling median needs), runs every check, stores
 * the findings under the run and marks point defects anomalous. Values are never written.
 * Works a few BAs at a time (each with the counterparts of its interchange, so the findings are those of one
 * pass over all of them): on PGlite one query over two weeks of every series held the event loop for seconds.
 */
export async function runQualityChecks(deps: { db: Db; logger: Logger; options?: CheckOptions }, req: CheckRequest): Promise<CheckSummary> {
  const t0 = performance.now();
  const o = deps.options ?? defaultCheckOptions;
  const from = new Date(Math.floor(req.from.getTime() / HOUR) * HOUR);
  const contextFrom = new Date(from.getTime() - o.spikeWindow * HOUR);
  const hours = Math.floor((req.to.getTime() - contextFrom.getTime()) / HOUR) + 1;
  if (hours <= 0) return { findings: 0, flaggedPoints: 0, series: 0, hours: 0, ms: 0 };
  const bas = req.bas ?? (await deps.db.query<{ ba: string }>('SELECT DISTINCT ba_code AS ba FROM series ORDER BY ba_code')).map((r) => r.ba);
  let findings = 0;
  let flaggedPoints = 0;
  let series = 0;
  for (let i = 0; i < bas.length; i += CHECK_BAS) {
    const { own, all } = await loadWindow(deps.db, bas.slice(i, i + CHECK_BAS), contextFrom, hours);
    const found = runChecks(own, all, o.spikeWindow, o);
    flaggedPoints += await deps.db.transaction(async (tx) => {
      await storeFindings(tx, req.runId, contextFrom, found);
      return markAnomalous(tx, contextFrom, own, found);
    });
    findings += found.length;
    series += own.length;
  }
  const summary = { findings, flaggedPoints, series, hours: hours - o.spikeWindow, ms: Math.round(performance.now() - t0) };
  withFields(deps.logger, { runId: req.runId }).info(summary, 'quality checks finished');
  return summary;
}

/**
 * The post-ingest check: runs when the run wrote something, on the range it touched. A failing
 * check is logged and recorded on the run; it never undoes the ingest.
 */
export async function checkTouched(deps: { db: Db; logger: Logger }, totals: { inserted: number; updated: number; errors: string[] }, req: CheckRequest): Promise<void> {
  if (totals.inserted + totals.updated === 0) return;
  try {
    await runQualityChecks(deps, req);
  } catch (err) {
    totals.errors.push(`quality checks: ${(err as Error).message}`);
    withFields(deps.logger, { runId: req.runId }).error({ err: (err as Error).message }, 'quality checks failed');
  }
}

/**
 * Every series of the BAs, column-aligned from `from` for `hours` hours, plus the counterparts of their interchange.
 * One row per series with its hours and values as arrays: decoding a row per observation cost PGlite seconds.
 */
async function loadWindow(db: Db, bas: string[], from: Date, hours: number): Promise<{ own: SeriesHours[]; all: SeriesHours[] }> {
  const to = new Date(from.getTime() + (hours - 1) * HOUR);
  const rows = await db.query<{ id: number; key: string; ba: string; type: string; subtype: string; ms: number[]; vals: Array<number | null> }>(
    `SELECT s.id, s.key, s.ba_code AS ba, s.type, s.subtype,
            array_agg(extract(epoch FROM o.ts)::float8 * 1000 ORDER BY o.ts) AS ms, array_agg(o.value ORDER BY o.ts) AS vals
     FROM series s JOIN observations o ON o.series_id = s.id
     WHERE (s.ba_code = ANY ($1) OR (s.type = 'ba_interchange' AND s.subtype = ANY ($1)))
       AND o.ts >= $2 AND o.ts <= $3
     GROUP BY s.id ORDER BY s.id`, [bas, from, to]);
  const all: SeriesHours[] = rows.map((r) => {
    const values = new Array<number | null>(hours).fill(null);
    for (let k = 0; k < r.ms.length; k++) {
      const v = r.vals[k];
      values[Math.round((Number(r.ms[k]) - from.getTime()) / HOUR)] = v === null || v === undefined ? null : Number(v);
    }
    return { id: Number(r.id), key: r.key, ba: r.ba, type: r.type, subtype: r.subtype, values };
  });
  const wanted = new Set(bas);
  return { own: all.filter((s) => wanted.has(s.ba)), all };
}

/** Hours listed in the detail of one conflict finding (its count covers all). */
const LISTED_CONFLICT_HOURS = 24;

/**
 * Conflicting duplicates as findings of the run: one per series and run of consecutive hours,
 * severity error (the hours were refused), with every value each hour received.
 */
export async function recordConflicts(db: Db, runId: number, conflicts: readonly NamedConflict[]): Promise<void> {
  if (conflicts.length === 0) return;
  const origin = Math.min(...conflicts.map((c) => c.ts.getTime()));
  const index = (c: NamedConflict) => Math.round((c.ts.getTime() - origin) / HOUR);
  const bySeries = new Map<string, NamedConflict[]>();
  for (const c of conflicts) bySeries.set(c.seriesKey, [...(bySeries.get(c.seriesKey) ?? []), c]);
  const findings: Finding[] = [];
  for (const list of bySeries.values()) {
    const at = new Map(list.map((c) => [index(c), c]));
    for (const [from, to] of consecutiveRuns([...at.keys()].sort((a, b) => a - b))) {
      const hours = [...at.keys()].filter((h) => h >= from && h <= to).sort((a, b) => a - b);
      findings.push({
        check: 'conflicting_duplicate', severity: 'error', ba: list[0]!.ba, seriesKey: list[0]!.seriesKey, from, to, count: hours.length,
        detail: { choice: 'refused', hours: hours.slice(0, LISTED_CONFLICT_HOURS).map((h) => ({ hour: h, values: at.get(h)!.values.map((v) => v.value), qualities: at.get(h)!.values.map((v) => v.quality) })) },
      });
    }
  }
  await storeFindings(db, runId, new Date(origin), findings);
}

async function storeFindings(tx: Db, runId: number, origin: Date, findings: Finding[]): Promise<void> {
  if (findings.length === 0) return;
  const at = (h: number) => new Date(origin.getTime() + h * HOUR).toISOString();
  await tx.query(
    `INSERT INTO quality_checks (run_id, check_name, ba_code, series_key, ts_from, ts_to, severity, count, detail)
     SELECT $1, c, b, k, f, t, s, n, d::jsonb
     FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::integer[], $9::text[]) AS x(c, b, k, f, t, s, n, d)`,
    [runId, findings.map((f) => f.check), findings.map((f) => f.ba), findings.map((f) => f.seriesKey),
      findings.map((f) => at(f.from)), findings.map((f) => at(f.to)), findings.map((f) => f.severity), findings.map((f) => f.count),
      findings.map((f) => JSON.stringify(withInstants(f.detail, at)))]);
}

/** Detail objects name hours by index; store them as ISO instants. */
function withInstants(detail: Record<string, unknown>, at: (h: number) => string): unknown {
  return JSON.parse(JSON.stringify(detail), (k, v) => (k === 'hour' && typeof v === 'number' ? (v < 0 ? null : at(v)) : v));
}

/**
 * Point defects get quality 3 (anomalous). Only the exact value the check judged is marked, so
 * a revision that landed meanwhile is not mis-flagged; missing (2) stays missing.
 */
async function markAnomalous(tx: Db, origin: Date, series: SeriesHours[], findings: Finding[]): Promise<number> {
  const values = new Map(series.map((s) => [s.id, s.values]));
  const ids: number[] = [];
  const ts: string[] = [];
  const vals: number[] = [];
  for (const f of findings) {
    if (!f.points) continue;
    for (const h of f.points.hours) {
      ids.push(f.points.seriesId);
      ts.push(new Date(origin.getTime() + h * HOUR).toISOString());
      vals.push(values.get(f.points.seriesId)![h]!);
    }
  }
  if (ids.length === 0) return 0;
  const [r] = await tx.query<{ n: number }>(
    `WITH marked AS (
       UPDATE observations o SET quality = 3
       FROM unnest($1::integer[], $2::timestamptz[], $3::double precision[]) AS p(series_id, ts, value)
       WHERE o.series_id = p.series_id AND o.ts = p.ts AND o.value = p.value AND o.quality IN (0, 1)
       RETURNING 1)
     SELECT count(*)::integer AS n FROM marked`, [ids, ts, vals]);
  return r!.n;
}

export interface CheckFilter { run?: number | undefined; ba?: string | undefined; check?: string | undefined; from?: Date | undefined; to?: Date | undefined }

export interface StoredFinding {
  id: number; runId: number; check: string; ba: string; series: string; from: string; to: string;
  severity: string; count: number; detail: unknown;
}

/** Findings, newest first, overlapping [from, to] when given. */
export async function listFindings(db: Db, f: CheckFilter, limit: number, offset: number): Promise<StoredFinding[]> {
  const rows = await db.query<{ id: number | string; run_id: number; check_name: string; ba_code: string; series_key: string; ts_from: Date | string; ts_to: Date | string; severity: string; count: number; detail: unknown }>(
    `SELECT id, run_id, check_name, ba_code, series_key, ts_from, ts_to, severity, count, detail FROM quality_checks
     WHERE ($1::integer IS NULL OR run_id = $1) AND ($2::text IS NULL OR ba_code = $2) AND ($3::text IS NULL OR check_name = $3)
       AND ($4::timestamptz IS NULL OR ts_to >= $4) AND ($5::timestamptz IS NULL OR ts_from < $5)
     ORDER BY id DESC LIMIT $6 OFFSET $7`,
    [f.run ?? null, f.ba ?? null, f.check ?? null, f.from ?? null, f.to ?? null, limit, offset]);
  return rows.map((r) => ({
    id: Number(r.id), runId: r.run_id, check: r.check_name, ba: r.ba_code, series: r.series_key,
    from: new Date(r.ts_from).toISOString(), to: new Date(r.ts_to).toISOString(), severity: r.severity, count: r.count,
    detail: r.detail,
  }));
}
