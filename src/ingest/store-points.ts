import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { withFields } from '../platform/log.ts';
import { metricsOf } from '../platform/metrics.ts';
import { ensureSeriesMany, seriesKey, type SeriesSpec } from '../grid/series-repository.ts';
import { upsertObservations, type ObservationInput, type Quality } from '../grid/observation-repository.ts';
import type { EiaPoint } from './eia-schema.ts';
import { changedInTransaction, notifyHoursChanged } from '../platform/change-events.ts';
import { recordConflicts } from './check-runner.ts';

const regionTypes: Record<string, string> = { D: 'demand', DF: 'forecast', NG: 'net_generation', TI: 'interchange' };

/**
 * What one batch did. `rejected` counts every row not stored for a fault of the row (it includes
 * `conflicting`), and `reasons` says why, as {reason: rows}; `duplicates` are exact repeats, dropped
 * without harm and not counted as rejected.
 */
export interface StoreCounts { inserted: number; updated: number; rejected: number; duplicates: number; conflicting: number; reasons: Record<string, number> }

/** Adds `n` rows to a reason count. */
export function addReason(reasons: Record<string, number>, reason: string, n = 1): void {
  if (n > 0) reasons[reason] = (reasons[reason] ?? 0) + n;
}

/** The rejection reason of a row refused by the duplicate rule (see settleDuplicates). */
export const CONFLICT_REASON = 'conflicting values for one series and hour in one batch';

/** One (series, hour) that one batch gave different values: every row of it was refused. */
export interface Conflict {
  seriesId: number;
  ts: Date;
  /** each row's value and quality, in batch order */
  values: Array<{ value: number | null; quality: Quality }>;
  /** the rows' positions in the batch, in batch order */
  indices: number[];
}

export interface Settled<T> { unique: T[]; duplicates: number; conflicting: number; conflicts: Conflict[] }

/**
 * The one rule for a key (series, hour) that appears more than once in one batch — an EIA read, a
 * replay file, a data API request — used by every path that writes observations:
 * - every row has the same value and quality: an exact duplicate, harmless. It is stored once; the
 *   repeats are counted in `duplicates` and are not rejections.
 * - the rows disagree: a conflict. Nothing tells which value is right, so the key is refused: none
 *   of its rows is stored (an hour already stored keeps its value), every one counts as rejected and
 *   in `conflicting`, and the caller logs the values and records a `conflicting_duplicate` finding.
 * Values repeated across batches are not duplicates: a later batch revises an earlier one.
 */
export function settleDuplicates<T extends ObservationInput>(rows: readonly T[]): Settled<T> {
  const byKey = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = `${r.seriesId}|${r.ts.getTime()}`;
    const list = byKey.get(k);
    if (list) list.push(i); else byKey.set(k, [i]);
  });
  const drop = new Set<number>();
  const conflicts: Conflict[] = [];
  let duplicates = 0;
  let conflicting = 0;
  for (const indices of byKey.values()) {
    if (indices.length === 1) continue;
    const first = rows[indices[0]!]!;
    if (indices.every((i) => rows[i]!.value === first.value && rows[i]!.quality === first.quality)) {
      duplicates += indices.length - 1;
      for (const i of indices.slice(1)) drop.add(i);
      continue;
    }
    conflicting += indices.length;
    for (const i of indices) drop.add(i);
    conflicts.push({ seriesId: first.seriesId, ts: first.ts, values: indices.map((i) => ({ value: rows[i]!.value, quality: rows[i]!.quality })), indices });
  }
  return { unique: drop.size ? rows.filter((_, i) => !drop.has(i)) : [...rows], duplicates, conflicting, conflicts };
}

/** A conflict with the names it is reported under. */
export type NamedConflict = Conflict & { ba: string; seriesKey: string };

/** Conflicts logged one by one (the rest summed up in one line); all of them become findings. */
const LOGGED_CONFLICTS = 20;

/**
 * Logs each conflict (structured: series, hour, every value, run id) and stores them as
 * `conflicting_duplicate` findings of the run, shown at /api/v1/pipeline/checks.
 */
export async function reportConflicts(db: Db, logger: Logger, runId: number | undefined, conflicts: NamedConflict[], batch: string): Promise<void> {
  if (conflicts.length === 0) return;
  const log = runId === undefined ? logger : withFields(logger, { runId });
  for (const c of conflicts.slice(0, LOGGED_CONFLICTS)) {
    log.warn({ batch, series: c.seriesKey, ts: c.ts.toISOString(), values: c.values.map((v) => v.value), qualities: c.values.map((v) => v.quality), rows: c.indices },
      'conflicting duplicate refused: one series and hour with different values in one batch');
  }
  if (conflicts.length > LOGGED_CONFLICTS) log.warn({ batch, more: conflicts.length - LOGGED_CONFLICTS }, 'more conflicting duplicates refused (all are findings of the run)');
  if (runId !== undefined) await recordConflicts(db, runId, conflicts);
}

/** Called after a batch commits with the BAs that got new or changed hours and the newest such hour. */
export type OnStored = (bas: string[], newest: Date) => void;

export interface CommitResult { inserted: number; updated: number; changed: { bas: string[]; newest: Date } | undefined }

/**
 * Writes one batch in one transaction: keeps check flags on unchanged values, upserts, refreshes
 * the touched local-day rollups, and announces the change (pg_notify, delivered on commit).
 * Committed rows are counted in gridpulse_ingest_rows_written_total when the Db has metrics attached.
 */
export async function commitObservations(db: Db, rows: ObservationInput[], source: string): Promise<CommitResult> {
  if (rows.length === 0) return { inserted: 0, updated: 0, changed: undefined };
  const result = await writeObservations(db, rows, source);
  const written = metricsOf(db)?.counter('gridpulse_ingest_rows_written_total', 'observation rows committed by ingestion, by source and kind (inserted, updated)', ['source', 'kind']);
  if (written) {
    if (result.inserted) written.inc({ source, kind: 'inserted' }, result.inserted);
    if (result.updated) written.inc({ source, kind: 'updated' }, result.updated);
  }
  return result;
}

function writeObservations(db: Db, rows: ObservationInput[], source: string): Promise<CommitResult> {
  return db.transaction(async (tx) => {
    const counts = await upsertObservations(tx, await keepCheckFlags(tx, rows));
    if (counts.inserted + counts.updated === 0) return { ...counts, changed: undefined };
    const span = spanOf(rows);
    await tx.query('SELECT refresh_daily_rollups($1::integer[], $2, $3)', [span.ids, span.from, new Date(span.to.getTime() + 3_600_000)]);
    const changed = await changedInTransaction(tx, span.ids, span.from, span.to);
    if (changed) await notifyHoursChanged(tx, { bas: changed.bas, newest: changed.newest.toISOString(), source });
    return { ...counts, changed };
  });
}

function spanOf(rows: ObservationInput[]): { ids: number[]; from: Date; to: Date } {
  let min = Infinity;
  let max = -Infinity;
  const ids = new Set<number>();
  for (const r of rows) { ids.add(r.seriesId); min = Math.min(min, r.ts.getTime()); max = Math.max(max, r.ts.getTime()); }
  return { ids: [...ids], from: new Date(min), to: new Date(max) };
}

/**
 * A value the quality checks flagged anomalous stays flagged while the source re-sends the same
 * value; otherwise every re-delivery would reset the flag and count as an update. A revised
 * value arrives with its own quality and is checked again after the run.
 */
async function keepCheckFlags(tx: Db, rows: ObservationInput[]): Promise<ObservationInput[]> {
  const flagged = await tx.query<{ series_id: number; ts: Date | string }>(
    `SELECT o.series_id, o.ts FROM observations o
     JOIN unnest($1::integer[], $2::timestamptz[], $3::double precision[]) AS i(series_id, ts, value)
       ON o.series_id = i.series_id AND o.ts = i.ts
     WHERE o.quality = 3 AND o.value IS NOT DISTINCT FROM i.value`,
    [rows.map((r) => r.seriesId), rows.map((r) => r.ts.toISOString()), rows.map((r) => r.value)]);
  if (flagged.length === 0) return rows;
  const keys = new Set(flagged.map((f) => `${f.series_id}|${new Date(f.ts).getTime()}`));
  return rows.map((r) => (keys.has(`${r.seriesId}|${r.ts.getTime()}`) ? { ...r, quality: 'anomalous' } : r));
}

/** Maps points to series (created on first sight), flags quality, and upserts in one transaction. */
export class PointStore {
  private readonly ids = new Map<string, number>();
  private readonly pending = new Map<string, SeriesSpec>();
  private knownBas: Set<string> | undefined;
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly source: string;
  private readonly onStored: OnStored | undefined;
  private readonly runId: number | undefined;

  /** `runId`: the ledger run that conflicting duplicates are recorded under as findings. */
  constructor(db: Db, logger: Logger, source = 'eia', opts: { onStored?: OnStored; runId?: number } = {}) {
    this.db = db;
    this.logger = logger;
    this.source = source;
    this.onStored = opts.onStored;
    this.runId = opts.runId;
  }

  /**
   * Stores one batch (an EIA page, a replay file): points of unknown BAs or types are rejected,
   * repeats of one series and hour follow settleDuplicates. `batch` names it in logs.
   */
  async store(points: EiaPoint[], batch = 'batch'): Promise<StoreCounts> {
    this.knownBas ??= new Set((await this.db.query<{ code: string }>('SELECT code FROM balancing_authorities')).map((r) => r.code));
    const reasons: Record<string, number> = {};
    const refused = new Map<string, { ba: string; route: string; code: string; reason: string; points: number }>();
    const accepted: Array<{ p: EiaPoint; type: string; key: string }> = [];
    for (const p of points) {
      const { type, subtype } = pointSeries(p);
      const reason = !type ? `unknown ${p.route} type` : !this.knownBas.has(p.ba) || (p.route === 'interchange' && !this.knownBas.has(p.code)) ? 'unknown balancing authority' : undefined;
      if (reason) {
        addReason(reasons, reason);
        const k = `${p.ba}|${p.route}|${p.code}`;
        const seen = refused.get(k);
        if (seen) seen.points++; else refused.set(k, { ba: p.ba, route: p.route, code: p.code, reason, points: 1 });
        continue;
      }
      accepted.push({ p, type: type!, key: this.resolve(p.ba, type!, subtype, p) });
    }
    // one line per series refused, not one per point
    for (const r of refused.values()) this.logger.warn({ batch, ...r }, 'rejected points');
    await this.createPending();
    const rows = accepted.map(({ p, type, key }) => ({ seriesId: this.ids.get(key)!, ts: p.ts, value: p.value, quality: quality(type, p.value), seriesKey: seriesKey(p.ba, type, pointSeries(p).subtype), ba: p.ba }));
    const settled = settleDuplicates(rows);
    addReason(reasons, CONFLICT_REASON, settled.conflicting);
    await reportConflicts(this.db, this.logger, this.runId, settled.conflicts.map((c) => ({ ...c, ba: rows[c.indices[0]!]!.ba, seriesKey: rows[c.indices[0]!]!.seriesKey })), batch);
    const { inserted, updated, changed } = await commitObservations(this.db, settled.unique.map(({ seriesId, ts, value, quality: q }) => ({ seriesId, ts, value, quality: q })), this.source);
    if (changed) this.onStored?.(changed.bas, changed.newest);
    const rejected = Object.values(reasons).reduce((a, n) => a + n, 0);
    return { inserted, updated, rejected, duplicates: settled.duplicates, conflicting: settled.conflicting, reasons };
  }

  /** The cache key of a point's series; series not seen yet are queued for one batched lookup. */
  private resolve(ba: string, type: string, subtype: string, p: EiaPoint): string {
    const k = `${ba}|${type}|${subtype}`;
    if (!this.ids.has(k) && !this.pending.has(k)) {
      const eiaKey = p.route === 'region' ? `EBA.${ba}-ALL.${p.code}.H` : p.route === 'fuel' ? `EBA.${ba}-ALL.NG.${p.code}.H` : `EBA.${ba}-${p.code}.ID.H`;
      this.pending.set(k, { baCode: ba, type, subtype, eiaKey: this.source === 'eia' ? eiaKey : null, source: this.source });
    }
    return k;
  }

  private async createPending(): Promise<void> {
    if (this.pending.size === 0) return;
    const entries = [...this.pending];
    const ids = await ensureSeriesMany(this.db, entries.map(([, spec]) => spec));
    entries.forEach(([k], i) => this.ids.set(k, ids[i]!));
    this.pending.clear();
  }
}

/** The series (type, subtype) a point belongs to; type is undefined for an unknown region code. */
export function pointSeries(p: EiaPoint): { type: string | undefined; subtype: string } {
  const type = p.route === 'region' ? regionTypes[p.code] : p.route === 'fuel' ? 'generation_by_fuel' : 'ba_interchange';
  return { type, subtype: p.route === 'region' ? '' : p.code };
}

/** Flags, never drops: null → missing; negative demand → anomalous. */
export function quality(type: string, value: number | null): Quality {
  if (value === null) return 'missing';
  if ((type === 'demand' || type === 'forecast') && value < 0) return 'anomalous';
  return 'good';
}
