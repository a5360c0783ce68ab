import type { Db } from '../platform/db.ts';

export const QUALITY = ['good', 'estimated', 'missing', 'anomalous'] as const;
export type Quality = (typeof QUALITY)[number];

export interface ObservationInput { seriesId: number; ts: Date; value: number | null; quality: Quality }
export interface UpsertResult { inserted: number; updated: number }

/**
 * Idempotent bulk upsert in one statement: a row whose value and quality are unchanged is left
 * alone (no write, no revision); a changed value counts one revision.
 */
export async function upsertObservations(db: Db, rows: ObservationInput[]): Promise<UpsertResult> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  let min = rows[0]!.ts.getTime();
  let max = min;
  for (const r of rows) { const t = r.ts.getTime(); if (t < min) min = t; if (t > max) max = t; }
  await db.query('SELECT ensure_observation_partitions($1, $2)', [new Date(min), new Date(max)]);
  const [res] = await db.query<{ inserted: number; updated: number }>(
    `WITH input AS (
       SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::double precision[], $4::smallint[]) AS t(series_id, ts, value, quality)
     ), existing AS (
       -- partitioned tables expose no xmax: tell inserts from updates by the pre-statement snapshot
       SELECT o.series_id, o.ts FROM observations o JOIN input i ON i.series_id = o.series_id AND i.ts = o.ts
     ), up AS (
       INSERT INTO observations AS o (series_id, ts, value, quality)
       SELECT series_id, ts, value, quality FROM input
       ON CONFLICT (series_id, ts) DO UPDATE
         SET value = EXCLUDED.value, quality = EXCLUDED.quality, ingested_at = now(),
             revisions = o.revisions + CASE WHEN o.value IS DISTINCT FROM EXCLUDED.value THEN 1 ELSE 0 END
         WHERE o.value IS DISTINCT FROM EXCLUDED.value OR o.quality IS DISTINCT FROM EXCLUDED.quality
       RETURNING o.series_id, o.ts
     )
     SELECT count(*) FILTER (WHERE e.ts IS NULL)::integer AS inserted, count(*) FILTER (WHERE e.ts IS NOT NULL)::integer AS updated
     FROM up LEFT JOIN existing e ON e.series_id = up.series_id AND e.ts = up.ts`,
    [rows.map((r) => r.seriesId), rows.map((r) => r.ts.toISOString()), rows.map((r) => r.value), rows.map((r) => QUALITY.indexOf(r.quality))]);
  return { inserted: res!.inserted, updated: res!.updated };
}

export interface ObservationRow { ts: string; value: number | null; quality: Quality }

export async function readObservations(db: Db, seriesId: number, from: Date, to: Date, limit: number, offset: number): Promise<ObservationRow[]> {
  const rows = await db.query<{ ts: Date | string; value: number | null; quality: number }>(
    `SELECT ts, value, quality FROM observations WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4 OFFSET $5`,
    [seriesId, from, to, limit, offset]);
  return rows.map((r) => ({ ts: new Date(r.ts).toISOString(), value: r.value, quality: QUALITY[r.quality] ?? 'good' }));
}
