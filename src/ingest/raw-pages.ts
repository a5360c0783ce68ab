import { gunzipSync, gzipSync } from 'node:zlib';
import type { Db } from '../platform/db.ts';

/** One source page as received: the rows of the response, before any parsing. */
export interface RawPage { route: string; request: string; offset: number; rows: unknown[] }

/** Keeps a page for audit, gzip'd (EIA JSON compresses about tenfold). */
export async function saveRawPage(db: Db, runId: number, page: RawPage): Promise<void> {
  const body = gzipSync(JSON.stringify(page.rows));
  await db.query('INSERT INTO raw_pages (run_id, route, request, page_offset, row_count, body) VALUES ($1, $2, $3, $4, $5, $6)',
    [runId, page.route, page.request, page.offset, page.rows.length, body]);
}

/** A run's raw pages in the order they arrived. */
export async function loadRawPages(db: Db, runId: number): Promise<RawPage[]> {
  const rows = await db.query<{ route: string; request: string; page_offset: number; body: Uint8Array }>(
    'SELECT route, request, page_offset, body FROM raw_pages WHERE run_id = $1 ORDER BY id', [runId]);
  return rows.map((r) => ({ route: r.route, request: r.request, offset: r.page_offset, rows: JSON.parse(gunzipSync(r.body).toString('utf8')) as unknown[] }));
}

/** Drops raw pages stored more than `retentionDays` ago (by the database clock); returns how many went. */
export async function pruneRawPages(db: Db, retentionDays: number): Promise<number> {
  const [r] = await db.query<{ n: number }>(
    `WITH gone AS (DELETE FROM raw_pages WHERE created_at < now() - make_interval(days => $1) RETURNING 1) SELECT count(*)::integer AS n FROM gone`,
    [retentionDays]);
  return r!.n;
}
