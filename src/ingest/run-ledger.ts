import type { Db } from '../platform/db.ts';

export interface RunTotals { fetched: number; inserted: number; updated: number; rejected: number; requests: number; retries: number; errors: string[] }

export async function startRun(db: Db, kind: string, source: string, params: unknown): Promise<number> {
  const [r] = await db.query<{ id: number }>('INSERT INTO ingest_runs (kind, source, params) VALUES ($1, $2, $3) RETURNING id', [kind, source, JSON.stringify(params)]);
  return r!.id;
}

export async function finishRun(db: Db, id: number, t: RunTotals): Promise<void> {
  const status = t.errors.length === 0 ? 'succeeded' : t.inserted + t.updated > 0 ? 'partial' : 'failed';
  await db.query(
    `UPDATE ingest_runs SET status = $2, finished_at = now(), rows_fetched = $3, rows_inserted = $4, rows_updated = $5,
       rows_rejected = $6, requests = $7, retries = $8, errors = $9 WHERE id = $1`,
    [id, status, t.fetched, t.inserted, t.updated, t.rejected, t.requests, t.retries, JSON.stringify(t.errors)]);
}

export function listRuns(db: Db, limit: number): Promise<Record<string, unknown>[]> {
  return db.query(`SELECT id, kind, source, params, status, started_at AS "startedAt", finished_at AS "finishedAt",
      rows_fetched AS "rowsFetched", rows_inserted AS "rowsInserted", rows_updated AS "rowsUpdated",
      rows_rejected AS "rowsRejected", requests, retries, errors
    FROM ingest_runs ORDER BY id DESC LIMIT $1`, [limit]);
}
