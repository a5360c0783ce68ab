import type { Db } from '../platform/db.ts';

export const QUALITY = ['good', 'estimated', 'missing', 'anomalous'] as const;
export type Quality = (typeof QUALITY)[number];

export interface ObservationInput { seriesId: number; ts: Date; value: number | null; quality: Quality }
export interface UpsertResult { inserted: number; updated: number }

/** Which way rows reach the merge: parameter arrays, or COPY into a staging table. */
export type UpsertPath = 'auto' | 'unnest' | 'copy';

/**
 * Batches at least this large take the COPY path. bench/upsert.ts measures the crossover: on
 * PostgreSQL COPY wins from about 200 rows, by 1.3-2× at 500 and 4-18× from 5,000 rows; on
 * PGlite, COPY from a blob loads 50,000 new rows about three times faster than unnest.
 */
export const COPY_THRESHOLD = 500;

/**
 * Idempotent bulk upsert (small batches as one statement over parameter arrays, large ones by
 * COPY, with the same outcome and counts either way): a row whose value and quality are unchanged is
 * left alone (no write, no revision); a changed value counts one revision, a changed quality alone
 * rewrites the row without one. Keys must be unique within a batch (PointStore dedupes): a batch
 * that repeats a new key is refused.
 */
export async function upsertObservations(db: Db, rows: ObservationInput[], opts: { path?: UpsertPath } = {}): Promise<UpsertResult> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  const bounds = timeBounds(rows);
  await db.query('SELECT ensure_observation_partitions($1, $2)', bounds);
  const path = opts.path ?? 'auto';
  const useCopy = path === 'copy' || (path === 'auto' && rows.length >= COPY_THRESHOLD);
  return useCopy ? mergeViaCopy(db, rows, bounds) : mergeViaUnnest(db, rows);
}

function timeBounds(rows: ObservationInput[]): [Date, Date] {
  let min = rows[0]!.ts.getTime();
  let max = min;
  for (const r of rows) { const t = r.ts.getTime(); if (t < min) min = t; if (t > max) max = t; }
  return [new Date(min), new Date(max)];
}

/** The revision rule, shared by both paths: a changed value counts a revision, a changed quality only rewrites. */
const UPDATE_CHANGED = `ON CONFLICT (series_id, ts) DO UPDATE
  SET value = EXCLUDED.value, quality = EXCLUDED.quality, ingested_at = now(),
      revisions = o.revisions + CASE WHEN o.value IS DISTINCT FROM EXCLUDED.value THEN 1 ELSE 0 END
  WHERE o.value IS DISTINCT FROM EXCLUDED.value OR o.quality IS DISTINCT FROM EXCLUDED.quality`;

/** The one merge statement, reading its rows from `input` (series_id, ts, value, quality). */
function mergeSql(input: string): string {
  return `WITH input AS (${input}
     ), existing AS (
       -- partitioned tables expose no xmax: tell inserts from updates by the pre-statement snapshot
       SELECT o.series_id, o.ts FROM observations o JOIN input i ON i.series_id = o.series_id AND i.ts = o.ts
     ), up AS (
       INSERT INTO observations AS o (series_id, ts, value, quality)
       SELECT series_id, ts, value, quality FROM input
       ${UPDATE_CHANGED}
       RETURNING o.series_id, o.ts
     )
     SELECT count(*) FILTER (WHERE e.ts IS NULL)::integer AS inserted, count(*) FILTER (WHERE e.ts IS NOT NULL)::integer AS updated
     FROM up LEFT JOIN existing e ON e.series_id = up.series_id AND e.ts = up.ts`;
}

async function mergeViaUnnest(db: Db, rows: ObservationInput[]): Promise<UpsertResult> {
  const [res] = await db.query<UpsertResult>(
    mergeSql('SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::double precision[], $4::smallint[]) AS t(series_id, ts, value, quality)'),
    [rows.map((r) => r.seriesId), rows.map((r) => r.ts.toISOString()), rows.map((r) => r.value), rows.map((r) => QUALITY.indexOf(r.quality))]);
  return { inserted: res!.inserted, updated: res!.updated };
}

/**
 * The COPY path. When none of the batch's series has a row in its time range (a backfill, or the
 * first fetch of new hours) the rows are COPYed straight into observations. Otherwise they are
 * COPYed into a transaction-local staging table and merged by one statement that looks each row
 * up once: new keys take a plain INSERT (half the cost of ON CONFLICT's speculative insertion),
 * rows equal to the stored ones (as the statement's snapshot sees them) are dropped, and changed
 * rows take the same ON CONFLICT update as the unnest path, which re-checks the difference against
 * the row as it is by then. A key inserted concurrently after our snapshot, or a key repeated
 * within the batch, makes a plain insert fail with a unique violation: the batch then falls
 * through to the classic merge, which resolves the first and refuses the second. The staging table is dropped at the end, so several
 * batches can share one outer transaction.
 */
async function mergeViaCopy(db: Db, rows: ObservationInput[], bounds: [Date, Date]): Promise<UpsertResult> {
  return db.transaction(async (tx) => {
    if (!(await anyRowInRange(tx, rows, bounds)) && (await copyStraightIn(tx, rows))) return { inserted: rows.length, updated: 0 };
    await tx.query(`CREATE TEMP TABLE observation_stage (series_id integer, ts timestamptz, value double precision, quality smallint) ON COMMIT DROP`);
    await tx.copyInto('observation_stage', COLUMNS, stageRows(rows));
    let res: UpsertResult | undefined;
    try {
      [res] = await tx.transaction((sp) => sp.query<UpsertResult>(SPLIT_MERGE, bounds));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      [res] = await tx.query<UpsertResult>(mergeSql('SELECT series_id, ts, value, quality FROM observation_stage'));
    }
    await tx.query('DROP TABLE observation_stage');
    return { inserted: res!.inserted, updated: res!.updated };
  });
}

const COLUMNS = ['series_id', 'ts', 'value', 'quality'] as const;

async function anyRowInRange(db: Db, rows: ObservationInput[], [from, to]: [Date, Date]): Promise<boolean> {
  const ids = [...new Set(rows.map((r) => r.seriesId))];
  const [row] = await db.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM observations WHERE series_id = ANY ($1::integer[]) AND ts BETWEEN $2 AND $3) AS found', [ids, from, to]);
  return row!.found;
}

/**
 * False (and nothing written) when the COPY failed: a key was inserted since the probe, or the
 * batch repeats one. postgres.js cannot say why a COPY failed, so any failure takes the staged
 * path, whose plain statements report a lasting problem with its real reason.
 */
async function copyStraightIn(db: Db, rows: ObservationInput[]): Promise<boolean> {
  try {
    await db.transaction((sp) => sp.copyInto('observations', COLUMNS, stageRows(rows)));
    return true;
  } catch {
    return false;
  }
}

const isUniqueViolation = (err: unknown) => (err as { code?: string } | null)?.code === '23505';

/** $1, $2: the batch's first and last hour, so that only the partitions it touches are searched. */
const SPLIT_MERGE = `WITH staged AS MATERIALIZED (
    SELECT s.series_id, s.ts, s.value, s.quality, o.ts IS NOT NULL AS existed,
           o.value IS NOT DISTINCT FROM s.value AND o.quality = s.quality AS unchanged
    FROM observation_stage s
    LEFT JOIN observations o ON o.series_id = s.series_id AND o.ts = s.ts AND o.ts BETWEEN $1 AND $2
  ), fresh AS (
    INSERT INTO observations (series_id, ts, value, quality)
    SELECT series_id, ts, value, quality FROM staged WHERE NOT existed
    RETURNING 1
  ), revised AS (
    INSERT INTO observations AS o (series_id, ts, value, quality)
    SELECT series_id, ts, value, quality FROM staged WHERE existed AND NOT unchanged
    ${UPDATE_CHANGED}
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM fresh)::integer AS inserted, (SELECT count(*) FROM revised)::integer AS updated`;

function* stageRows(rows: ObservationInput[]): Generator<[number, Date, number | null, number]> {
  for (const r of rows) {
    // checked here because a COPY that the server rejects loses its reason on postgres.js
    if (!Number.isInteger(r.seriesId)) throw new TypeError(`seriesId must be an integer, got ${r.seriesId}`);
    yield [r.seriesId, r.ts, r.value, QUALITY.indexOf(r.quality)];
  }
}

export interface ObservationRow { ts: string; value: number | null; quality: Quality }

/**
 * One page of a series over [from, to). The server formats `ts` as the API's ISO instant, which
 * spares decoding each row's timestamp into a Date and back (a quarter of a 30-day read's median,
 * bench/query.ts).
 */
export async function readObservations(db: Db, seriesId: number, from: Date, to: Date, limit: number, offset: number): Promise<ObservationRow[]> {
  const rows = await db.query<{ ts: string; value: number | null; quality: number }>(
    `SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts, value, quality
       FROM observations WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY observations.ts LIMIT $4 OFFSET $5`,
    [seriesId, from, to, limit, offset]);
  return rows.map((r) => ({ ts: r.ts, value: r.value, quality: QUALITY[r.quality] ?? 'good' }));
}
