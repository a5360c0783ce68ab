import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import { metricsOf } from '../platform/metrics.ts';
import { ensureSeriesMany, type SeriesSpec } from '../grid/series-repository.ts';
import { upsertObservations, type ObservationInput, type Quality } from '../grid/observation-repository.ts';
import type { EiaPoint } from './eia-schema.ts';
import { changedInTransaction, notifyHoursChanged } from '../platform/change-events.ts';

const regionTypes: Record<string, string> = { D: 'demand', DF: 'forecast', NG: 'net_generation', TI: 'interchange' };

export interface StoreCounts { inserted: number; updated: number; rejected: number }

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

  constructor(db: Db, logger: Logger, source = 'eia', opts: { onStored?: OnStored } = {}) {
    this.db = db;
    this.logger = logger;
    this.source = source;
    this.onStored = opts.onStored;
  }

  async store(points: EiaPoint[]): Promise<StoreCounts> {
    this.knownBas ??= new Set((await this.db.query<{ code: string }>('SELECT code FROM balancing_authorities')).map((r) => r.code));
    let rejected = 0;
    const accepted: Array<{ p: EiaPoint; type: string; key: string }> = [];
    for (const p of points) {
      const { type, subtype } = pointSeries(p);
      if (!type || !this.knownBas.has(p.ba) || (p.route === 'interchange' && !this.knownBas.has(p.code))) {
        rejected++;
        this.logger.warn({ ba: p.ba, route: p.route, code: p.code }, 'rejected point: unknown BA or type');
        continue;
      }
      accepted.push({ p, type, key: this.resolve(p.ba, type, subtype, p) });
    }
    await this.createPending();
    const rows: ObservationInput[] = [];
    const seen = new Set<string>();
    for (const { p, type, key } of accepted) {
      const id = this.ids.get(key)!;
      const dedupe = `${id}|${p.ts.getTime()}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      rows.push({ seriesId: id, ts: p.ts, value: p.value, quality: quality(type, p.value) });
    }
    const { inserted, updated, changed } = await commitObservations(this.db, rows, this.source);
    if (changed) this.onStored?.(changed.bas, changed.newest);
    return { inserted, updated, rejected };
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
