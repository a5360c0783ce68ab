import type { Db } from '../platform/db.ts';
import { ownerGone, thisProcess, type ProcessOwner } from '../platform/process-owner.ts';
import { addReason, type StoreCounts } from './store-points.ts';

// JSON goes into the jsonb columns as text cast to jsonb: handed to a jsonb parameter as is, the
// PostgreSQL driver encodes the (already JSON) string once more and stores a jsonb string, not the object.

/**
 * A run's counts. `rejected` includes `conflicting` (rows refused because one batch gave their
 * series and hour different values); `duplicates` are exact repeats stored once, not rejections;
 * `reasons` counts the rejected rows by reason. The last three are absent for runs that cannot have them.
 */
export interface RunTotals {
  fetched: number; inserted: number; updated: number; rejected: number; requests: number; retries: number; errors: string[];
  duplicates?: number; conflicting?: number; reasons?: Record<string, number>;
}

/** Adds one stored batch's counts to a run's. */
export function tally(t: RunTotals, c: StoreCounts): void {
  t.inserted += c.inserted;
  t.updated += c.updated;
  t.rejected += c.rejected;
  t.duplicates = (t.duplicates ?? 0) + c.duplicates;
  t.conflicting = (t.conflicting ?? 0) + c.conflicting;
  t.reasons ??= {};
  for (const [reason, n] of Object.entries(c.reasons)) addReason(t.reasons, reason, n);
}

/**
 * Records a run as 'running', owned by `owner` (this process by default; null for a run opened on behalf of an
 * off-site worker, whose process cannot be checked from here), so that its death is seen at once (markAbandonedRuns).
 */
export async function startRun(db: Db, kind: string, source: string, params: unknown, owner: ProcessOwner | null = thisProcess()): Promise<number> {
  const [r] = await db.query<{ id: number }>('INSERT INTO ingest_runs (kind, source, params, owner) VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb) RETURNING id',
    [kind, source, JSON.stringify(params), owner ? JSON.stringify(owner) : null]);
  return r!.id;
}

export async function finishRun(db: Db, id: number, t: RunTotals): Promise<void> {
  const status = t.errors.length === 0 ? 'succeeded' : t.inserted + t.updated > 0 ? 'partial' : 'failed';
  await db.query(
    `UPDATE ingest_runs SET status = $2, finished_at = now(), rows_fetched = $3, rows_inserted = $4, rows_updated = $5,
       rows_rejected = $6, requests = $7, retries = $8, errors = $9::text::jsonb, rows_duplicate = $10, rows_conflicting = $11, rejections = $12::text::jsonb WHERE id = $1`,
    [id, status, t.fetched, t.inserted, t.updated, t.rejected, t.requests, t.retries, JSON.stringify(t.errors), t.duplicates ?? 0, t.conflicting ?? 0, JSON.stringify(t.reasons ?? {})]);
}

/** The newest runs, for /api/v1/pipeline/runs; jsonb columns (params, errors, rejections) are stored as JSON objects and arrays on both drivers (see above). */
export function listRuns(db: Db, limit: number): Promise<Record<string, unknown>[]> {
  return db.query<Record<string, unknown>>(`SELECT id, kind, source, params, status, started_at AS "startedAt", finished_at AS "finishedAt",
      rows_fetched AS "rowsFetched", rows_inserted AS "rowsInserted", rows_updated AS "rowsUpdated",
      rows_rejected AS "rowsRejected", rows_duplicate AS "rowsDuplicate", rows_conflicting AS "rowsConflicting", rejections, requests, retries, errors,
      heartbeat_at AS "heartbeatAt", resumed_from AS "resumedFrom"
    FROM ingest_runs ORDER BY id DESC LIMIT $1`, [limit]);
}

/** Running totals and a heartbeat, so a killed run leaves its numbers and can be told from a live one. */
export async function heartbeat(db: Db, id: number, t: RunTotals): Promise<void> {
  await db.query(
    `UPDATE ingest_runs SET heartbeat_at = now(), rows_fetched = $2, rows_inserted = $3, rows_updated = $4, rows_rejected = $5, errors = $6::text::jsonb,
       rows_duplicate = $7, rows_conflicting = $8, rejections = $9::text::jsonb
     WHERE id = $1 AND status = 'running'`,
    [id, t.fetched, t.inserted, t.updated, t.rejected, JSON.stringify(t.errors), t.duplicates ?? 0, t.conflicting ?? 0, JSON.stringify(t.reasons ?? {})]);
}

export async function markResumed(db: Db, id: number, resumedFrom: number): Promise<void> {
  await db.query('UPDATE ingest_runs SET resumed_from = $2 WHERE id = $1', [id, resumedFrom]);
}

export async function recordChunk(db: Db, runId: number, route: string, chunkFrom: Date, rows: number): Promise<void> {
  await db.query('INSERT INTO ingest_chunks (run_id, route, chunk_from, row_count) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [runId, route, chunkFrom, rows]);
}

/** Chunks (`route|ISO start`) finished by a run or by any run it resumed, transitively. */
export async function finishedChunks(db: Db, runId: number): Promise<Set<string>> {
  const rows = await db.query<{ route: string; chunk_from: Date | string }>(
    `WITH RECURSIVE chain AS (
       SELECT id, resumed_from FROM ingest_runs WHERE id = $1
       UNION SELECT r.id, r.resumed_from FROM ingest_runs r JOIN chain c ON r.id = c.resumed_from
     )
     SELECT k.route, k.chunk_from FROM ingest_chunks k JOIN chain c ON c.id = k.run_id`, [runId]);
  return new Set(rows.map((r) => `${r.route}|${new Date(r.chunk_from).toISOString()}`));
}

/**
 * Runs still 'running' whose process is gone become 'partial' or 'failed' with an 'interrupted' error, so the
 * ledger tells the truth and they can be resumed: at once when their owner (process-owner.ts) is certainly
 * dead (killed, crashed, the host rebooted), else once their heartbeat is `staleMinutes` old (an owner on
 * another host, or none recorded). Returns how many were closed.
 */
export async function markAbandonedRuns(db: Db, staleMinutes = 15): Promise<number> {
  const owned = await db.query<{ id: number; owner: unknown }>(`SELECT id, owner FROM ingest_runs WHERE status = 'running' AND owner IS NOT NULL`);
  const dead = owned.filter((r) => ownerGone(r.owner)).map((r) => r.id);
  const [r] = await db.query<{ n: number }>(
    `WITH gone AS (
       UPDATE ingest_runs SET finished_at = now(),
         status = CASE WHEN rows_inserted + rows_updated > 0 THEN 'partial' ELSE 'failed' END,
         errors = errors || jsonb_build_array(CASE WHEN id = ANY ($2::integer[])
           THEN 'interrupted: its process ' || (owner->>'pid') || ' on ' || (owner->>'host') || ' is gone'
           ELSE 'interrupted: no heartbeat since ' || coalesce(heartbeat_at, started_at)::text END)
       WHERE status = 'running' AND (id = ANY ($2::integer[]) OR coalesce(heartbeat_at, started_at) < now() - make_interval(mins => $1))
       RETURNING 1)
     SELECT count(*)::integer AS n FROM gone`, [staleMinutes, dead]);
  return r!.n;
}

/** The newest unfinished (partial, failed) run of a kind with exactly these parameters, if any. */
export async function findResumable(db: Db, kind: string, params: unknown): Promise<number | undefined> {
  const [r] = await db.query<{ id: number }>(
    `SELECT id FROM ingest_runs WHERE kind = $1 AND params = $2::text::jsonb AND status IN ('partial', 'failed') ORDER BY id DESC LIMIT 1`,
    [kind, JSON.stringify(params)]);
  return r?.id;
}

/** Whether run `id` is a run of this kind with exactly these parameters; undefined when there is no such run id. */
export async function hasParams(db: Db, id: number, kind: string, params: unknown): Promise<boolean | undefined> {
  const [r] = await db.query<{ same: boolean }>('SELECT kind = $2 AND params = $3::text::jsonb AS same FROM ingest_runs WHERE id = $1', [id, kind, JSON.stringify(params)]);
  return r?.same;
}
